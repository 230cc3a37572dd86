//go:build !race

package vardiff

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The per-share and per-sweep calls allocate nothing. (Skipped under
// -race, which instruments allocations.)
func TestAllocs_State(t *testing.T) {
	c := cfg()
	var s State
	s.Start(c, 1e6, 0, 1, 0)
	now := int64(0)
	n := testing.AllocsPerRun(10000, func() {
		now++
		if s.Share(c, s.Diff(), now) {
			s.Retarget(c, 1e6, now)
		}
		s.Retarget(c, 1e6, now)
		s.Bound(c, 1e6, now)
	})
	require.Zero(t, n)
}
