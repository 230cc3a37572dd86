package reactor

import (
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

func TestReload_SV1Mode_Bad(t *testing.T) {
	// Passthrough needs an account store wired at start: a live switch is
	// kept out, with a warning, and the rest of the reload applies.
	pool := startPool(t, mockpool.Config{})
	p, _ := startProxy(t, baseConfig(pool.Addr()))
	next := p.Config().Clone()
	next.SV1Mode = "passthrough"
	next.CustomDiff = 5000
	warnings, err := p.Reload(next)
	require.NoError(t, err)
	require.Contains(t, warnings, "sv1-mode changes need a restart; keeping aggregate")
	require.Equal(t, "aggregate", p.Config().SV1Mode)
	require.Equal(t, uint64(5000), p.Config().CustomDiff)
}

func TestReload_HTTPSection_Ugly(t *testing.T) {
	// The API server does not move on a reload: a config without an http
	// section keeps the running one (token and restricted included), and
	// one with the same host and port applies its token at once.
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	cfg.HTTP = HTTPConfig{Enabled: true, Port: 18080, AccessToken: "T"}
	p, _ := startProxy(t, cfg)
	next := p.Config().Clone()
	next.HTTP = HTTPConfig{}
	warnings, err := p.Reload(next)
	require.NoError(t, err)
	require.NotEmpty(t, warnings)
	require.Equal(t, "T", p.Config().HTTP.AccessToken)
	require.True(t, p.Config().HTTP.Enabled)
	next = p.Config().Clone()
	next.HTTP.AccessToken = "U"
	warnings, err = p.Reload(next)
	require.NoError(t, err)
	require.Empty(t, warnings)
	require.Equal(t, "U", p.Config().HTTP.AccessToken)
}

// xmrig-proxy's stock file says "tls": {"enabled": true}: reloading the
// same file again is not a TLS change (Enabled is a pointer; the values
// are compared, not the pointers).
func TestReload_TLSEnabled_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	on := true
	cfg.TLS.Enabled = &on
	p, _ := startProxy(t, cfg)
	next := p.Config().Clone()
	warnings, err := p.Reload(next)
	require.NoError(t, err)
	require.Empty(t, warnings)
}

// TestReload_OneFamily_Good: a reload that changes only the CryptoNote
// pools moves the CryptoNote sessions and leaves the SV1 ones alone: no
// new SV1 pool connection, and an SV1 miner that does not take extranonce
// updates is not asked to reconnect.
func TestReload_OneFamily_Good(t *testing.T) {
	first := startPool(t, mockpool.Config{Seed: 1})
	second := startPool(t, mockpool.Config{Seed: 2})
	svPool := startSV1Pool(t, sv1pool.Config{})
	cfg := fastFailover(first.Addr())
	cfg.Pools = append(cfg.Pools, sv1Config(svPool.Addr()).Pools...)
	p, addr := startProxy(t, cfg)
	cn := testminer.DialCN(t, addr)
	require.Nil(t, cn.Login("WALLET").Error)
	sv := testminer.DialSV1(t, addr) // cpuminer-like: no extranonce updates
	sv.Login("farm.rig1", 0)
	require.Equal(t, "true", string(sv.Submit().Result))

	next := p.Config().Clone()
	next.Pools[0].URL = second.Addr()
	_, err := p.Reload(next)
	require.NoError(t, err)
	// Every loop has applied the reload once this runs after it.
	for _, s := range p.shardList() {
		pending, err := onLoop(waitCtx(t), s, func() int {
			n := 0
			for _, mp := range s.mappers {
				if mp.family == FamilySV1 && (mp.pending != nil || len(mp.retiring) > 0) {
					n++
				}
			}
			return n
		})
		require.NoError(t, err)
		require.Zero(t, pending, "no SV1 session is being moved")
	}
	r := cn.Read()
	require.Equal(t, "job", r.Method)
	require.Equal(t, second.CurrentJob().JobID, cn.Job.JobID, "the CryptoNote sessions moved")
	require.Equal(t, "true", string(sv.Submit().Result), "the SV1 miner still mines on its session")
	require.Equal(t, 1, svPool.Stats().Connections, "one SV1 pool connection, never redialled")
	testutil.Eventually(t, func() bool { return p.Summary().MinersNow == 2 }, "both miners still connected")
}
