package registry

import (
	"context"
	"slices"
	"time"
)

// touchQuery sets an account's last_seen to at least $1 (unix seconds);
// $2 is the canonical name.
func touchQuery(d dialect) string {
	return `UPDATE accounts SET last_seen = ` + d.greatest() + `(coalesce(last_seen, $1), $1) WHERE name = $2`
}

// Touch implements Store.
func (s *sqlStore) Touch(ctx context.Context, name string, t time.Time) error {
	if t.IsZero() {
		return invalid("time", "must not be zero")
	}
	key, ok := canonicalName(name)
	if !ok {
		return fail(ErrNotFound, "account not found")
	}
	ctx, cancel := call(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, s.q(touchQuery(s.d)), t.Unix(), key)
	if err != nil {
		return s.wrap("touch account", err)
	}
	return s.affected(res, fail(ErrNotFound, "account not found"), "touch account")
}

// ExpireUnusedAccounts implements Store.
func (s *sqlStore) ExpireUnusedAccounts(ctx context.Context, idle time.Duration, inUse []string) (int, error) {
	if idle <= 0 {
		return 0, invalid("idle", "must be positive")
	}
	keys := make([]string, 0, len(inUse))
	for _, n := range inUse {
		if key, ok := canonicalName(n); ok {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	return s.expire(ctx, idle, keys)
}

// ExpireAccounts implements Store.
func (s *sqlStore) ExpireAccounts(ctx context.Context, idle time.Duration) (int, error) {
	if idle <= 0 {
		return 0, invalid("idle", "must be positive")
	}
	return s.expire(ctx, idle, nil)
}

// expire marks the accounts keys (canonical, sorted, unique) as seen now
// and deletes the accounts idle for longer than idle, in one transaction
// that holds the dialect's expiry lock, with now read once from the
// store's clock inside it.
func (s *sqlStore) expire(ctx context.Context, idle time.Duration, keys []string) (int, error) {
	ctx, cancel := call(ctx)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.wrap("expire accounts", err)
	}
	defer rollback(tx)
	if err := s.d.lockExpiry(ctx, tx); err != nil {
		return 0, s.wrap("expire accounts", err)
	}
	now, err := s.clock(ctx, tx)
	if err != nil {
		return 0, s.wrap("expire accounts", err)
	}
	if len(keys) > 0 {
		if err := s.d.markSeen(ctx, tx, now, keys); err != nil {
			return 0, s.wrap("expire accounts", err)
		}
	}
	cutoff := time.Unix(now, 0).Add(-idle).Unix()
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM accounts WHERE coalesce(last_seen, created_at) < $1`), cutoff)
	if err != nil {
		return 0, s.wrap("expire accounts", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.wrap("expire accounts", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, s.wrap("expire accounts", err)
	}
	return int(n), nil
}

// RunExpiry calls s.ExpireAccounts(ctx, idle) every interval (first call
// one interval after the start) until ctx is done, then returns. Errors go
// to onErr (nil discards them); errors caused by ctx ending are not
// reported. A non-positive every or idle is reported to onErr as a
// *FieldError and RunExpiry returns at once. It uses a time.Ticker, so
// tests can drive it with testing/synctest. Safe to run concurrently with
// other Store methods.
func RunExpiry(ctx context.Context, s Store, every, idle time.Duration, onErr func(error)) {
	report := func(err error) {
		if onErr != nil {
			onErr(err)
		}
	}
	switch {
	case every <= 0:
		report(invalid("every", "must be positive"))
		return
	case idle <= 0:
		report(invalid("idle", "must be positive"))
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.ExpireAccounts(ctx, idle); err != nil && ctx.Err() == nil {
				report(err)
			}
		}
	}
}
