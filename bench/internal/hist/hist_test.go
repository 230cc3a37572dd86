package hist

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBucket_Good(t *testing.T) {
	prevHi := uint64(0)
	for i := 0; i < numBuckets; i++ {
		lo, hi := bucketRange(i)
		require.LessOrEqual(t, lo, hi)
		if i > 0 {
			require.Equal(t, prevHi+1, lo, "bucket %d", i)
		}
		require.Equal(t, i, bucketOf(lo))
		require.Equal(t, i, bucketOf(hi))
		prevHi = hi
	}
	require.Equal(t, uint64(1<<maxBits-1), prevHi)
	require.Equal(t, numBuckets-1, bucketOf(1<<62))
}

func TestHistogram_Quantile_Good(t *testing.T) {
	var r Recorder
	rng := rand.New(rand.NewPCG(1, 2))
	samples := make([]time.Duration, 0, 20000)
	for i := 0; i < 20000; i++ {
		d := time.Duration(rng.Int64N(int64(50 * time.Millisecond)))
		samples = append(samples, d)
		r.Record(d)
	}
	slices.Sort(samples)
	h := r.Snapshot()
	require.Equal(t, int64(20000), h.Count())
	require.Equal(t, samples[0], h.Min())
	require.Equal(t, samples[len(samples)-1], h.Max())
	for _, q := range []float64{0.5, 0.9, 0.99} {
		exact := samples[int(q*float64(len(samples)))-1]
		got := h.Quantile(q)
		require.InDelta(t, float64(exact), float64(got), float64(exact)/60, "q=%v", q)
	}
	require.Contains(t, h.String(), "n=20000 p50=")
}

func TestHistogram_Merge_Good(t *testing.T) {
	var a, b Recorder
	for i := 1; i <= 100; i++ {
		a.Record(time.Duration(i) * time.Millisecond)
		b.Record(time.Duration(i+100) * time.Millisecond)
	}
	m := MergeRecorders(&a, &b)
	require.Equal(t, int64(200), m.Count())
	require.Equal(t, time.Millisecond, m.Min())
	require.Equal(t, 200*time.Millisecond, m.Max())
	require.InDelta(t, float64(100*time.Millisecond), float64(m.P50()), float64(2*time.Millisecond))
	m2 := Merge(a.Snapshot(), b.Snapshot())
	require.Equal(t, m.P99(), m2.P99())
	require.Equal(t, m.Mean(), m2.Mean())
}

func TestHistogram_Empty_Ugly(t *testing.T) {
	var h Histogram
	require.Equal(t, "n=0", h.String())
	require.Zero(t, h.P99())
	var r Recorder
	r.Record(-5)
	require.Equal(t, time.Duration(0), r.Snapshot().Max())
	require.Equal(t, "1.23ms", FormatDuration(1234567))
}
