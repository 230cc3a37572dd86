package reactor

import (
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/registry"
)

// BenchmarkConnMemory_Passthrough reports the proxy's memory (heap and
// stacks) per SV1 passthrough miner, which has a pool session of its own:
// connBenchMiners miners logged in through the proxy, each on its own
// account's session, minus the same miners logged in to the pool
// directly (the pool's sessions and the test miners are in this process
// too). For the farm sizing in the README.
func BenchmarkConnMemory_Passthrough(b *testing.B) {
	pool, err := sv1pool.Start(sv1pool.Config{Difficulty: tinyDiff})
	require.NoError(b, err)
	b.Cleanup(func() { pool.Close() })
	accts := &memAccounts{touched: map[string]int{}, byName: map[string]registry.Credentials{}}
	for i := range connBenchMiners {
		accts.byName[fmt.Sprint("acct", i)] = account(pool, fmt.Sprint("u", i))
	}
	login := func(target string, i int) net.Conn {
		c, err := net.Dial("tcp", target)
		require.NoError(b, err)
		m := testminer.NewSV1(b, c, testminer.WithReadBuffer(512))
		m.XSub = true
		m.Login(fmt.Sprint("acct", i), 0)
		return c
	}
	measure := func(target string) int64 {
		base := heapAndStacks()
		conns := make([]net.Conn, 0, connBenchMiners)
		for i := range connBenchMiners {
			conns = append(conns, login(target, i))
		}
		used := heapAndStacks() - base
		closeAll(conns)
		require.NoError(b, pool.WaitFor(waitCtx(b), func(s sv1pool.Stats) bool { return s.ActiveConnections == 0 }))
		return used
	}
	for b.Loop() {
		direct := measure(pool.Addr())
		// registry.keep 1: the proxy's sessions end a second after their
		// miners, before the next round.
		cfg := passthroughConfig(1)
		_, addr := startProxyDirect(b, cfg, WithAccounts(accts))
		withProxy := measure(addr)
		b.ReportMetric(float64(withProxy-direct)/connBenchMiners, "proxy-bytes/miner")
	}
}
