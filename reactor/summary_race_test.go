package reactor

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// TestStats_OnAccept_Bad through a real proxy: 100 goroutines read
// Summary (and the loop snapshots) while shares flow; under -race no
// reader ever touches what an event loop is writing, and the counts add
// up.
func TestSummary_ConcurrentReaders_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	p, addr := startProxy(t, baseConfig(pool.Addr()))
	stop := make(chan struct{})
	var overCounted atomic.Bool
	var readers sync.WaitGroup
	for i := 0; i < 100; i++ {
		readers.Add(1)
		ctx := waitCtx(t)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := p.Summary()
				if s.Counters.Accepted > 40 {
					overCounted.Store(true)
					return
				}
				if i%25 == 0 {
					_, _ = p.Workers(ctx)
					_, _ = p.Miners(ctx)
					_, _ = p.Upstreams(ctx)
				}
			}
		}()
	}
	miners := []*testminer.CN{testminer.DialCN(t, addr), testminer.DialCN(t, addr)}
	for _, m := range miners {
		require.Nil(t, m.Login("WALLET").Error)
	}
	for i := 0; i < 20; i++ {
		for _, m := range miners {
			require.Nil(t, m.Submit().Error)
		}
	}
	testutil.Eventually(t, func() bool { return p.Summary().Counters.Accepted == 40 }, "40 accepted")
	close(stop)
	readers.Wait()
	require.False(t, overCounted.Load(), "a reader saw more than 40 accepted")
	s := p.Summary()
	require.Equal(t, float64(40*1000), s.ByFamily[FamilyCryptoNote].Hashes)
	require.Equal(t, uint64(2), s.MinersNow)
}
