package reactor

import (
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// minerShards returns the event loop of every connected miner by id.
func minerShards(t *testing.T, p *Proxy) map[uint64]int {
	t.Helper()
	ms, err := p.Miners(waitCtx(t))
	require.NoError(t, err)
	out := map[uint64]int{}
	for _, m := range ms {
		out[m.ID] = m.Shard
	}
	return out
}

// TestSummary_WorkersDistinct_Good: a worker with miners on two event
// loops is one worker in /1/summary (and goproxy_workers), not one per
// loop; it stops counting once every loop has forgotten it.
func TestSummary_WorkersDistinct_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	cfg.EventLoops = 2
	cfg.WorkersExpire = 1
	p, addr := startProxy(t, cfg)
	// Miners of one rig until they sit on both loops (the kernel spreads
	// connections over the loops' listeners by address hash).
	var rigs []*testminer.CN
	for len(rigs) < 64 {
		m := testminer.DialCN(t, addr)
		m.RigID = "rig-a"
		require.Nil(t, m.Login("WALLET").Error)
		rigs = append(rigs, m)
		seen := map[int]bool{}
		for _, sh := range minerShards(t, p) {
			seen[sh] = true
		}
		if len(seen) == 2 {
			break
		}
	}
	require.Len(t, func() map[int]bool {
		seen := map[int]bool{}
		for _, sh := range minerShards(t, p) {
			seen[sh] = true
		}
		return seen
	}(), 2, "miners on both loops")
	other := testminer.DialCN(t, addr)
	other.RigID = "rig-b"
	require.Nil(t, other.Login("WALLET").Error)
	testutil.Eventually(t, func() bool { return p.Summary().Workers == 2 }, "two workers, whatever the loops")
	ws, err := p.Workers(waitCtx(t))
	require.NoError(t, err)
	require.Len(t, ws, 2)

	// Gone from every loop (after workers-expire): no longer counted.
	for _, m := range append(rigs, other) {
		m.Conn.Close()
	}
	testutil.Eventually(t, func() bool { return p.Summary().Workers == 0 }, "expired workers are not counted")
}
