//go:build !race

package nonce

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// Once both windows have grown to a session's usual size, turning and
// refilling them allocates nothing: the maps are cleared, not remade.
func TestSeen_Allocs_Good(t *testing.T) {
	var s Seen[uint32]
	fill := func(base uint32) {
		for k := base; k < base+1000; k++ {
			if !s.Add(k, false, 1<<16) {
				t.Fatal("refused")
			}
		}
		s.Turn(true)
	}
	fill(0)
	fill(1000) // both maps exist and have grown
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := uint32(2); i < 12; i++ {
		fill(i * 1000)
	}
	runtime.ReadMemStats(&after)
	require.Zero(t, after.Mallocs-before.Mallocs)
}
