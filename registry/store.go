package registry

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Store is the account store: pools, algorithms, accounts, their expiry and
// the sessions of passthrough miners. Open returns the embedded SQLite
// implementation (one process, one file); OpenPostgres returns the
// PostgreSQL one, which several go-proxy instances share. Both run the same
// schema migrations and behave the same way, method for method; where they
// differ is said below.
//
// Every method is safe for concurrent use by multiple goroutines, honours
// ctx (a call without a deadline is bounded by DefaultCallTimeout), logs
// nothing and returns errors prefixed "registry: " that match the package's
// sentinel errors. No error text contains a password or an account name.
//
// "The store's clock" below is the WithClock clock if one was given, else
// time.Now for SQLite and the database server's now() for PostgreSQL (so
// instances with skewed clocks still agree on what is expired).
type Store interface {
	// CreateAccount stores pool credentials under a new random account name
	// and returns the account. pool must be a valid host:port (normalised
	// as by NormalizeAddress) of a registered pool, else ErrUnknownPool;
	// user must be 1 to MaxUserLen bytes and password at most
	// MaxPasswordLen bytes (empty is allowed) of printable UTF-8. Bad input
	// yields a *FieldError naming "pool", "user" or "password". The account
	// is created now by the store's clock.
	CreateAccount(ctx context.Context, pool, user, password string) (Account, error)
	// Account returns the account called name (case-insensitive) without
	// its password, or an error matching ErrNotFound; a string that cannot
	// be an account name is simply not found.
	Account(ctx context.Context, name string) (Account, error)
	// Credentials returns what the proxy needs to dial the pool for the
	// account called name (case-insensitive), including the pool password,
	// or an error matching ErrNotFound. This is the only method that returns
	// a password; the Credentials value redacts it whenever it is printed,
	// logged or marshalled.
	Credentials(ctx context.Context, name string) (Credentials, error)
	// DeleteAccount removes the account called name (case-insensitive) and
	// its sessions, or fails with ErrNotFound.
	DeleteAccount(ctx context.Context, name string) error
	// ListAccounts returns up to limit accounts (limit ≥ 1) after skipping
	// offset (≥ 0), oldest first, without passwords.
	ListAccounts(ctx context.Context, limit, offset int) ([]Account, error)
	// CountAccounts returns the number of stored accounts.
	CountAccounts(ctx context.Context) (int, error)

	// Touch records that the account called name (case-insensitive) was
	// active at t; the proxy calls it on authorize and on disconnect, not
	// per share. last_seen never moves backwards, so late or reordered calls
	// (from this instance or another) are harmless. It fails with
	// ErrNotFound for an unknown account and with a *FieldError for a zero t.
	Touch(ctx context.Context, name string, t time.Time) error
	// ExpireAccounts deletes every account idle for longer than idle: its
	// last_seen, or its created_at if it was never touched, is before
	// now−idle by the store's clock. It returns how many accounts it
	// deleted. idle must be positive.
	ExpireAccounts(ctx context.Context, idle time.Duration) (int, error)
	// ExpireUnusedAccounts is ExpireAccounts for a proxy with miners
	// connected: in one transaction it first records the accounts named in
	// inUse (case-insensitive; the accounts this instance's connected miners
	// use) as seen now by the store's clock, then deletes every account idle
	// for longer than idle. Names that are not accounts are skipped. Several
	// instances sharing one database each run it with their own inUse: an
	// account in use on any of them was marked seen by that instance's last
	// run, so as long as every instance runs it more often than idle, none
	// deletes an account another one is using. Runs of several instances are
	// serialised by the database.
	ExpireUnusedAccounts(ctx context.Context, idle time.Duration, inUse []string) (int, error)

	// AddPool registers p. The address is validated and normalised (see
	// NormalizeAddress), the family must be FamilySV1 or FamilyCryptoNote,
	// and the algorithm must be registered (else ErrUnknownAlgorithm). A pool
	// with the same normalised address fails with ErrConflict.
	AddPool(ctx context.Context, p Pool) error
	// Pool returns the pool registered at address (normalised first), or an
	// error matching ErrNotFound.
	Pool(ctx context.Context, address string) (Pool, error)
	// ListPools returns every registered pool ordered by address.
	ListPools(ctx context.Context) ([]Pool, error)
	// DeletePool removes the pool at address. It fails with ErrInUse while
	// any account references the pool and with ErrNotFound if there is no
	// such pool.
	DeletePool(ctx context.Context, address string) error

	// AddAlgorithm registers a. The name must be 1 to 32 bytes of
	// [a-z0-9_-/.]; the divider must be finite and greater than zero. An
	// existing name fails with ErrConflict.
	AddAlgorithm(ctx context.Context, a Algorithm) error
	// ListAlgorithms returns every registered algorithm ordered by name.
	ListAlgorithms(ctx context.Context) ([]Algorithm, error)
	// DeleteAlgorithm removes the algorithm called name. It fails with
	// ErrInUse while any pool references it and with ErrNotFound if there
	// is no such algorithm.
	DeleteAlgorithm(ctx context.Context, name string) error

	// PutSession records that the SV1 subscription id subID (the session
	// id the proxy gave a passthrough miner in its mining.subscribe answer;
	// 1 to MaxSessionIDLen printable ASCII characters, no space) belongs to
	// the account called name, until ttl (at least a second, whole seconds
	// rounded up) from now by the store's clock. Writing an existing id
	// replaces its account and expiry. It fails with ErrNotFound when the
	// account does not exist, with a *FieldError ("session" or "ttl") for
	// bad input. Deleting the account deletes its sessions.
	PutSession(ctx context.Context, subID, account string, ttl time.Duration) error
	// LookupSession returns the account name a subscription id belongs to,
	// or an error matching ErrNotFound when the id is unknown, malformed or
	// expired by the store's clock.
	LookupSession(ctx context.Context, subID string) (account string, err error)
	// PutSessions is PutSession for many sessions at once, in one
	// transaction (an instance renews the sessions of all its connected
	// miners this way): entries with a malformed id or account name, or
	// whose account does not exist, are skipped; of two entries with the
	// same id the last one counts. It returns how many sessions it wrote
	// and fails with a *FieldError ("ttl") for a ttl under a second.
	PutSessions(ctx context.Context, entries []SessionEntry, ttl time.Duration) (int, error)
	// MarkReconnect records, atomically, that the miner subscribed as
	// subID is being asked to reconnect (client.reconnect) now, by the
	// store's clock, unless it was less than window ago: it reports true
	// when it recorded it, false when the last mark is more recent than
	// window or the session is unknown, malformed or expired. Of several
	// instances marking one id at once, one gets true. window must be at
	// least a second (whole seconds, rounded down), else a *FieldError
	// ("window"). The mark survives PutSession of the same id.
	MarkReconnect(ctx context.Context, subID string, window time.Duration) (bool, error)
	// DeleteSession forgets a subscription id, or fails with ErrNotFound.
	DeleteSession(ctx context.Context, subID string) error
	// ExpireSessions deletes the sessions expired by the store's clock and
	// returns how many. Expired sessions are already invisible to
	// LookupSession; this only reclaims their rows.
	ExpireSessions(ctx context.Context) (int, error)

	// Close releases the store: later calls fail with an error. It waits
	// for the calls already running. Call it once, after the goroutines
	// using the Store are done.
	Close() error
}

// DefaultCallTimeout bounds a Store call whose ctx has no deadline, so a
// database that stops answering fails the call instead of hanging it.
const DefaultCallTimeout = 30 * time.Second

// Option configures Open and OpenPostgres.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
	maxConns    int
	now         func() time.Time
	// targetVersion stops migrations at this schema version; 0 means the
	// latest. Only tests set it, to build a database at an older version.
	targetVersion int
}

// WithBusyTimeout sets how long an SQLite statement waits for a lock held
// by another connection or process (default DefaultBusyTimeout). It must be
// at least one millisecond; Open rejects other values with a *FieldError.
// OpenPostgres ignores it (PostgreSQL waits for row locks until ctx ends).
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// WithClock replaces the store's clock (time.Now for SQLite, the database
// server's now() for PostgreSQL) as the source of account creation times,
// session expiry and "now" in the expiry methods. A nil clock keeps the
// default. The clock must be safe to call from several goroutines at once.
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

func buildOptions(opts []Option) options {
	o := options{busyTimeout: DefaultBusyTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// dialect is what differs between the SQL databases behind a Store. The
// queries are written once, with $1-style placeholders, and run on both.
type dialect interface {
	// rebind turns a query written with $N placeholders into this
	// database's syntax.
	rebind(query string) string
	// greatest is the name of the two-argument maximum function.
	greatest() string
	// byteOrder is appended to an ORDER BY of a text column so that it
	// sorts by bytes whatever the database's collation.
	byteOrder() string
	isDuplicate(err error) bool
	isForeignKey(err error) bool
	// migrations is the schema history for this database, oldest first.
	migrations() []migration
	// lockSchema runs first in every migration transaction: it makes the
	// transaction the only one migrating (PostgreSQL: an advisory lock
	// shared by every instance) and creates the version record if needed.
	lockSchema(ctx context.Context, tx *sql.Tx) error
	// schemaVersion reads the applied schema version (0 for an empty database).
	schemaVersion(ctx context.Context, q queryer) (int, error)
	setSchemaVersion(ctx context.Context, tx *sql.Tx, v int) error
	// lockExpiry serialises the expiry transactions of every instance
	// sharing the database, so two of them never lock rows in opposite
	// orders.
	lockExpiry(ctx context.Context, tx *sql.Tx) error
	// markSeen sets last_seen to at least now for the accounts keys
	// (canonical names, sorted) inside tx.
	markSeen(ctx context.Context, tx *sql.Tx, now int64, keys []string) error
	// putSessions writes the sessions ids[i] → accounts[i] (canonical
	// names; ids unique and sorted) with written_at now and expires_at
	// expires inside tx, skipping those whose account does not exist, and
	// returns how many it wrote.
	putSessions(ctx context.Context, tx *sql.Tx, now, expires int64, ids, accounts []string) (int64, error)
	// serverNow reads the database server's clock in unix seconds, or
	// reports ok false when the store uses the process clock.
	serverNow(ctx context.Context, q queryer) (now int64, ok bool, err error)
}

// queryer is satisfied by *sql.DB, *sql.Conn and *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// sqlStore implements Store over database/sql for either dialect. It wraps
// one *sql.DB (a pool of connections) shared by all callers; every method
// is safe for concurrent use.
type sqlStore struct {
	db  *sql.DB
	d   dialect
	now func() time.Time // nil: the dialect's clock (see clock)
	// scrub removes the connection URL's password from database errors
	// (PostgreSQL); nil for SQLite.
	scrub func(error) error
}

var _ Store = (*sqlStore)(nil)

// q returns query in the store's placeholder syntax.
func (s *sqlStore) q(query string) string { return s.d.rebind(query) }

// call bounds ctx by DefaultCallTimeout when it has no deadline.
func call(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, DefaultCallTimeout)
}

// clock returns now in unix seconds by the store's clock: the WithClock
// clock, else the database server's clock (PostgreSQL, read through q so a
// transaction sees its own start time), else time.Now.
func (s *sqlStore) clock(ctx context.Context, q queryer) (int64, error) {
	if s.now != nil {
		return s.now().Unix(), nil
	}
	now, ok, err := s.d.serverNow(ctx, q)
	if err != nil {
		return 0, err
	}
	if ok {
		return now, nil
	}
	return time.Now().Unix(), nil
}

// wrap prefixes err with "registry: op: " for errors of the database
// layer (a broken connection, a timeout); domain errors are built with
// fail and invalid instead.
func (s *sqlStore) wrap(op string, err error) error {
	if s.scrub != nil {
		err = s.scrub(err)
	}
	return fmt.Errorf("registry: %s: %w", op, err)
}

// Close closes the database: it stops new calls (they fail with an error),
// waits for queries already running to finish and releases the connections.
func (s *sqlStore) Close() error {
	if err := s.db.Close(); err != nil {
		return s.wrap("close", err)
	}
	return nil
}

// rebindDollar is the PostgreSQL rebind: queries are already written in
// its syntax.
func rebindDollar(query string) string { return query }

// rebindQuestion turns $N placeholders into SQLite's ?N (numbered, so a
// parameter may appear twice). No query of this package contains a '$'
// anywhere else.
func rebindQuestion(query string) string { return strings.ReplaceAll(query, "$", "?") }

// rollback ends tx after a failed step; the step's error is what matters.
func rollback(tx *sql.Tx) { _ = tx.Rollback() }
