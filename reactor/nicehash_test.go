package reactor

import (
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/stratum"
)

func TestNicehash_FullFlow_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{Difficulty: 5000})
	p, addr := startProxy(t, baseConfig(pool.Addr()))

	miners := make([]*testMiner, 3)
	seen := map[byte]bool{}
	for i := range miners {
		miners[i] = dialMiner(t, addr)
		r := miners[i].login("WALLET")
		require.Nil(t, r.Error, r.raw)
		require.Equal(t, "OK", r.Result.Status)
		require.Len(t, r.Result.ID, 36, "session id is a UUID")
		require.Contains(t, r.Result.Extensions, "nicehash")
		require.Contains(t, r.Result.Extensions, "keepalive")
		require.Contains(t, r.Result.Extensions, "algo")
		fb := miners[i].fixedByte()
		require.False(t, seen[fb], "fixed byte %d handed out twice", fb)
		seen[fb] = true
	}
	for _, m := range miners {
		r := m.submit()
		require.Nil(t, r.Error, r.raw)
		require.Equal(t, "OK", r.Result.Status)
	}
	st := pool.Stats()
	require.Equal(t, int64(3), st.Accepted)
	require.Equal(t, 1, st.Logins, "three miners, one pool connection")
	// The pool saw each miner's nonce with its own top byte.
	eventually(t, func() bool { return p.Summary().Counters.Accepted == 3 }, "proxy stats")
	sum := p.Summary()
	require.Equal(t, uint64(3*5000), sum.Counters.Hashes)
	require.Equal(t, uint64(3), sum.MinersNow)
}

func TestNicehash_FullFlow_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	_, addr := startProxy(t, baseConfig(pool.Addr()))
	m := dialMiner(t, addr)
	require.Nil(t, m.login("WALLET").Error)
	nonce, result := m.share()
	r := m.submitRaw("not-my-session", m.job.JobID, nonce, result)
	require.NotNil(t, r.Error)
	require.Equal(t, stratum.MsgUnauthenticated, r.Error.Message)
	// The connection stays open and keeps working.
	r = m.submit()
	require.Nil(t, r.Error, r.raw)
	require.Equal(t, int64(1), pool.Stats().Accepted)
}
