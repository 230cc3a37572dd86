package registry

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"time"
)

// MaxSessionIDLen caps an SV1 subscription id kept by PutSession.
const MaxSessionIDLen = 64

// validateSessionID checks that id is 1 to MaxSessionIDLen printable ASCII
// characters without space ('!' to '~'). The error never quotes id.
func validateSessionID(id string) error {
	if id == "" {
		return invalid("session", "must not be empty")
	}
	if len(id) > MaxSessionIDLen {
		return invalid("session", "must be at most "+strconv.Itoa(MaxSessionIDLen)+" bytes")
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < '!' || c > '~' {
			return invalid("session", "must contain only printable ASCII characters without space")
		}
	}
	return nil
}

// PutSession implements Store.
func (s *sqlStore) PutSession(ctx context.Context, subID, account string, ttl time.Duration) error {
	if err := validateSessionID(subID); err != nil {
		return err
	}
	if ttl < time.Second {
		return invalid("ttl", "must be at least one second")
	}
	key, ok := canonicalName(account)
	if !ok {
		return fail(ErrNotFound, "account not found")
	}
	secs := int64((ttl + time.Second - 1) / time.Second)
	ctx, cancel := call(ctx)
	defer cancel()
	now, err := s.clock(ctx, s.db)
	if err != nil {
		return s.wrap("put session", err)
	}
	_, err = s.db.ExecContext(ctx, s.q(
		`INSERT INTO sessions (id, account, written_at, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET
			account = excluded.account, written_at = excluded.written_at, expires_at = excluded.expires_at`),
		subID, key, now, now+secs)
	if s.d.isForeignKey(err) {
		return fail(ErrNotFound, "account not found")
	}
	if err != nil {
		return s.wrap("put session", err)
	}
	return nil
}

// LookupSession implements Store.
func (s *sqlStore) LookupSession(ctx context.Context, subID string) (string, error) {
	if validateSessionID(subID) != nil {
		return "", fail(ErrNotFound, "session not found")
	}
	ctx, cancel := call(ctx)
	defer cancel()
	now, err := s.clock(ctx, s.db)
	if err != nil {
		return "", s.wrap("lookup session", err)
	}
	var account string
	err = s.db.QueryRowContext(ctx, s.q(
		`SELECT account FROM sessions WHERE id = $1 AND expires_at > $2`), subID, now).Scan(&account)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fail(ErrNotFound, "session not found")
	}
	if err != nil {
		return "", s.wrap("lookup session", err)
	}
	return account, nil
}

// DeleteSession implements Store.
func (s *sqlStore) DeleteSession(ctx context.Context, subID string) error {
	if validateSessionID(subID) != nil {
		return fail(ErrNotFound, "session not found")
	}
	ctx, cancel := call(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE id = $1`), subID)
	if err != nil {
		return s.wrap("delete session", err)
	}
	return s.affected(res, fail(ErrNotFound, "session not found"), "delete session")
}

// ExpireSessions implements Store.
func (s *sqlStore) ExpireSessions(ctx context.Context) (int, error) {
	ctx, cancel := call(ctx)
	defer cancel()
	now, err := s.clock(ctx, s.db)
	if err != nil {
		return 0, s.wrap("expire sessions", err)
	}
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE expires_at <= $1`), now)
	if err != nil {
		return 0, s.wrap("expire sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.wrap("expire sessions", err)
	}
	return int(n), nil
}

// SessionEntry is one subscription id and the account it belongs to, for
// PutSessions.
type SessionEntry struct {
	ID, Account string
}

// PutSessions implements Store.
func (s *sqlStore) PutSessions(ctx context.Context, entries []SessionEntry, ttl time.Duration) (int, error) {
	if ttl < time.Second {
		return 0, invalid("ttl", "must be at least one second")
	}
	// One row per id (the last entry wins), well-formed ids and names only.
	byID := make(map[string]string, len(entries))
	for _, e := range entries {
		key, ok := canonicalName(e.Account)
		if !ok || validateSessionID(e.ID) != nil {
			continue
		}
		byID[e.ID] = key
	}
	if len(byID) == 0 {
		return 0, nil
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids) // rows locked in one order by every instance
	accts := make([]string, len(ids))
	for i, id := range ids {
		accts[i] = byID[id]
	}
	secs := int64((ttl + time.Second - 1) / time.Second)
	ctx, cancel := call(ctx)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.wrap("put sessions", err)
	}
	defer rollback(tx)
	now, err := s.clock(ctx, tx)
	if err != nil {
		return 0, s.wrap("put sessions", err)
	}
	n, err := s.d.putSessions(ctx, tx, now, now+secs, ids, accts)
	if err != nil {
		return 0, s.wrap("put sessions", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, s.wrap("put sessions", err)
	}
	return int(n), nil
}

// putSessionsQuery writes one session ($1 id, $2 canonical account name,
// $3 now, $4 expiry) if its account exists, keeping reconnected_at.
const putSessionsQuery = `INSERT INTO sessions (id, account, written_at, expires_at)
	SELECT $1, name, $3, $4 FROM accounts WHERE name = $2
	ON CONFLICT (id) DO UPDATE SET
		account = excluded.account, written_at = excluded.written_at, expires_at = excluded.expires_at`

// MarkReconnect implements Store.
func (s *sqlStore) MarkReconnect(ctx context.Context, subID string, window time.Duration) (bool, error) {
	if window < time.Second {
		return false, invalid("window", "must be at least one second")
	}
	if validateSessionID(subID) != nil {
		return false, nil
	}
	secs := int64(window / time.Second)
	ctx, cancel := call(ctx)
	defer cancel()
	now, err := s.clock(ctx, s.db)
	if err != nil {
		return false, s.wrap("mark reconnect", err)
	}
	// One statement: of two instances marking the same id at once, the
	// row lock lets one through and the other sees its mark.
	res, err := s.db.ExecContext(ctx, s.q(
		`UPDATE sessions SET reconnected_at = $1
		WHERE id = $2 AND expires_at > $1 AND (reconnected_at IS NULL OR reconnected_at <= $3)`),
		now, subID, now-secs)
	if err != nil {
		return false, s.wrap("mark reconnect", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.wrap("mark reconnect", err)
	}
	return n == 1, nil
}
