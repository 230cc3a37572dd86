package stats

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// accept records one accepted share the way an event loop does: the
// counters, and the share's difficulty offered to the best list. The RFC's
// OnAccept tests below pin what this package owns (Best.Push ordering,
// Counters.Merge); the reactor's own accept path is tested end to end by
// reactor.TestSummary_ConcurrentReaders_Bad.
func accept(c *Counters, b *Best, diff uint64) {
	c.Accepted++
	c.Hashes += float64(diff)
	c.DiffSum += float64(diff)
	b.Push(diff)
}

func TestStats_OnAccept_Good(t *testing.T) {
	var c Counters
	var b Best
	accept(&c, &b, 100000)
	require.Equal(t, uint64(1), c.Accepted)
	require.Equal(t, float64(100000), c.Hashes)
	require.Equal(t, Best{100000}, b)
	accept(&c, &b, 250000)
	require.Equal(t, uint64(2), c.Accepted)
	require.Equal(t, float64(350000), c.Hashes)
	require.Equal(t, Best{250000, 100000}, b)
}

func TestStats_OnAccept_Bad(t *testing.T) {
	// 100 goroutines record shares at once, as the event loops do: each
	// owns its Counters and Best and publishes a copy under a lock that
	// readers take to merge. Run with -race.
	const goroutines, shares = 100, 200
	var mu sync.Mutex
	published := make([]struct {
		c Counters
		b Best
	}, goroutines)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := 0; r < 4; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var sum Counters
				var best Best
				mu.Lock()
				for i := range published {
					sum.Merge(&published[i].c)
					best.Merge(&published[i].b)
				}
				mu.Unlock()
				if sum.Accepted > goroutines*shares {
					panic("over-counted")
				}
			}
		}()
	}
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c Counters
			var b Best
			for i := 0; i < shares; i++ {
				accept(&c, &b, uint64(g*shares+i+1))
				if i%50 == 49 {
					mu.Lock()
					published[g].c, published[g].b = c, b
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	var sum Counters
	var best Best
	for i := range published {
		sum.Merge(&published[i].c)
		best.Merge(&published[i].b)
	}
	n := uint64(goroutines * shares)
	require.Equal(t, n, sum.Accepted)
	require.Equal(t, float64(n*(n+1)/2), sum.Hashes)
	for i := range best {
		require.Equal(t, n-uint64(i), best[i])
	}
}

func TestStats_OnAccept_Ugly(t *testing.T) {
	// 15 accepts of varying difficulty: best[9] is the 10th highest.
	diffs := []uint64{500, 9000, 12, 700000, 4321, 88, 100000, 3, 65536, 999, 250000, 17, 42000, 1, 777}
	var c Counters
	var b Best
	for _, d := range diffs {
		accept(&c, &b, d)
	}
	sorted := slices.Clone(diffs)
	slices.Sort(sorted)
	slices.Reverse(sorted)
	require.Equal(t, sorted[:10], b[:])
	require.Equal(t, uint64(500), b[9])
	require.Equal(t, uint64(15), c.Accepted)
}

func TestBest_Push_Good(t *testing.T) {
	// Against a brute-force reference, with duplicates and zeros.
	rng := rand.New(rand.NewPCG(1, 2))
	var b Best
	var all []uint64
	for i := 0; i < 1000; i++ {
		d := rng.Uint64N(50)
		all = append(all, d)
		b.Push(d)
		ref := slices.Clone(all)
		slices.Sort(ref)
		slices.Reverse(ref)
		var want Best
		copy(want[:], ref)
		require.Equal(t, want, b, "after %d pushes", i+1)
	}
}

func TestBest_Merge_Ugly(t *testing.T) {
	a := Best{9, 7, 5}
	b := Best{8, 6, 0, 4} // stops at the first zero, as a partly filled list does
	a.Merge(&b)
	require.Equal(t, Best{9, 8, 7, 6, 5}, a)
	var empty Best
	a.Merge(&empty)
	require.Equal(t, Best{9, 8, 7, 6, 5}, a)
}

func TestCounters_Merge_Good(t *testing.T) {
	a := Counters{Accepted: 1, Rejected: 2, Invalid: 3, Expired: 4, Hashes: 5.5, DiffSum: 6, CustomAccepted: 7, CustomHashes: 8,
		Timeouts: 9, Connections: 10, Refused: 11, RateLimited: 12, Banned: 13, SlowClosed: 14, BadLines: 15,
		LoginTimeouts: 16, IdleTimeouts: 17, BytesIn: 18, BytesOut: 19}
	var sum Counters
	sum.Merge(&a)
	sum.Merge(&a)
	require.Equal(t, Counters{Accepted: 2, Rejected: 4, Invalid: 6, Expired: 8, Hashes: 11, DiffSum: 12, CustomAccepted: 14, CustomHashes: 16,
		Timeouts: 18, Connections: 20, Refused: 22, RateLimited: 24, Banned: 26, SlowClosed: 28, BadLines: 30,
		LoginTimeouts: 32, IdleTimeouts: 34, BytesIn: 36, BytesOut: 38}, sum)
}
