//go:build !race

package reactor

import (
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/stats"
)

// A login whose (user, agent) pair or placement the shard already knows
// allocates no record: the lookup key stays on the stack. (Before, each
// call moved its key to the heap: ~190 bytes of garbage per login.)
func TestAllocs_InternedLoginRecords(t *testing.T) {
	ms := newMemShard(t, nil)
	s := ms.s
	s.namesOf("WALLET", "XMRig/6.22.2")
	require.Zero(t, testing.AllocsPerRun(100, func() { s.namesOf("WALLET", "XMRig/6.22.2") }))
	s.placement(stats.Placement{User: "WALLET", Algo: "rx/0", Divider: 1})
	require.Zero(t, testing.AllocsPerRun(100, func() { s.placement(stats.Placement{User: "WALLET", Algo: "rx/0", Divider: 1}) }))
}
