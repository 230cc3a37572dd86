package registry

import (
	"context"
	"database/sql"
	"fmt"
)

// migration moves the schema from version-1 to version. Its statements run in
// one transaction together with the PRAGMA user_version bump, so a crash
// leaves the database at either the old or the new version.
type migration struct {
	version int
	stmts   []string
}

// migrations returns the schema history, oldest first. Versions are 1, 2, ...
// without gaps; never edit a released migration, append a new one.
func migrations() []migration {
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
	}
}

// SchemaVersion is the schema version this package creates and expects,
// stored in the database's PRAGMA user_version.
const SchemaVersion = 2

// migrate applies every migration above the database's user_version, up to
// target (0 = SchemaVersion). Each runs in its own BEGIN IMMEDIATE
// transaction that re-reads the version first, so two processes opening the
// same new file do not apply a migration twice. A database newer than this
// package is refused.
func (s *Store) migrate(ctx context.Context, target int) error {
	if target <= 0 || target > SchemaVersion {
		target = SchemaVersion
	}
	current, err := userVersion(ctx, s.db)
	if err != nil {
		return fmt.Errorf("registry: migrate: %w", err)
	}
	if current > SchemaVersion {
		return fmt.Errorf("registry: migrate: database schema version %d is newer than supported version %d", current, SchemaVersion)
	}
	for _, m := range migrations() {
		if m.version <= current || m.version > target {
			continue
		}
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("registry: migrate to version %d: %w", m.version, err)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, m migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	current, err := userVersion(ctx, tx)
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
	// PRAGMA takes no bound parameters; m.version is a trusted integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return err
	}
	return tx.Commit()
}

// rowQueryer is satisfied by *sql.DB and *sql.Tx.
type rowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func userVersion(ctx context.Context, q rowQueryer) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, err
	}
	return v, nil
}
