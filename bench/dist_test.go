package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/internal/hist"
)

func TestMedian_Good(t *testing.T) {
	require.Equal(t, 0.0, median(nil))
	require.Equal(t, 3.0, median([]float64{3}))
	require.Equal(t, 2.0, median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
	xs := []float64{5, 1, 3}
	median(xs)
	require.Equal(t, []float64{5, 1, 3}, xs, "input untouched")
}

func TestDistOf_Good(t *testing.T) {
	var r hist.Recorder
	rng := rand.New(rand.NewPCG(7, 8))
	var samples []time.Duration
	for i := 0; i < 5000; i++ {
		d := time.Duration(rng.Int64N(int64(80*time.Millisecond))) + 10*time.Microsecond
		samples = append(samples, d)
		r.Record(d)
	}
	h := r.Snapshot()
	d := distOf(h)
	require.Equal(t, int64(5000), d.count())
	var sum int64
	for i, b := range d.b {
		sum += b.N
		if i > 0 {
			require.Greater(t, b.V, d.b[i-1].V, "ascending, one entry per bucket")
		}
	}
	require.Equal(t, int64(5000), sum)
	require.Equal(t, h.Max(), d.max(), "the maximum is exact")
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99} {
		require.Equal(t, h.Quantile(q), d.quantile(q), "q=%v", q)
	}
	slices.Sort(samples)
	require.InDelta(t, float64(samples[2499]), float64(d.quantile(0.5)), float64(samples[2499])/60)
}

// TestDist_Sub_Good isolates the samples recorded between two snapshots
// of one cumulative histogram: how one job's fan-out is told apart.
func TestDist_Sub_Good(t *testing.T) {
	var r hist.Recorder
	for i := 1; i <= 1000; i++ {
		r.Record(time.Duration(i) * 100 * time.Microsecond) // 0.1..100 ms
	}
	before := r.Snapshot()
	for i := 1; i <= 300; i++ {
		r.Record(time.Duration(i) * 10 * time.Microsecond) // 0.01..3 ms, below the old max
	}
	after := r.Snapshot()
	job := distOf(after).sub(distOf(before))
	require.Equal(t, int64(300), job.count())
	require.InDelta(t, float64(3*time.Millisecond), float64(job.max()), float64(3*time.Millisecond)/60,
		"the job's last sample, though the cumulative max is 100 ms")
	require.InDelta(t, float64(1500*time.Microsecond), float64(job.quantile(0.5)), float64(1500*time.Microsecond)/60)

	r.Record(250 * time.Millisecond) // a new overall maximum: exact
	third := distOf(r.Snapshot()).sub(distOf(after))
	require.Equal(t, int64(1), third.count())
	require.Equal(t, 250*time.Millisecond, third.max())

	require.Zero(t, distOf(after).sub(distOf(after)).count())
	require.Zero(t, dist{}.max())
	require.Zero(t, distOf(hist.Histogram{}).quantile(0.5))
}

func TestMergeDists_Good(t *testing.T) {
	var a, b hist.Recorder
	for i := 1; i <= 100; i++ {
		a.Record(time.Duration(i) * time.Millisecond)
		b.Record(time.Duration(i+100) * time.Millisecond)
	}
	m := mergeDists(distOf(a.Snapshot()), distOf(b.Snapshot()), dist{})
	require.Equal(t, int64(200), m.count())
	require.Equal(t, 200*time.Millisecond, m.max())
	require.InDelta(t, float64(100*time.Millisecond), float64(m.quantile(0.5)), float64(2*time.Millisecond))
	require.Equal(t, 1.235, ms(1234567*time.Nanosecond))
}

func TestBucketKey_Good(t *testing.T) {
	require.Equal(t, 0, bucketKey(-5))
	require.Equal(t, 63, bucketKey(63))
	require.Equal(t, 64, bucketKey(64))
	require.Equal(t, bucketKey(1<<40), bucketKey(1<<50), "the last bucket holds everything above")
	require.Less(t, bucketKey(time.Millisecond), bucketKey(time.Millisecond+time.Millisecond/32))
}
