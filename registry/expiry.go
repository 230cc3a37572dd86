package registry

import (
	"context"
	"fmt"
	"time"
)

// Touch records that the account called name (case-insensitive) was active
// at t; the proxy calls it on authorize and on disconnect, not per share.
// last_seen never moves backwards, so late or reordered calls are harmless.
// It fails with ErrNotFound for an unknown account and with a *FieldError
// for a zero t. Safe for concurrent use.
func (s *Store) Touch(ctx context.Context, name string, t time.Time) error {
	if t.IsZero() {
		return invalid("time", "must not be zero")
	}
	key, ok := canonicalName(name)
	if !ok {
		return fail(ErrNotFound, "account not found")
	}
	res, err := s.db.ExecContext(ctx,
		`UPDATE accounts SET last_seen = max(coalesce(last_seen, ?1), ?1) WHERE name = ?2`,
		t.Unix(), key)
	if err != nil {
		return fmt.Errorf("registry: touch account: %w", err)
	}
	return affected(res, fail(ErrNotFound, "account not found"), "touch account")
}

// ExpireUnusedAccounts is ExpireAccounts for a proxy with miners
// connected: in one transaction it first records the accounts named in
// inUse (case-insensitive; the accounts the connected miners use) as seen
// now, by the Store's clock, then deletes every account idle for longer
// than idle. last_seen is otherwise written only when a miner authorizes
// or leaves, so without this an account whose miner stays connected for
// longer than idle would be deleted under it. Names that are not accounts
// are skipped. It returns how many accounts it deleted. idle must be
// positive. Safe for concurrent use.
func (s *Store) ExpireUnusedAccounts(ctx context.Context, idle time.Duration, inUse []string) (int, error) {
	if idle <= 0 {
		return 0, invalid("idle", "must be positive")
	}
	keys := make(map[string]bool, len(inUse))
	for _, n := range inUse {
		if key, ok := canonicalName(n); ok {
			keys[key] = true
		}
	}
	now := s.now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("registry: expire accounts: %w", err)
	}
	if len(keys) > 0 {
		stmt, err := tx.PrepareContext(ctx,
			`UPDATE accounts SET last_seen = max(coalesce(last_seen, ?1), ?1) WHERE name = ?2`)
		if err != nil {
			rollback(tx)
			return 0, fmt.Errorf("registry: expire accounts: %w", err)
		}
		for key := range keys {
			if _, err := stmt.ExecContext(ctx, now.Unix(), key); err != nil {
				rollback(tx)
				return 0, fmt.Errorf("registry: expire accounts: %w", err)
			}
		}
	}
	res, err := tx.ExecContext(ctx,
		`DELETE FROM accounts WHERE coalesce(last_seen, created_at) < ?`, now.Add(-idle).Unix())
	if err != nil {
		rollback(tx)
		return 0, fmt.Errorf("registry: expire accounts: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		rollback(tx)
		return 0, fmt.Errorf("registry: expire accounts: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("registry: expire accounts: %w", err)
	}
	return int(n), nil
}

// ExpireAccounts deletes every account idle for longer than idle: its
// last_seen, or its created_at if it was never touched, is before now−idle
// (now from the Store's clock, time.Now by default). It returns how many
// accounts it deleted. idle must be positive. Safe for concurrent use.
func (s *Store) ExpireAccounts(ctx context.Context, idle time.Duration) (int, error) {
	if idle <= 0 {
		return 0, invalid("idle", "must be positive")
	}
	cutoff := s.now().Add(-idle).Unix()
	res, err := s.db.ExecContext(ctx,
		`DELETE FROM accounts WHERE coalesce(last_seen, created_at) < ?`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("registry: expire accounts: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("registry: expire accounts: %w", err)
	}
	return int(n), nil
}

// RunExpiry calls ExpireAccounts(ctx, idle) every interval (first call one
// interval after the start) until ctx is done, then returns. Errors go to
// onErr (nil discards them); errors caused by ctx ending are not reported.
// A non-positive every or idle is reported to onErr as a *FieldError and
// RunExpiry returns at once. It uses a time.Ticker, so tests can drive it
// with testing/synctest. Safe to run concurrently with other Store methods.
func (s *Store) RunExpiry(ctx context.Context, every, idle time.Duration, onErr func(error)) {
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
