package registry

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on the pool credentials an account stores.
const (
	MaxUserLen     = 256 // bytes
	MaxPasswordLen = 256 // bytes
)

// Account is the public view of a registered account. It has no password
// field: the password leaves the store only through Store.Credentials. It is
// a plain value; copies may be read from any goroutine.
type Account struct {
	Name      string    `json:"name"`               // random id, see NameLength
	Pool      string    `json:"pool"`               // normalised host:port
	User      string    `json:"user"`               // pool login
	Algorithm string    `json:"algorithm"`          // the pool's algorithm
	Divider   float64   `json:"divider"`            // the algorithm's divider
	Family    string    `json:"family"`             // the pool's family
	CreatedAt time.Time `json:"created_at"`         // UTC, whole seconds
	LastSeen  time.Time `json:"last_seen,omitzero"` // UTC; zero if never touched
}

// accountColumns are an Account's columns in the order scanAccount reads
// them; accountFrom joins each account with its pool and algorithm.
const (
	accountColumns = `a.name, a.pool, a.pool_user, p.algorithm, al.divider, p.family, a.created_at, a.last_seen`
	accountFrom    = ` FROM accounts a
		JOIN pools p ON p.address = a.pool
		JOIN algorithms al ON al.name = p.algorithm`
)

type scanner interface{ Scan(dest ...any) error }

func scanAccount(row scanner, extra ...any) (Account, error) {
	var (
		a        Account
		created  int64
		lastSeen sql.NullInt64
	)
	dest := append([]any{&a.Name, &a.Pool, &a.User, &a.Algorithm, &a.Divider, &a.Family, &created, &lastSeen}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Account{}, err
	}
	a.CreatedAt = time.Unix(created, 0).UTC()
	if lastSeen.Valid {
		a.LastSeen = time.Unix(lastSeen.Int64, 0).UTC()
	}
	return a, nil
}

// CreateAccount implements Store.
func (s *sqlStore) CreateAccount(ctx context.Context, pool, user, password string) (Account, error) {
	addr, err := normalizeAddress("pool", pool)
	if err != nil {
		return Account{}, err
	}
	if user == "" {
		return Account{}, invalid("user", "must not be empty")
	}
	if err := validateText("user", user, MaxUserLen); err != nil {
		return Account{}, err
	}
	if err := validateText("password", password, MaxPasswordLen); err != nil {
		return Account{}, err
	}
	name, err := newName()
	if err != nil {
		return Account{}, err
	}
	ctx, cancel := call(ctx)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Account{}, s.wrap("create account", err)
	}
	defer rollback(tx)
	created, err := s.clock(ctx, tx)
	if err != nil {
		return Account{}, s.wrap("create account", err)
	}
	a := Account{Name: name, Pool: addr, User: user, CreatedAt: time.Unix(created, 0).UTC()}
	err = tx.QueryRowContext(ctx, s.q(
		`SELECT p.family, p.algorithm, al.divider
		FROM pools p JOIN algorithms al ON al.name = p.algorithm
		WHERE p.address = $1`), addr).Scan(&a.Family, &a.Algorithm, &a.Divider)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, fail(ErrUnknownPool, "unknown pool %q", addr)
	}
	if err != nil {
		return Account{}, s.wrap("create account", err)
	}
	_, err = tx.ExecContext(ctx, s.q(
		`INSERT INTO accounts (name, pool, pool_user, pool_password, created_at) VALUES ($1, $2, $3, $4, $5)`),
		name, addr, user, password, created)
	switch {
	case s.d.isDuplicate(err):
		// 128 random bits: only a broken random source gets here.
		return Account{}, fail(ErrConflict, "create account: generated name already exists")
	case s.d.isForeignKey(err):
		// The pool was deleted (by another instance) since the SELECT.
		return Account{}, fail(ErrUnknownPool, "unknown pool %q", addr)
	case err != nil:
		return Account{}, s.wrap("create account", err)
	}
	if err := tx.Commit(); err != nil {
		return Account{}, s.wrap("create account", err)
	}
	return a, nil
}

// Account implements Store.
func (s *sqlStore) Account(ctx context.Context, name string) (Account, error) {
	key, ok := canonicalName(name)
	if !ok {
		return Account{}, fail(ErrNotFound, "account not found")
	}
	ctx, cancel := call(ctx)
	defer cancel()
	a, err := scanAccount(s.db.QueryRowContext(ctx, s.q(`SELECT `+accountColumns+accountFrom+` WHERE a.name = $1`), key))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, fail(ErrNotFound, "account not found")
	}
	if err != nil {
		return Account{}, s.wrap("get account", err)
	}
	return a, nil
}

// Credentials implements Store.
func (s *sqlStore) Credentials(ctx context.Context, name string) (Credentials, error) {
	key, ok := canonicalName(name)
	if !ok {
		return Credentials{}, fail(ErrNotFound, "account not found")
	}
	ctx, cancel := call(ctx)
	defer cancel()
	var password string
	a, err := scanAccount(s.db.QueryRowContext(ctx, s.q(
		`SELECT `+accountColumns+`, a.pool_password`+accountFrom+` WHERE a.name = $1`), key), &password)
	if errors.Is(err, sql.ErrNoRows) {
		return Credentials{}, fail(ErrNotFound, "account not found")
	}
	if err != nil {
		return Credentials{}, s.wrap("get credentials", err)
	}
	return Credentials{
		Name:      a.Name,
		Pool:      a.Pool,
		User:      a.User,
		Password:  password,
		Algorithm: a.Algorithm,
		Divider:   a.Divider,
		Family:    a.Family,
	}, nil
}

// DeleteAccount implements Store.
func (s *sqlStore) DeleteAccount(ctx context.Context, name string) error {
	key, ok := canonicalName(name)
	if !ok {
		return fail(ErrNotFound, "account not found")
	}
	ctx, cancel := call(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM accounts WHERE name = $1`), key)
	if err != nil {
		return s.wrap("delete account", err)
	}
	return s.affected(res, fail(ErrNotFound, "account not found"), "delete account")
}

// ListAccounts implements Store.
func (s *sqlStore) ListAccounts(ctx context.Context, limit, offset int) ([]Account, error) {
	if limit < 1 {
		return nil, invalid("limit", "must be at least 1")
	}
	if offset < 0 {
		return nil, invalid("offset", "must not be negative")
	}
	ctx, cancel := call(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, s.q(
		`SELECT `+accountColumns+accountFrom+` ORDER BY a.created_at, a.name LIMIT $1 OFFSET $2`), limit, offset)
	if err != nil {
		return nil, s.wrap("list accounts", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, s.wrap("list accounts", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list accounts", err)
	}
	return out, nil
}

// CountAccounts implements Store.
func (s *sqlStore) CountAccounts(ctx context.Context) (int, error) {
	ctx, cancel := call(ctx)
	defer cancel()
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
		return 0, s.wrap("count accounts", err)
	}
	return n, nil
}

// validateText checks that s is valid UTF-8 of at most max bytes whose every
// rune is printable (unicode.IsPrint: letters, marks, numbers, punctuation,
// symbols and the ASCII space; no control or other space characters). The
// error never quotes s.
func validateText(field, s string, max int) error {
	if len(s) > max {
		return invalid(field, "must be at most "+strconv.Itoa(max)+" bytes")
	}
	if !utf8.ValidString(s) {
		return invalid(field, "must be valid UTF-8")
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return invalid(field, "must contain only printable characters")
		}
	}
	return nil
}
