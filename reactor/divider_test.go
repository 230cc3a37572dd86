package reactor

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/registry"
)

func TestDivider_Clamp_Good(t *testing.T) {
	for _, c := range []struct{ in, out float64 }{
		{1, 1}, {65536, 65536}, {MaxDivider, MaxDivider},
		{5e-324, 1}, {0, 1}, {-3, 1}, {math.NaN(), 1}, {math.Inf(-1), 1},
		{0.5, 1}, {math.Inf(1), MaxDivider}, {1e300, MaxDivider},
	} {
		got, _ := clampDivider(c.in)
		require.Equal(t, c.out, got, "%v", c.in)
	}
}

// TestPassthrough_AbsurdDivider_Ugly: an account whose algorithm carries a
// divider like 5e-324 (a store written before the API bounded it) mines
// with a bounded divider: counters and hashrates stay finite.
func TestPassthrough_AbsurdDivider_Ugly(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	cred := account(pool, "u1")
	cred.Divider = 5e-324
	accts := &memAccounts{touched: map[string]int{}, byName: map[string]registry.Credentials{"acct1": cred}}
	p, addr := startProxy(t, passthroughConfig(60), WithAccounts(accts))
	m := testminer.DialSV1(t, addr)
	m.XSub = true
	m.Login("acct1", 0)
	require.Equal(t, "true", string(m.Submit().Result))
	testutil.Eventually(t, func() bool { return p.Summary().Counters.Accepted == 1 }, "the share is counted")
	sum := p.Summary()
	require.False(t, math.IsInf(sum.Counters.Hashes, 0) || math.IsNaN(sum.Counters.Hashes), "hashes %v", sum.Counters.Hashes)
	require.Greater(t, sum.Counters.Hashes, 0.0)
	for _, h := range sum.Hashrate {
		require.False(t, math.IsInf(h, 0) || math.IsNaN(h), "hashrate %v", sum.Hashrate)
	}
	ups, err := p.Upstreams(waitCtx(t))
	require.NoError(t, err)
	require.Len(t, ups, 1)
	require.Equal(t, 1.0, ups[0].Divider)
	ws, err := p.Workers(waitCtx(t))
	require.NoError(t, err)
	require.Len(t, ws, 1)
	for _, h := range ws[0].Hashrate {
		require.False(t, math.IsInf(h, 0) || math.IsNaN(h), "worker hashrate %v", ws[0].Hashrate)
	}
}
