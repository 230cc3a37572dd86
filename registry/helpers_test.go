package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/internal/pgtest"
)

const testPool = "pool.example.com:3333"

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// opener opens a fresh, empty store of one kind; the store is closed when
// t ends.
type opener func(t *testing.T, opts ...Option) Store

// eachStore runs f once per implementation, as subtests "sqlite" and
// "postgres", each opener giving a fresh empty store: a new SQLite file,
// or a new schema on the test PostgreSQL server (skipped with the reason
// when there is none, see pgtest).
func eachStore(t *testing.T, f func(t *testing.T, open opener)) {
	t.Run("sqlite", func(t *testing.T) { f(t, openSQLite) })
	t.Run("postgres", func(t *testing.T) { f(t, openPostgres) })
}

func openSQLite(t *testing.T, opts ...Option) Store {
	t.Helper()
	s, _ := openTemp(t, opts...)
	return s
}

func openPostgres(t *testing.T, opts ...Option) Store {
	t.Helper()
	s, err := OpenPostgres(context.Background(), pgtest.Schema(t), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// openTemp opens a fresh SQLite store in t.TempDir and closes it at cleanup.
func openTemp(t *testing.T, opts ...Option) (Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := Open(path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s, path
}

// withPool registers testPool as sha256d in a fresh store.
func withPool(t *testing.T, open opener, opts ...Option) Store {
	t.Helper()
	s := open(t, opts...)
	require.NoError(t, s.AddPool(context.Background(), Pool{Address: testPool, Family: FamilySV1, Algorithm: "sha256d"}))
	return s
}

// sqlOf returns the implementation behind s, for tests that look at the
// database itself.
func sqlOf(t *testing.T, s Store) *sqlStore {
	t.Helper()
	ss, ok := s.(*sqlStore)
	require.True(t, ok, "%T is not *sqlStore", s)
	return ss
}

// requireKind asserts that err matches target and reads "registry: ...".
func requireKind(t *testing.T, err, target error) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, target)
	require.True(t, strings.HasPrefix(err.Error(), "registry: "), "error %q lacks the registry: prefix", err)
}

// requireField asserts that err is a *FieldError for field.
func requireField(t *testing.T, err error, field string) {
	t.Helper()
	requireKind(t, err, ErrInvalid)
	var fe *FieldError
	require.True(t, errors.As(err, &fe), "want *FieldError, got %T", err)
	require.Equal(t, field, fe.Field)
	require.NotEmpty(t, fe.Reason)
}
