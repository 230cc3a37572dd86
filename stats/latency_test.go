package stats

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLatency_Median_Good(t *testing.T) {
	var l Latency
	require.Zero(t, Median(l.Samples(nil)))
	for _, ms := range []uint32{80, 10, 30, 20, 90} {
		l.Add(ms)
	}
	require.Equal(t, uint32(30), Median(l.Samples(nil)))
	l.Add(100)
	require.Equal(t, uint32(80), Median(l.Samples(nil)), "even count: the upper middle")
}

func TestLatency_Add_Ugly(t *testing.T) {
	// The ring keeps the newest 1024 samples: memory is constant however
	// many shares flow, and old samples stop counting.
	var l Latency
	for i := 0; i < 5000; i++ {
		l.Add(1000)
	}
	for i := 0; i < 1024; i++ {
		l.Add(5)
	}
	s := l.Samples(nil)
	require.Len(t, s, 1024)
	require.Equal(t, uint32(5), Median(s))
	dst := make([]uint32, 3, 2000)
	require.Len(t, l.Samples(dst), 1027, "Samples appends")
}

func TestLatencyHistogram_Observe_Good(t *testing.T) {
	var h LatencyHistogram
	for _, ms := range []float64{0.5, 1, 1.5, 100, 100.01, 9999, 10000, 10001, 1e9} {
		h.Observe(ms)
	}
	want := [len(LatencyBuckets) + 1]uint64{}
	want[0] = 2                     // 0.5, 1 (bounds are inclusive)
	want[1] = 1                     // 1.5
	want[6] = 1                     // 100
	want[7] = 1                     // 100.01
	want[len(LatencyBuckets)-1] = 2 // 9999, 10000
	want[len(LatencyBuckets)] = 2   // 10001, 1e9: +Inf
	require.Equal(t, want, h.Counts)
	require.Equal(t, uint64(9), h.Count())
	require.InDelta(t, 0.5+1+1.5+100+100.01+9999+10000+10001+1e9, h.SumMs, 1e-6)
}

func TestLatencyHistogram_Merge_Bad(t *testing.T) {
	var a, b, zero LatencyHistogram
	a.Observe(3)
	b.Observe(3)
	b.Observe(700)
	a.Merge(&b)
	a.Merge(&zero)
	require.Equal(t, uint64(3), a.Count())
	require.Equal(t, uint64(2), a.Counts[2])
	require.Equal(t, uint64(1), a.Counts[9])
	require.Equal(t, 706.0, a.SumMs)
	require.Zero(t, zero.Count())
}

func TestSummary_AvgTime_Ugly(t *testing.T) {
	s := Summary{Uptime: 100}
	require.Zero(t, s.AvgTime(), "no share yet: 0, not a division by zero")
	s.Counters.Accepted = 3
	require.Equal(t, uint64(33), s.AvgTime())
}
