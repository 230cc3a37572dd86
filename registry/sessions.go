package registry

import (
	"context"
	"database/sql"
	"errors"
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
