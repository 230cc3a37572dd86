package registry

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func schemaVersion(t *testing.T, s *Store) int {
	t.Helper()
	v, err := userVersion(context.Background(), s.db)
	require.NoError(t, err)
	return v
}

// schemaObjects lists the names of tables and indexes we created.
func schemaObjects(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.db.Query(`SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name`)
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

func TestMigrationsAreSequential(t *testing.T) {
	ms := migrations()
	require.Len(t, ms, SchemaVersion)
	for i, m := range ms {
		require.Equal(t, i+1, m.version)
		require.NotEmpty(t, m.stmts)
	}
}

func TestMigrateNewFile(t *testing.T) {
	s, _ := openTemp(t)
	require.Equal(t, SchemaVersion, schemaVersion(t, s))
	require.Equal(t, []string{"accounts", "accounts_idle", "accounts_pool", "algorithms", "pools", "pools_algorithm"}, schemaObjects(t, s))

	algs, err := s.ListAlgorithms(context.Background())
	require.NoError(t, err)
	require.Equal(t, []Algorithm{{Name: "scrypt", Divider: 65536}, {Name: "sha256d", Divider: 1}}, algs)
}

func TestMigrateReopenAtLatestVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.AddPool(ctx, Pool{Address: testPool, Family: FamilySV1, Algorithm: "sha256d"}))
	acc, err := s.CreateAccount(ctx, testPool, "wallet", "pw")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	for range 2 {
		s, err = Open(path)
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
}

func TestMigrateUpgradeFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "registry.db")

	s, err := Open(path, withTargetVersion(1))
	require.NoError(t, err)
	require.Equal(t, 1, schemaVersion(t, s))
	require.Equal(t, []string{"accounts", "algorithms", "pools"}, schemaObjects(t, s))
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

	s, err = Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.Equal(t, SchemaVersion, schemaVersion(t, s))
	require.Equal(t, []string{"accounts", "accounts_idle", "accounts_pool", "algorithms", "pools", "pools_algorithm"}, schemaObjects(t, s))
	algs, err = s.ListAlgorithms(ctx)
	require.NoError(t, err)
	require.Equal(t, []Algorithm{{Name: "scrypt", Divider: 1024}, {Name: "sha256d", Divider: 1}}, algs)
	got, err := s.Account(ctx, acc.Name)
	require.NoError(t, err)
	require.Equal(t, acc, got)
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := Open(path)
	require.NoError(t, err)
	_, err = s.db.Exec("PRAGMA user_version = 99")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = Open(path)
	require.Error(t, err)
	require.Contains(t, err.Error(), "registry: migrate: database schema version 99 is newer")
}

func TestExpiryUsesIdleIndex(t *testing.T) {
	s, _ := openTemp(t)
	rows, err := s.db.Query(`EXPLAIN QUERY PLAN DELETE FROM accounts WHERE coalesce(last_seen, created_at) < ?`, 0)
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
