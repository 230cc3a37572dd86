// Package registry is the account store of the SV1 passthrough mode.
//
// In passthrough mode a Bitcoin-family (stratum v1) miner logs in to the
// proxy with an opaque account name instead of pool credentials. Users
// register their pool login through the REST API (POST /api/v1/users with
// pool, user and password) and get that name back; when a miner authorizes
// with it, the proxy looks up the credentials here and opens its own pool
// connection for the miner. The pool's row names its hashing algorithm, and
// the algorithm's divider normalises share difficulty for hashrate maths
// (sha256d = 1, scrypt = 65536), so no miner has to say what it mines.
//
// Store is an interface with two implementations that run the same schema
// migrations and behave the same way, method for method:
//
//   - Open: an embedded SQLite database through modernc.org/sqlite, a
//     pure-Go translation of SQLite, so the binary needs no cgo and no
//     system library. The database runs in WAL mode with a busy timeout and
//     BEGIN IMMEDIATE transactions, so concurrent writers queue instead of
//     failing. One process uses it.
//   - OpenPostgres: a PostgreSQL database through pgx's database/sql
//     driver, which several go-proxy instances share: an account registered
//     on one is usable on every other at once. Schema migrations and expiry
//     runs are serialised between instances by advisory locks; the store's
//     clock is the server's now(). Broken connections are replaced on the
//     next call, so the store recovers by itself when the server comes back.
//
// Both share one *sql.DB per store and every query (written once, with $N
// placeholders). Every Store method is safe for concurrent use, takes a
// context (bounded by DefaultCallTimeout when it has no deadline), logs
// nothing and returns errors prefixed "registry: " that match the package's
// sentinel errors.
//
// # Schema (version 4)
//
// SQLite keeps the version in PRAGMA user_version, PostgreSQL in the
// one-row table registry_schema. Times are unix seconds (INTEGER in SQLite,
// BIGINT in PostgreSQL).
//
//	algorithms(name TEXT PRIMARY KEY, divider REAL NOT NULL CHECK (divider > 0))
//	pools(address TEXT PRIMARY KEY,            -- normalised host:port
//	      family TEXT NOT NULL,                -- 'sv1' or 'cryptonote'
//	      algorithm TEXT NOT NULL REFERENCES algorithms(name))
//	accounts(name TEXT PRIMARY KEY,            -- 26 base32 characters
//	         pool TEXT NOT NULL REFERENCES pools(address),
//	         pool_user TEXT NOT NULL, pool_password TEXT NOT NULL,
//	         created_at INTEGER NOT NULL,      -- unix seconds
//	         last_seen INTEGER)                -- unix seconds, NULL until Touch
//	sessions(id TEXT PRIMARY KEY,              -- SV1 subscription id
//	         account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
//	         written_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
//	         reconnected_at INTEGER)           -- last MarkReconnect, NULL before
//
// Version 1 creates the first three tables (STRICT in SQLite, foreign keys
// enforced). Version 2 adds an index on coalesce(last_seen, created_at) for
// expiry, indexes on the foreign-key columns, and seeds sha256d and scrypt.
// Version 3 adds sessions, with indexes on expires_at and account; version
// 4 adds sessions.reconnected_at (MarkReconnect). Opening
// applies the missing migrations, each in its own transaction together with
// the version bump, and refuses a database written by a newer version of
// this package.
//
// # Security rules
//
//   - The SQLite file is created with mode 0600, and an existing database,
//     -wal or -shm file that group or others can read is chmod-ed to 0600:
//     it holds pool passwords. (A PostgreSQL database's access is the
//     server's: give go-proxy a role of its own.)
//   - The PostgreSQL URL holds a password: no error shows it (RedactURL
//     masks it wherever the URL is named).
//   - A password leaves the store only through Store.Credentials. Account,
//     the view returned everywhere else, has no password field, and a
//     Credentials value prints, logs (log/slog) and marshals to JSON with the
//     password replaced by Redacted. No error text contains a password or an
//     account name.
//   - Account names are 128 bits from crypto/rand, encoded as 26 lowercase
//     base32 characters. They are not derived from the credentials, unlike
//     the md5-derived names of the original stratum-proxy, so they cannot be
//     guessed from a pool login.
//   - Accounts can be deleted, and ExpireAccounts / RunExpiry remove the ones
//     idle for longer than a chosen period, so the table does not grow
//     forever (ExpireUnusedAccounts first marks the accounts still in use,
//     so a miner connected for longer than that period keeps its account).
//     Pools and algorithms are rows the operator manages (AddPool,
//     AddAlgorithm, ...), not a table fixed in the code.
package registry
