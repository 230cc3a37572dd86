package registry

import (
	"context"
	"fmt"
)

// migration moves the schema from version-1 to version. Its statements run in
// one transaction together with the version bump, so a crash leaves the
// database at either the old or the new version (PostgreSQL's DDL is
// transactional too).
type migration struct {
	version int
	stmts   []string
}

// SchemaVersion is the schema version this package creates and expects:
// SQLite keeps it in PRAGMA user_version, PostgreSQL in the one-row table
// registry_schema.
const SchemaVersion = 4

// sqliteMigrations returns the SQLite schema history, oldest first. Versions
// are 1, 2, ... without gaps; never edit a released migration, append a new
// one (to postgresMigrations too: both databases always have the same
// versions with the same meaning).
func sqliteMigrations() []migration {
	return []migration{
		{version: 1, stmts: []string{
			`CREATE TABLE algorithms (
				name    TEXT PRIMARY KEY,
				divider REAL NOT NULL CHECK (divider > 0)
			) STRICT`,
			`CREATE TABLE pools (
				address   TEXT PRIMARY KEY,
				family    TEXT NOT NULL CHECK (family IN ('sv1', 'cryptonote')),
				algorithm TEXT NOT NULL REFERENCES algorithms(name)
			) STRICT`,
			`CREATE TABLE accounts (
				name          TEXT PRIMARY KEY,
				pool          TEXT NOT NULL REFERENCES pools(address),
				pool_user     TEXT NOT NULL,
				pool_password TEXT NOT NULL,
				created_at    INTEGER NOT NULL,
				last_seen     INTEGER
			) STRICT`,
		}},
		{version: 2, stmts: []string{
			// ExpireAccounts filters on exactly this expression.
			`CREATE INDEX accounts_idle ON accounts (coalesce(last_seen, created_at))`,
			// Foreign-key checks on DeletePool and DeleteAlgorithm look up
			// the referencing rows through these.
			`CREATE INDEX accounts_pool ON accounts (pool)`,
			`CREATE INDEX pools_algorithm ON pools (algorithm)`,
			// Dividers normalise share difficulty to sha256d difficulty-1
			// units (NOMP's multiplier). OR IGNORE keeps a divider an
			// operator registered before this migration ran.
			`INSERT OR IGNORE INTO algorithms (name, divider) VALUES
				('sha256d', 1),
				('scrypt', 65536)`,
		}},
		{version: 3, stmts: []string{
			// SV1 subscription ids of passthrough miners, so any instance
			// can tell which account a resuming miner belongs to.
			`CREATE TABLE sessions (
				id         TEXT PRIMARY KEY,
				account    TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
				written_at INTEGER NOT NULL,
				expires_at INTEGER NOT NULL
			) STRICT`,
			`CREATE INDEX sessions_expiry ON sessions (expires_at)`,
			`CREATE INDEX sessions_account ON sessions (account)`,
		}},
		{version: 4, stmts: []string{
			// When a miner was last asked to reconnect (MarkReconnect):
			// at most one client.reconnect per subscription id per
			// window, whichever instance sends it.
			`ALTER TABLE sessions ADD COLUMN reconnected_at INTEGER`,
		}},
	}
}

// postgresMigrations is sqliteMigrations in PostgreSQL's dialect: the same
// tables, columns, constraints, indexes and seed rows, version for version.
// Times are unix seconds in BIGINT columns, as in SQLite.
func postgresMigrations() []migration {
	return []migration{
		{version: 1, stmts: []string{
			`CREATE TABLE algorithms (
				name    TEXT PRIMARY KEY,
				divider DOUBLE PRECISION NOT NULL CHECK (divider > 0)
			)`,
			`CREATE TABLE pools (
				address   TEXT PRIMARY KEY,
				family    TEXT NOT NULL CHECK (family IN ('sv1', 'cryptonote')),
				algorithm TEXT NOT NULL REFERENCES algorithms(name)
			)`,
			`CREATE TABLE accounts (
				name          TEXT PRIMARY KEY,
				pool          TEXT NOT NULL REFERENCES pools(address),
				pool_user     TEXT NOT NULL,
				pool_password TEXT NOT NULL,
				created_at    BIGINT NOT NULL,
				last_seen     BIGINT
			)`,
		}},
		{version: 2, stmts: []string{
			`CREATE INDEX accounts_idle ON accounts ((coalesce(last_seen, created_at)))`,
			`CREATE INDEX accounts_pool ON accounts (pool)`,
			`CREATE INDEX pools_algorithm ON pools (algorithm)`,
			`INSERT INTO algorithms (name, divider) VALUES
				('sha256d', 1),
				('scrypt', 65536)
			ON CONFLICT (name) DO NOTHING`,
		}},
		{version: 3, stmts: []string{
			`CREATE TABLE sessions (
				id         TEXT PRIMARY KEY,
				account    TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
				written_at BIGINT NOT NULL,
				expires_at BIGINT NOT NULL
			)`,
			`CREATE INDEX sessions_expiry ON sessions (expires_at)`,
			`CREATE INDEX sessions_account ON sessions (account)`,
		}},
		{version: 4, stmts: []string{
			`ALTER TABLE sessions ADD COLUMN reconnected_at BIGINT`,
		}},
	}
}

// migrate applies every migration above the database's version, up to
// target (0 = SchemaVersion). Each runs in its own transaction that takes
// the dialect's schema lock and re-reads the version first, so two
// processes (or instances) opening the same new database do not apply a
// migration twice. A database newer than this package is refused.
func (s *sqlStore) migrate(ctx context.Context, target int) error {
	if target <= 0 || target > SchemaVersion {
		target = SchemaVersion
	}
	current, err := s.d.schemaVersion(ctx, s.db)
	if err != nil {
		return s.wrap("migrate", err)
	}
	if current > SchemaVersion {
		return fmt.Errorf("registry: migrate: database schema version %d is newer than supported version %d", current, SchemaVersion)
	}
	for _, m := range s.d.migrations() {
		if m.version <= current || m.version > target {
			continue
		}
		if err := s.apply(ctx, m); err != nil {
			return s.wrap(fmt.Sprintf("migrate to version %d", m.version), err)
		}
	}
	return nil
}

func (s *sqlStore) apply(ctx context.Context, m migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	if err := s.d.lockSchema(ctx, tx); err != nil {
		return err
	}
	current, err := s.d.schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if current >= m.version {
		return nil // applied by someone else since we looked
	}
	if current != m.version-1 {
		return fmt.Errorf("database is at version %d", current)
	}
	for _, stmt := range m.stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if err := s.d.setSchemaVersion(ctx, tx, m.version); err != nil {
		return err
	}
	return tx.Commit()
}
