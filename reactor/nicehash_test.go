package reactor

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/stratum"
)

func TestNicehash_FullFlow_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{Difficulty: 5000})
	p, addr := startProxy(t, baseConfig(pool.Addr()))

	miners := make([]*testminer.CN, 3)
	seen := map[byte]bool{}
	for i := range miners {
		miners[i] = testminer.DialCN(t, addr)
		r := miners[i].Login("WALLET")
		require.Nil(t, r.Error, r.Raw)
		require.Equal(t, "OK", r.Result.Status)
		require.Len(t, r.Result.ID, 36, "session id is a UUID")
		require.Contains(t, r.Result.Extensions, "nicehash")
		require.Contains(t, r.Result.Extensions, "keepalive")
		require.Contains(t, r.Result.Extensions, "algo")
		fb := miners[i].FixedByte()
		require.False(t, seen[fb], "fixed byte %d handed out twice", fb)
		seen[fb] = true
	}
	for _, m := range miners {
		r := m.Submit()
		require.Nil(t, r.Error, r.Raw)
		require.Equal(t, "OK", r.Result.Status)
	}
	st := pool.Stats()
	require.Equal(t, int64(3), st.Accepted)
	require.Equal(t, 1, st.Logins, "three miners, one pool connection")
	// The pool saw each miner's nonce with its own top byte.
	testutil.Eventually(t, func() bool { return p.Summary().Counters.Accepted == 3 }, "proxy stats")
	sum := p.Summary()
	require.Equal(t, float64(3*5000), sum.Counters.Hashes)
	require.Equal(t, uint64(3), sum.MinersNow)
}

func TestNicehash_FullFlow_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	_, addr := startProxy(t, baseConfig(pool.Addr()))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	nonce, result := m.Share()
	r := m.SubmitRaw("not-my-session", m.Job.JobID, nonce, result)
	require.NotNil(t, r.Error)
	require.Equal(t, stratum.MsgUnauthenticated, r.Error.Message)
	// The connection stays open and keeps working.
	r = m.Submit()
	require.Nil(t, r.Error, r.Raw)
	require.Equal(t, int64(1), pool.Stats().Accepted)
}

func TestNicehash_FullFlow_Ugly(t *testing.T) {
	// 300 miners on one loop: 256 on the first pool connection, the rest
	// on a second; fixed bytes unique per connection.
	var mu sync.Mutex
	topBytes := map[string]map[string]bool{} // pool session → nonce top bytes
	pool := startPool(t, mockpool.Config{OnSubmit: func(s mockpool.Submit) {
		mu.Lock()
		defer mu.Unlock()
		if topBytes[s.SessionID] == nil {
			topBytes[s.SessionID] = map[string]bool{}
		}
		if topBytes[s.SessionID][s.Nonce[6:8]] {
			t.Errorf("fixed byte %s used twice on pool session %s", s.Nonce[6:8], s.SessionID)
		}
		topBytes[s.SessionID][s.Nonce[6:8]] = true
	}})
	p, addr := startProxy(t, baseConfig(pool.Addr()))
	miners := make([]*testminer.CN, 300)
	for i := range miners {
		miners[i] = testminer.DialCN(t, addr)
		r := miners[i].Login("WALLET")
		require.Nil(t, r.Error, "miner %d: %s", i, r.Raw)
	}
	for _, m := range miners {
		r := m.Submit()
		require.Nil(t, r.Error, r.Raw)
	}
	require.NoError(t, pool.WaitFor(waitCtx(t), func(s mockpool.Stats) bool { return s.Accepted == 300 }))
	sessions := pool.Sessions()
	require.Len(t, sessions, 2, "300 miners → 2 pool connections")
	require.Equal(t, int64(256), max(sessions[0].Accepted, sessions[1].Accepted))
	mu.Lock()
	require.Len(t, topBytes, 2)
	n := 0
	for _, set := range topBytes {
		n += len(set)
	}
	mu.Unlock()
	require.Equal(t, 300, n, "every miner's share carried a byte unique on its pool session")
	testutil.Eventually(t, func() bool { return p.Summary().Upstreams.Active == 2 }, "2 active upstreams")
}

func TestNicehash_MaxUpstreams_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	cfg.MaxUpstreams = 1
	_, addr := startProxy(t, cfg)
	for i := 0; i < 256; i++ {
		require.Nil(t, testminer.DialCN(t, addr).Login("WALLET").Error, "miner %d", i)
	}
	m := testminer.DialCN(t, addr)
	r := m.Login("WALLET")
	require.NotNil(t, r.Error)
	require.Equal(t, stratum.MsgProxyFull, r.Error.Message)
	m.ExpectClosed()
	require.Equal(t, 1, pool.Stats().Connections)
}
