package reactor

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// Names added and removed by several loops in random order are counted
// as a map of name → loops counts them, through every grow, shrink and
// backward shift of the table.
func TestWorkerNames_Table_Good(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var w workerNames
	ref := map[string]int{}
	for range 50_000 {
		name := "rig-" + strconv.Itoa(rng.IntN(3000))
		if rng.IntN(5) < 3 || ref[name] == 0 {
			w.add(name)
			ref[name]++
		} else {
			w.remove(name)
			if ref[name]--; ref[name] == 0 {
				delete(ref, name)
			}
		}
		if rng.IntN(1000) == 0 {
			require.Equal(t, uint64(len(ref)), w.len())
		}
	}
	require.Equal(t, uint64(len(ref)), w.len())
	for name, n := range ref {
		i, ok := w.slot(nameHash(name))
		require.True(t, ok, name)
		require.Equal(t, uint16(n), w.loops[i], name)
	}
	for name, n := range ref {
		for range n {
			w.remove(name)
		}
	}
	require.Zero(t, w.len())
	require.Nil(t, w.hash, "an empty table holds no memory")
}

func TestWorkerNames_Unknown_Bad(t *testing.T) {
	var w workerNames
	w.remove("never added") // empty table
	w.add("a")
	w.remove("b") // not in the table
	require.Equal(t, uint64(1), w.len())
}
