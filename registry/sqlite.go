package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DefaultBusyTimeout is how long an SQLite statement waits for another
// writer's lock before failing with SQLITE_BUSY, unless WithBusyTimeout says
// otherwise.
const DefaultBusyTimeout = 5 * time.Second

// fileMode is the permission of the database file and its -wal/-shm
// companions: they hold pool passwords, so only the owner may read them.
const fileMode os.FileMode = 0o600

// MaxOpenConns bounds the SQLite store's database connections (three open
// files each: the database, its -wal and its -shm); calls beyond it wait.
const MaxOpenConns = 4

// Open opens the embedded SQLite store at path, creating the file with mode
// 0600 if it does not exist, and migrates its schema to the latest version.
// An existing file (or -wal/-shm file) readable by group or others is
// chmod-ed to 0600. The database runs in WAL mode with foreign keys on and a
// busy timeout, and transactions start with BEGIN IMMEDIATE, so concurrent
// writers wait for each other instead of failing. The store's clock is
// time.Now unless WithClock says otherwise. The returned Store is safe for
// concurrent use; call Close when done.
func Open(path string, opts ...Option) (Store, error) {
	o := buildOptions(opts)
	if o.busyTimeout < time.Millisecond {
		return nil, invalid("busy timeout", "must be at least 1ms")
	}
	if path == "" {
		return nil, invalid("path", "must not be empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("registry: open: %w", err)
	}
	if err := prepareFiles(abs); err != nil {
		return nil, fmt.Errorf("registry: open: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(abs, o.busyTimeout))
	if err != nil {
		return nil, fmt.Errorf("registry: open: %w", err)
	}
	// Each connection holds the database, -wal and -shm files open; a
	// burst of lookups (miners authorizing at once) must not open them
	// without bound: they come out of the proxy's descriptor budget.
	db.SetMaxOpenConns(MaxOpenConns)
	s := &sqlStore{db: db, d: sqliteDialect{}, now: o.now}
	if err := s.migrate(context.Background(), o.targetVersion); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// prepareFiles creates the database file with mode 0600 if it is missing and
// tightens the mode of an existing database, WAL or shared-memory file that
// group or others could read. SQLite gives new -wal and -shm files the mode
// of the database file, so they inherit 0600.
func prepareFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	switch {
	case err == nil:
		// The umask may have cleared bits; set the mode exactly.
		if err := f.Chmod(fileMode); err != nil {
			_ = f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	case !errors.Is(err, os.ErrExist):
		return err
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", name)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(name, fileMode); err != nil {
				return err
			}
		}
	}
	return nil
}

// dsn builds a modernc.org/sqlite URI for path. Every pooled connection runs
// the pragmas, and transactions start with BEGIN IMMEDIATE so a transaction
// takes the write lock up front (waiting up to the busy timeout) rather than
// failing when it upgrades from a read.
func dsn(path string, busy time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// sqliteDialect is the embedded SQLite database. The schema version lives
// in PRAGMA user_version; BEGIN IMMEDIATE already makes every transaction
// the only writer, so the locks are no-ops.
type sqliteDialect struct{}

func (sqliteDialect) rebind(query string) string { return rebindQuestion(query) }
func (sqliteDialect) greatest() string           { return "max" }
func (sqliteDialect) byteOrder() string          { return "" } // BINARY is the default

func (sqliteDialect) isDuplicate(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

func (sqliteDialect) isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

func (sqliteDialect) migrations() []migration { return sqliteMigrations() }

func (sqliteDialect) lockSchema(context.Context, *sql.Tx) error { return nil }

func (sqliteDialect) schemaVersion(ctx context.Context, q queryer) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, err
	}
	return v, nil
}

func (sqliteDialect) setSchemaVersion(ctx context.Context, tx *sql.Tx, v int) error {
	// PRAGMA takes no bound parameters; v is a trusted integer.
	_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v))
	return err
}

func (sqliteDialect) lockExpiry(context.Context, *sql.Tx) error { return nil }

func (d sqliteDialect) markSeen(ctx context.Context, tx *sql.Tx, now int64, keys []string) error {
	stmt, err := tx.PrepareContext(ctx, d.rebind(touchQuery(d)))
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, key := range keys {
		if _, err := stmt.ExecContext(ctx, now, key); err != nil {
			return err
		}
	}
	return nil
}

func (d sqliteDialect) putSessions(ctx context.Context, tx *sql.Tx, now, expires int64, ids, accounts []string) (int64, error) {
	stmt, err := tx.PrepareContext(ctx, d.rebind(putSessionsQuery))
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	var n int64
	for i, id := range ids {
		res, err := stmt.ExecContext(ctx, id, accounts[i], now, expires)
		if err != nil {
			return n, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

func (sqliteDialect) serverNow(context.Context, queryer) (int64, bool, error) {
	return 0, false, nil
}

// sqliteCode returns the extended SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}
