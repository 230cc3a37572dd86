package simminer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// A simulated CryptoNote miner on a pool that checks every share: its
// shares are accepted, arrive at about hashrate/difficulty a second, and
// their difficulties (the claim of each result) say its speed.
func TestCN_Pool_Good(t *testing.T) {
	pool, err := mockpool.Start(mockpool.Config{Difficulty: 1000})
	require.NoError(t, err)
	t.Cleanup(func() { pool.Close() })
	m, err := StartCN(context.Background(), Config{Addr: pool.Addr(), User: "W", RigID: "r", Hashrate: 50_000, Seed: 1})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	testutil.Eventually(t, func() bool { st := m.Stats(); return st.Accepted() >= 100 }, "100 shares accepted")
	st := m.Stats()
	require.Empty(t, st.Rejected())
	require.NoError(t, st.Err)
	require.Equal(t, 1000.0, st.Diff)
	// 100 shares of a Poisson process: the measured rate is within 40 %.
	from, to := st.Started, st.Shares[99].At
	require.InEpsilon(t, 50_000, st.MeasuredHashrate(from, to, 1), 0.4)
	require.Zero(t, pool.Stats().LowDiff)
}

// A paced SV1 miner really hashes: a pool that verifies every share
// accepts them all, at about the pace set.
func TestSV1_Pool_Good(t *testing.T) {
	pool, err := sv1pool.Start(sv1pool.Config{Difficulty: 1.0 / (1 << 16)})
	require.NoError(t, err)
	t.Cleanup(func() { pool.Close() })
	start := time.Now()
	m, err := StartSV1(context.Background(), Config{Addr: pool.Addr(), User: "w", Hashrate: 400_000})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	testutil.Eventually(t, func() bool { st := m.Stats(); return st.Accepted() >= 12 }, "12 shares accepted")
	st := m.Stats()
	require.Empty(t, st.Rejected())
	require.NoError(t, st.Err)
	require.Zero(t, pool.Stats().Rejected)
	// 12 shares of 65,536 hashes at 400 kH/s take ~2 s; never much less
	// (the pace holds).
	require.Greater(t, time.Since(start), 900*time.Millisecond)
}

// A scrypt miner on a scrypt pool.
func TestSV1_Scrypt_Good(t *testing.T) {
	pool, err := sv1pool.Start(sv1pool.Config{Difficulty: 1.0 / (1 << 9), Algo: "scrypt"}) // 128 hashes a share
	require.NoError(t, err)
	t.Cleanup(func() { pool.Close() })
	m, err := StartSV1(context.Background(), Config{Addr: pool.Addr(), User: "w", Hashrate: 2000, Scrypt: true})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	testutil.Eventually(t, func() bool { st := m.Stats(); return st.Accepted() >= 3 }, "3 scrypt shares accepted")
	require.Zero(t, pool.Stats().Rejected)
}
