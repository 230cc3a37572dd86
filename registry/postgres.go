package registry

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// DefaultConnectTimeout bounds one connection attempt to PostgreSQL when the
// URL has no connect_timeout parameter.
const DefaultConnectTimeout = 10 * time.Second

// DefaultMaxConns is how many connections one Store keeps open to
// PostgreSQL at most, unless WithMaxConns says otherwise. Account lookups
// are short; a few connections serve thousands of logins a second, and the
// server's max_connections is shared by every instance.
const DefaultMaxConns = 8

// Advisory lock keys (pg_advisory_xact_lock) shared by every instance on
// the database: one serialises schema migrations, the other expiry runs.
const (
	lockKeyMigrate int64 = 0x67707831 // "gpx1"
	lockKeyExpiry  int64 = 0x67707832 // "gpx2"
)

// WithMaxConns sets how many connections OpenPostgres keeps open at most
// (default DefaultMaxConns; n < 1 keeps the default). Open ignores it.
func WithMaxConns(n int) Option {
	return func(o *options) {
		if n >= 1 {
			o.maxConns = n
		}
	}
}

// OpenPostgres opens the PostgreSQL store at rawURL
// ("postgres://user:password@host:5432/db?sslmode=disable", or the
// "postgresql://" scheme; the query may carry any libpq parameter pgx
// understands, e.g. sslmode, connect_timeout, search_path) and migrates its
// schema to the latest version, with the same migrations as Open. Several
// go-proxy instances may open the same database at once: migrations and
// expiry runs are serialised by advisory locks, and everything else is a
// single statement or a short transaction.
//
// The store keeps a pool of at most WithMaxConns connections. A connection
// that breaks (the server restarted or went away) is dropped and a new one
// dialled on the next call, so the store works again without reopening once
// the server is back; meanwhile calls fail with an error, bounded by their
// ctx (and by DefaultCallTimeout and the connect timeout). The store's
// clock is the server's now() unless WithClock says otherwise. ctx bounds
// the opening (connection and migrations) only.
//
// The URL's password never appears in an error: errors name the URL as
// RedactURL prints it.
func OpenPostgres(ctx context.Context, rawURL string, opts ...Option) (Store, error) {
	o := buildOptions(opts)
	if err := ValidatePostgresURL(rawURL); err != nil {
		return nil, err
	}
	scrub := scrubber(rawURL)
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, scrub(errors.New("registry: open " + RedactURL(rawURL) + ": " + err.Error()))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	db := stdlib.OpenDB(*cfg)
	maxConns := o.maxConns
	if maxConns == 0 {
		maxConns = DefaultMaxConns
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &sqlStore{db: db, d: postgresDialect{}, now: o.now, scrub: scrub}
	ctx, cancel := call(ctx)
	defer cancel()
	if err := s.migrate(ctx, o.targetVersion); err != nil {
		_ = db.Close()
		return nil, scrub(errors.New("registry: open " + RedactURL(rawURL) + ": " + strings.TrimPrefix(err.Error(), "registry: ")))
	}
	return s, nil
}

// ValidatePostgresURL checks that rawURL is a postgres:// or postgresql://
// URL with a host. The error is a *FieldError for field "url" and never
// quotes the URL (it may hold a password).
func ValidatePostgresURL(rawURL string) error {
	if rawURL == "" {
		return invalid("url", "must not be empty")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return invalid("url", "must be a valid postgres:// URL")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return invalid("url", "must start with postgres:// or postgresql://")
	}
	if u.Host == "" {
		return invalid("url", "must name a host")
	}
	return nil
}

// RedactURL returns rawURL with its password (in the user info, or a
// password or sslpassword query parameter) replaced by Redacted, for logs
// and error messages. A string that does not parse as a URL is replaced
// whole by Redacted, since it cannot be told where a password would be.
// It is a pure function, safe for concurrent use.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Redacted
	}
	_, hasPassword := u.User.Password()
	if hasPassword {
		u.User = url.User(u.User.Username())
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, part := range parts {
			key, _, _ := strings.Cut(part, "=")
			if k, err := url.QueryUnescape(key); err == nil && isPasswordParam(k) {
				parts[i] = key + "=" + Redacted
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	out := u.String()
	if hasPassword {
		// u.String would percent-encode the mask; put it in by hand after
		// the user name (escaped, so the first '@' ends the user info).
		at := strings.Index(out, "@")
		out = out[:at] + ":" + Redacted + out[at:]
	}
	return out
}

func isPasswordParam(key string) bool {
	k := strings.ToLower(key)
	return k == "password" || k == "sslpassword"
}

// urlSecrets returns the passwords rawURL carries, raw and escaped, for
// scrubbing error texts.
func urlSecrets(rawURL string) []string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil
	}
	var out []string
	add := func(p string) {
		if p != "" {
			out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
		}
	}
	if p, ok := u.User.Password(); ok {
		add(p)
	}
	for key, vs := range u.Query() {
		if isPasswordParam(key) {
			for _, v := range vs {
				add(v)
			}
		}
	}
	return out
}

// scrubber returns a function that replaces an error whose text contains a
// password of rawURL with a plain error whose text has it masked. Errors
// without the password pass unchanged, so errors.Is still sees their
// causes (context.DeadlineExceeded, ...).
func scrubber(rawURL string) func(error) error {
	secrets := urlSecrets(rawURL)
	return func(err error) error {
		if err == nil || len(secrets) == 0 {
			return err
		}
		msg := err.Error()
		clean := msg
		for _, s := range secrets {
			clean = strings.ReplaceAll(clean, s, Redacted)
		}
		if clean == msg {
			return err
		}
		return errors.New(clean)
	}
}

// postgresDialect is PostgreSQL through pgx's database/sql driver.
type postgresDialect struct{}

func (postgresDialect) rebind(query string) string { return rebindDollar(query) }
func (postgresDialect) greatest() string           { return "greatest" }
func (postgresDialect) byteOrder() string          { return ` COLLATE "C"` }

func (postgresDialect) isDuplicate(err error) bool  { return pgCode(err) == "23505" }
func (postgresDialect) isForeignKey(err error) bool { return pgCode(err) == "23503" }

func (postgresDialect) migrations() []migration { return postgresMigrations() }

func (postgresDialect) lockSchema(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKeyMigrate); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS registry_schema (
		id      BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
		version INTEGER NOT NULL
	)`)
	return err
}

func (postgresDialect) schemaVersion(ctx context.Context, q queryer) (int, error) {
	var exists bool
	if err := q.QueryRowContext(ctx, `SELECT to_regclass('registry_schema') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, nil
	}
	var v int
	err := q.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM registry_schema`).Scan(&v)
	return v, err
}

func (postgresDialect) setSchemaVersion(ctx context.Context, tx *sql.Tx, v int) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO registry_schema (id, version) VALUES (true, $1)
		ON CONFLICT (id) DO UPDATE SET version = excluded.version`, v)
	return err
}

func (postgresDialect) lockExpiry(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKeyExpiry)
	return err
}

func (d postgresDialect) markSeen(ctx context.Context, tx *sql.Tx, now int64, keys []string) error {
	_, err := tx.ExecContext(ctx,
		`UPDATE accounts SET last_seen = greatest(coalesce(last_seen, $1), $1) WHERE name = ANY($2)`,
		now, keys)
	return err
}

func (postgresDialect) putSessions(ctx context.Context, tx *sql.Tx, now, expires int64, ids, accounts []string) (int64, error) {
	// One statement for the whole list (an instance refreshes all its
	// miners' sessions at once); sessions of deleted accounts are skipped.
	res, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, account, written_at, expires_at)
		SELECT u.id, a.name, $3, $4 FROM unnest($1::text[], $2::text[]) AS u(id, account)
		JOIN accounts a ON a.name = u.account
		ON CONFLICT (id) DO UPDATE SET
			account = excluded.account, written_at = excluded.written_at, expires_at = excluded.expires_at`,
		ids, accounts, now, expires)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (postgresDialect) serverNow(ctx context.Context, q queryer) (int64, bool, error) {
	var now int64
	err := q.QueryRowContext(ctx, `SELECT CAST(floor(extract(epoch FROM now())) AS BIGINT)`).Scan(&now)
	return now, err == nil, err
}

// pgCode returns the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
