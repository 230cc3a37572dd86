package registry

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/internal/pgtest"
)

func schemaVersion(t *testing.T, s Store) int {
	t.Helper()
	ss := sqlOf(t, s)
	v, err := ss.d.schemaVersion(context.Background(), ss.db)
	require.NoError(t, err)
	return v
}

// schemaObjects lists the names of the tables and indexes we created
// (primary-key indexes and the PostgreSQL version table left out).
func schemaObjects(t *testing.T, s Store) []string {
	t.Helper()
	ss := sqlOf(t, s)
	query := `SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name`
	if _, pg := ss.d.(postgresDialect); pg {
		query = `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i')
			AND c.relname NOT LIKE '%_pkey' AND c.relname NOT LIKE 'registry_schema%'
			ORDER BY c.relname COLLATE "C"`
	}
	rows, err := ss.db.Query(query)
	require.NoError(t, err)
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	return names
}

var (
	objectsV1     = []string{"accounts", "algorithms", "pools"}
	objectsLatest = []string{"accounts", "accounts_idle", "accounts_pool", "algorithms", "pools", "pools_algorithm", "sessions", "sessions_account", "sessions_expiry"}
)

func TestMigrationsAreSequential(t *testing.T) {
	sq, pg := sqliteMigrations(), postgresMigrations()
	require.Len(t, sq, SchemaVersion)
	require.Len(t, pg, SchemaVersion, "both databases have every version")
	for i := range sq {
		require.Equal(t, i+1, sq[i].version)
		require.Equal(t, i+1, pg[i].version)
		require.NotEmpty(t, sq[i].stmts)
		require.Len(t, pg[i].stmts, len(sq[i].stmts), "version %d does the same steps on both", i+1)
	}
}

func TestMigrateNew(t *testing.T) { eachStore(t, testMigrateNew) }

func testMigrateNew(t *testing.T, open opener) {
	s := open(t)
	require.Equal(t, SchemaVersion, schemaVersion(t, s))
	require.Equal(t, objectsLatest, schemaObjects(t, s))

	algs, err := s.ListAlgorithms(context.Background())
	require.NoError(t, err)
	require.Equal(t, []Algorithm{{Name: "scrypt", Divider: 65536}, {Name: "sha256d", Divider: 1}}, algs)
}

// reopener opens the same database again and again: a file path, or a
// schema URL.
type reopener func(opts ...Option) (Store, error)

func eachReopener(t *testing.T, f func(t *testing.T, open reopener)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "registry.db")
		f(t, func(opts ...Option) (Store, error) { return Open(path, opts...) })
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.Schema(t)
		f(t, func(opts ...Option) (Store, error) { return OpenPostgres(context.Background(), url, opts...) })
	})
}

func TestMigrateReopenAtLatestVersion(t *testing.T) {
	eachReopener(t, func(t *testing.T, open reopener) {
		ctx := context.Background()
		s, err := open()
		require.NoError(t, err)
		require.NoError(t, s.AddPool(ctx, Pool{Address: testPool, Family: FamilySV1, Algorithm: "sha256d"}))
		acc, err := s.CreateAccount(ctx, testPool, "wallet", "pw")
		require.NoError(t, err)
		require.NoError(t, s.Close())

		for range 2 {
			s, err = open()
			require.NoError(t, err)
			require.Equal(t, SchemaVersion, schemaVersion(t, s))
			got, err := s.Account(ctx, acc.Name)
			require.NoError(t, err)
			require.Equal(t, acc, got)
			algs, err := s.ListAlgorithms(ctx)
			require.NoError(t, err)
			require.Len(t, algs, 2, "seed rows are not inserted twice")
			require.NoError(t, s.Close())
		}
	})
}

func TestMigrateUpgradeFromVersion1(t *testing.T) {
	eachReopener(t, func(t *testing.T, open reopener) {
		ctx := context.Background()
		s, err := open(withTargetVersion(1))
		require.NoError(t, err)
		require.Equal(t, 1, schemaVersion(t, s))
		require.Equal(t, objectsV1, schemaObjects(t, s))
		algs, err := s.ListAlgorithms(ctx)
		require.NoError(t, err)
		require.Empty(t, algs, "version 1 has no seed rows")

		// Data written at version 1 survives the upgrade, and a divider the
		// operator chose is not overwritten by the seed.
		require.NoError(t, s.AddAlgorithm(ctx, Algorithm{Name: "scrypt", Divider: 1024}))
		require.NoError(t, s.AddPool(ctx, Pool{Address: "ltc.example.com:3333", Family: FamilySV1, Algorithm: "scrypt"}))
		acc, err := s.CreateAccount(ctx, "ltc.example.com:3333", "wallet", "pw")
		require.NoError(t, err)
		require.NoError(t, s.Close())

		s, err = open()
		require.NoError(t, err)
		defer func() { require.NoError(t, s.Close()) }()
		require.Equal(t, SchemaVersion, schemaVersion(t, s))
		require.Equal(t, objectsLatest, schemaObjects(t, s))
		algs, err = s.ListAlgorithms(ctx)
		require.NoError(t, err)
		require.Equal(t, []Algorithm{{Name: "scrypt", Divider: 1024}, {Name: "sha256d", Divider: 1}}, algs)
		got, err := s.Account(ctx, acc.Name)
		require.NoError(t, err)
		require.Equal(t, acc, got)
	})
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	eachReopener(t, func(t *testing.T, open reopener) {
		s, err := open()
		require.NoError(t, err)
		ss := sqlOf(t, s)
		ctx := context.Background()
		tx, err := ss.db.BeginTx(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, ss.d.setSchemaVersion(ctx, tx, 99))
		require.NoError(t, tx.Commit())
		require.NoError(t, s.Close())

		_, err = open()
		require.Error(t, err)
		require.Contains(t, err.Error(), "migrate: database schema version 99 is newer")
	})
}

func TestExpiryUsesIdleIndex(t *testing.T) {
	s, _ := openTemp(t)
	rows, err := sqlOf(t, s).db.Query(`EXPLAIN QUERY PLAN DELETE FROM accounts WHERE coalesce(last_seen, created_at) < ?`, 0)
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	require.Contains(t, strings.Join(plan, "\n"), "accounts_idle")
}
