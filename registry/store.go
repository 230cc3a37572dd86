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

// DefaultBusyTimeout is how long a statement waits for another writer's lock
// before failing with SQLITE_BUSY, unless WithBusyTimeout says otherwise.
const DefaultBusyTimeout = 5 * time.Second

// MaxOpenConns bounds the store's database connections (three open files
// each: the database, its -wal and its -shm); calls beyond it wait.
const MaxOpenConns = 4

// fileMode is the permission of the database file and its -wal/-shm
// companions: they hold pool passwords, so only the owner may read them.
const fileMode os.FileMode = 0o600

// Store is the account store. It wraps one *sql.DB shared by all callers;
// every method is safe for concurrent use by multiple goroutines.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

// Option configures Open.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
	now         func() time.Time
	// targetVersion stops migrations at this schema version; 0 means the
	// latest. Only tests set it, to build a database at an older version.
	targetVersion int
}

// WithBusyTimeout sets how long a statement waits for a lock held by another
// connection or process (default DefaultBusyTimeout). It must be at least one
// millisecond; Open rejects other values with a *FieldError.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// WithClock replaces time.Now as the source of account creation times and of
// "now" in ExpireAccounts. A nil clock keeps time.Now. The clock must be safe
// to call from several goroutines at once.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// withTargetVersion makes Open migrate only up to version v (test hook).
func withTargetVersion(v int) Option {
	return func(o *options) { o.targetVersion = v }
}

// Open opens the SQLite database at path, creating it with mode 0600 if it
// does not exist, and migrates its schema to the latest version. An existing
// file (or -wal/-shm file) readable by group or others is chmod-ed to 0600.
// The database runs in WAL mode with foreign keys on and a busy timeout, so
// concurrent writers wait for each other instead of failing. The returned
// Store is safe for concurrent use; call Close when done.
func Open(path string, opts ...Option) (*Store, error) {
	o := options{busyTimeout: DefaultBusyTimeout, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
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
	s := &Store{db: db, now: o.now}
	if err := s.migrate(context.Background(), o.targetVersion); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database: it stops new calls (they fail with an error),
// waits for queries already running to finish and releases the connections.
// Call it once, after the goroutines using the Store are done.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("registry: close: %w", err)
	}
	return nil
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

// sqliteCode returns the extended SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func isDuplicate(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// rollback ends tx after a failed step; the step's error is what matters.
func rollback(tx *sql.Tx) { _ = tx.Rollback() }
