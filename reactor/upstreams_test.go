package reactor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/upstream"
)

func TestAutoUpstreams_Good(t *testing.T) {
	cn := upstream.PoolConfig{URL: "cn:3333"}
	sv := upstream.PoolConfig{URL: "sv:3333", Family: upstream.SV1}
	off := upstream.PoolConfig{URL: "off:3333", Family: upstream.SV1, Enabled: new(bool)}
	for _, c := range []struct {
		name         string
		cfg          Config
		conns, loops int
		want         int
	}{
		{"nicehash", Config{Mode: "nicehash", SV1Mode: "aggregate", Pools: []upstream.PoolConfig{cn}}, 19736, 2, 2 + 2*78},
		{"nicehash, a disabled SV1 pool", Config{Mode: "nicehash", SV1Mode: "aggregate", Pools: []upstream.PoolConfig{cn, off}}, 19736, 2, 2 + 2*78},
		{"both families shared", Config{Mode: "nicehash", SV1Mode: "aggregate", Pools: []upstream.PoolConfig{cn, sv}}, 300, 1, 2 * (1 + 2*2)},
		{"simple", Config{Mode: "simple", SV1Mode: "aggregate", Pools: []upstream.PoolConfig{cn}}, 5000, 4, 5000},
		{"passthrough only", Config{Mode: "nicehash", SV1Mode: "passthrough"}, 5000, 4, 5000},
		{"nicehash and passthrough", Config{Mode: "nicehash", SV1Mode: "passthrough", Pools: []upstream.PoolConfig{cn}}, 512, 1, 5 + 512},
		{"nothing to serve", Config{Mode: "nicehash", SV1Mode: "aggregate"}, 0, 0, 1},
	} {
		require.Equal(t, c.want, autoUpstreams(&c.cfg, c.conns, c.loops), c.name)
	}
}

func TestMaxUpstreams_Validate_Bad(t *testing.T) {
	for v, ok := range map[int]bool{-2: false, -1: true, 0: true, 7: true} {
		_, _, err := ParseConfig([]byte(`{"pools":[{"url":"p:3333"}],"max-upstreams":` + itoa(v) + `}`))
		if ok {
			require.NoError(t, err, v)
		} else {
			require.ErrorContains(t, err, "max-upstreams", v)
		}
	}
}

// TestMaxUpstreams_Auto_Ugly: a burst of logins that leave at once (each
// leaves its nonce byte dead until the pool's next job) fills a session
// every 256 logins; the automatic max-upstreams stops the pool sessions at
// one per loop plus two per 256 allowed miners, and further logins get
// "Proxy is full" instead of a pool connection each 256.
func TestMaxUpstreams_Auto_Ugly(t *testing.T) {
	ms := newMemShard(t, nil)
	p := ms.s.p
	p.maxConns = 300 // auto: 1 loop + 2 × ⌈300 ÷ 256⌉ = 5 sessions
	want := int64(autoUpstreams(p.cfg.Load(), 300, 1))
	require.Equal(t, int64(5), want)
	full := 0
	for i := 0; i < 20*256 && full == 0; i++ {
		m, sink := ms.addMiner(t, "FLOOD")
		if strings.Contains(string(sink.last), "Proxy is full") {
			full = i
		}
		m.closed()
	}
	require.NotZero(t, full, "the burst hit the cap")
	require.Equal(t, want, p.upstreams.Load(), "pool sessions stop at the automatic cap")
	// The first session (not counted: built by the test) and the 5 capped ones.
	require.Len(t, ms.s.mappers, 1+int(want))
	require.Equal(t, 256*(1+int(want)), full, "every slot of every session was used before refusing")
}

// TestMapper_GCEmptyExtra_Good: an extra shared session that has no miner
// is closed after mapperGCAfter (10 s), and the shard's first session
// never is, however long it stays empty.
func TestMapper_GCEmptyExtra_Good(t *testing.T) {
	ms := newMemShard(t, nil)
	s := ms.s
	require.True(t, s.p.reserveUpstream())
	extra := s.newMapper(FamilyCryptoNote, kindNiceHash, nil)
	m, _ := ms.addMiner(t, "W") // fills the first session: the extra stays empty
	require.Same(t, ms.mp, m.mp)
	// The mappers' duties at the shard's clock (shard.tick would read the
	// wall clock).
	start := s.now
	for s.now = start; s.now < start+mapperGCAfter; s.now++ {
		extra.tick()
	}
	require.NotEqual(t, mapperClosed, extra.state, "still inside the grace")
	s.now = start + 10
	extra.tick()
	require.Equal(t, mapperClosed, extra.state, "closed 10 s after it became empty")
	require.Zero(t, s.p.upstreams.Load())
	require.Len(t, s.mappers, 1)
	m.closed()
	for s.now = start + 10; s.now < start+600; s.now += 30 {
		ms.mp.tick()
	}
	require.NotEqual(t, mapperClosed, ms.mp.state, "the first session stays")
}
