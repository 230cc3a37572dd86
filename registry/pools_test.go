package registry

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeAddress(t *testing.T) {
	for in, want := range map[string]string{
		"pool.example.com:3333":    "pool.example.com:3333",
		"Pool.Example.COM:03333":   "pool.example.com:3333",
		"stratum_v1-eu.pool.io:1":  "stratum_v1-eu.pool.io:1",
		"localhost:65535":          "localhost:65535",
		"127.0.0.1:3333":           "127.0.0.1:3333",
		"[2001:DB8:0::1]:3333":     "[2001:db8::1]:3333",
		"[::ffff:10.0.0.1]:3333":   "[::ffff:10.0.0.1]:3333",
		"pool1.example.com.2x:443": "pool1.example.com.2x:443",
	} {
		got, err := NormalizeAddress(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{
		"", "pool", "pool:", ":1", "pool:0", "pool:65536", "pool:123456", "pool:-1", "pool: 1",
		"po ol:1", "pool\t:1", "pool.:1", ".pool:1", "a..b:1", "pool/x:1", "pööl:1",
		"1.2.3:1", "256.0.0.1:1", "[fe80::1%25eth0]:1", "[pool]:1", "[1.2.3.4]:1", "::1:1",
		strings.Repeat("a", 64) + ":1", strings.Repeat("abc.", 64) + "com:1",
	} {
		_, err := NormalizeAddress(bad)
		requireField(t, err, "address")
	}
}

func TestPools(t *testing.T) { eachStore(t, testPools) }

func testPools(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)

	require.NoError(t, s.AddPool(ctx, Pool{Address: "B.example.com:3333", Family: FamilySV1, Algorithm: "sha256d"}))
	require.NoError(t, s.AddPool(ctx, Pool{Address: "a.example.com:3333", Family: FamilySV1, Algorithm: "scrypt"}))
	require.NoError(t, s.AddPool(ctx, Pool{Address: "xmr.example.com:3333", Family: FamilyCryptoNote, Algorithm: "sha256d"}))

	p, err := s.Pool(ctx, "b.example.com:03333")
	require.NoError(t, err)
	require.Equal(t, Pool{Address: "b.example.com:3333", Family: FamilySV1, Algorithm: "sha256d"}, p)

	pools, err := s.ListPools(ctx)
	require.NoError(t, err)
	require.Equal(t, []Pool{
		{Address: "a.example.com:3333", Family: FamilySV1, Algorithm: "scrypt"},
		{Address: "b.example.com:3333", Family: FamilySV1, Algorithm: "sha256d"},
		{Address: "xmr.example.com:3333", Family: FamilyCryptoNote, Algorithm: "sha256d"},
	}, pools)

	// The same pool spelled differently is still a duplicate.
	err = s.AddPool(ctx, Pool{Address: "A.EXAMPLE.COM:3333", Family: FamilySV1, Algorithm: "sha256d"})
	requireKind(t, err, ErrConflict)
	require.Contains(t, err.Error(), "a.example.com:3333")

	err = s.AddPool(ctx, Pool{Address: "c.example.com:3333", Family: FamilySV1, Algorithm: "x11"})
	requireKind(t, err, ErrUnknownAlgorithm)

	requireField(t, s.AddPool(ctx, Pool{Address: "c.example.com", Family: FamilySV1, Algorithm: "sha256d"}), "address")
	requireField(t, s.AddPool(ctx, Pool{Address: "c.example.com:1", Family: "SV1", Algorithm: "sha256d"}), "family")
	requireField(t, s.AddPool(ctx, Pool{Address: "c.example.com:1", Family: "", Algorithm: "sha256d"}), "family")
	requireField(t, s.AddPool(ctx, Pool{Address: "c.example.com:1", Family: FamilySV1, Algorithm: "SHA256D"}), "algorithm")
	requireField(t, s.AddPool(ctx, Pool{Address: "c.example.com:1", Family: FamilySV1}), "algorithm")

	_, err = s.Pool(ctx, "c.example.com:3333")
	requireKind(t, err, ErrNotFound)
	_, err = s.Pool(ctx, "c.example.com")
	requireField(t, err, "address")
}

func TestDeletePool(t *testing.T) { eachStore(t, testDeletePool) }

func testDeletePool(t *testing.T, open opener) {
	ctx := context.Background()
	s := withPool(t, open)
	acc, err := s.CreateAccount(ctx, testPool, "wallet", "pw")
	require.NoError(t, err)

	requireKind(t, s.DeletePool(ctx, testPool), ErrInUse)
	_, err = s.Pool(ctx, testPool)
	require.NoError(t, err, "a refused delete leaves the pool")

	require.NoError(t, s.DeleteAccount(ctx, acc.Name))
	require.NoError(t, s.DeletePool(ctx, "POOL.example.com:3333"))
	_, err = s.Pool(ctx, testPool)
	requireKind(t, err, ErrNotFound)
	requireKind(t, s.DeletePool(ctx, testPool), ErrNotFound)
	requireField(t, s.DeletePool(ctx, "nonsense"), "address")
}
