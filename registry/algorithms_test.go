package registry

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAlgorithms(t *testing.T) { eachStore(t, testAlgorithms) }

func testAlgorithms(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)

	require.NoError(t, s.AddAlgorithm(ctx, Algorithm{Name: "scrypt-n/1.5_x", Divider: 0.5}))
	requireKind(t, s.AddAlgorithm(ctx, Algorithm{Name: "sha256d", Divider: 2}), ErrConflict)

	algs, err := s.ListAlgorithms(ctx)
	require.NoError(t, err)
	require.Equal(t, []Algorithm{
		{Name: "scrypt", Divider: 65536},
		{Name: "scrypt-n/1.5_x", Divider: 0.5},
		{Name: "sha256d", Divider: 1},
	}, algs)

	for _, name := range []string{"", "SHA256D", "sha 256", "sha256d\n", "äh", strings.Repeat("a", 33)} {
		requireField(t, s.AddAlgorithm(ctx, Algorithm{Name: name, Divider: 1}), "name")
	}
	for _, d := range []float64{0, -1, math.NaN(), math.Inf(1), math.Inf(-1)} {
		requireField(t, s.AddAlgorithm(ctx, Algorithm{Name: "x11", Divider: d}), "divider")
	}
	require.NoError(t, s.AddAlgorithm(ctx, Algorithm{Name: strings.Repeat("a", 32), Divider: math.MaxFloat64}))
}

func TestDeleteAlgorithm(t *testing.T) { eachStore(t, testDeleteAlgorithm) }

func testDeleteAlgorithm(t *testing.T, open opener) {
	ctx := context.Background()
	s := withPool(t, open) // testPool uses sha256d

	requireKind(t, s.DeleteAlgorithm(ctx, "sha256d"), ErrInUse)
	require.NoError(t, s.DeleteAlgorithm(ctx, "scrypt"))
	requireKind(t, s.DeleteAlgorithm(ctx, "scrypt"), ErrNotFound)
	requireField(t, s.DeleteAlgorithm(ctx, "Bad Name"), "name")

	require.NoError(t, s.DeletePool(ctx, testPool))
	require.NoError(t, s.DeleteAlgorithm(ctx, "sha256d"))
	algs, err := s.ListAlgorithms(ctx)
	require.NoError(t, err)
	require.Empty(t, algs)
}
