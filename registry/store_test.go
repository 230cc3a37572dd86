package registry

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOpenCreatesFilesWithMode0600(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	require.NoError(t, s.AddPool(ctx, Pool{Address: testPool, Family: FamilySV1, Algorithm: "sha256d"}))
	_, err := s.CreateAccount(ctx, testPool, "wallet", "pw")
	require.NoError(t, err)

	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		require.NoError(t, err, "WAL mode keeps %s while the store is open", name)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), name)
	}
}

func TestOpenTightensExistingFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	require.NoError(t, os.Chmod(path, 0o644))

	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestOpenSetsPragmas(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()

	// Pin one pooled connection so every pragma is read from the same one.
	conn, err := sqlOf(t, s).db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()

	var mode string
	require.NoError(t, conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)
	var fk, busy int
	require.NoError(t, conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk))
	require.Equal(t, 1, fk)
	require.NoError(t, conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy))
	require.Equal(t, int(DefaultBusyTimeout/time.Millisecond), busy)
}

func TestOpenOptions(t *testing.T) {
	s, _ := openTemp(t, WithBusyTimeout(1500*time.Millisecond))
	var busy int
	require.NoError(t, sqlOf(t, s).db.QueryRow("PRAGMA busy_timeout").Scan(&busy))
	require.Equal(t, 1500, busy)

	dir := t.TempDir()
	_, err := Open(filepath.Join(dir, "a.db"), WithBusyTimeout(0))
	requireField(t, err, "busy timeout")
	_, err = Open("")
	requireField(t, err, "path")
	_, err = os.Stat(filepath.Join(dir, "a.db"))
	require.ErrorIs(t, err, os.ErrNotExist, "a rejected Open creates no file")
}

func TestOpenPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd dir?x=1#frag%20")
	require.NoError(t, os.Mkdir(dir, 0o700))
	path := filepath.Join(dir, "reg;istry.db")

	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.AddAlgorithm(context.Background(), Algorithm{Name: "x11", Divider: 1}))
	require.NoError(t, s.Close())

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Positive(t, fi.Size(), "the database went to the exact path given")
}

func TestOpenFailures(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(filepath.Join(dir, "missing", "registry.db"))
	require.Error(t, err)
	require.Contains(t, err.Error(), "registry: open")

	junk := filepath.Join(dir, "junk.db")
	require.NoError(t, os.WriteFile(junk, []byte("this is not an SQLite database, not even close to one......."), 0o600))
	_, err = Open(junk)
	require.Error(t, err)
	require.Contains(t, err.Error(), "registry: migrate")
}

func TestOpenRefusesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Chmod(dir, 0o755))
	_, err := Open(dir)
	require.ErrorContains(t, err, "is not a regular file")
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), fi.Mode().Perm(), "Open does not chmod what it will not use")
}

func TestUseAfterClose(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "registry.db"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = s.CountAccounts(context.Background())
	require.Error(t, err)
	require.Contains(t, err.Error(), "registry: count accounts")
}

func TestOpenTightensExistingWALFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		require.NoError(t, os.WriteFile(name, nil, 0o600))
		require.NoError(t, os.Chmod(name, 0o644))
	}
	require.NoError(t, prepareFiles(path))
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), name)
	}
}
