package registry

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const testPool = "pool.example.com:3333"

// openTemp opens a fresh store in t.TempDir and closes it at cleanup.
func openTemp(t *testing.T, opts ...Option) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := Open(path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s, path
}

// openWithPool opens a fresh store with testPool registered as sha256d.
func openWithPool(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s, _ := openTemp(t, opts...)
	require.NoError(t, s.AddPool(context.Background(), Pool{Address: testPool, Family: FamilySV1, Algorithm: "sha256d"}))
	return s
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
