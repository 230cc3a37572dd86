// Package hist records latency distributions for the load tools: a bounded,
// mergeable log-linear histogram of durations with percentile helpers and a
// one-line text rendering.
//
// Each bucket spans 1/64 of its power of two, so a reported percentile is
// within ±0.8 % of the true sample (the bucket midpoint is reported, clamped
// to the exact minimum and maximum). Memory is fixed (18 KiB per Recorder)
// whatever the number of samples, and a snapshot holds only the span
// of occupied buckets; values of 2^40 ns (about 18 minutes) and
// more land in the last bucket, negative values count as 0.
package hist

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"
)

const (
	subBits    = 6
	subCount   = 1 << subBits // buckets per power of two
	maxBits    = 40           // values >= 2^maxBits ns share the last bucket
	numBuckets = subCount + (maxBits-subBits)*subCount
)

// bucketOf returns the bucket index of v nanoseconds.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	if v >= 1<<maxBits {
		v = 1<<maxBits - 1
	}
	h := bits.Len64(v) - 1 // subBits..maxBits-1
	m := (v >> (h - subBits)) & (subCount - 1)
	return subCount + (h-subBits)*subCount + int(m)
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < subCount {
		return uint64(i), uint64(i)
	}
	j := i - subCount
	h := j/subCount + subBits
	m := uint64(j % subCount)
	lo = 1<<h | m<<(h-subBits)
	return lo, lo + 1<<(h-subBits) - 1
}

// Recorder accumulates samples. The zero value is empty and ready to use.
// A Recorder is not safe for concurrent use: its owner records into it and
// takes snapshots (or lets others do so under the owner's lock).
type Recorder struct {
	counts       [numBuckets]uint64
	n, sum       uint64
	min, max     uint64
	sumSaturated bool
}

// Record adds one sample; negative durations count as 0.
func (r *Recorder) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	r.counts[bucketOf(v)]++
	if r.n == 0 || v < r.min {
		r.min = v
	}
	if v > r.max {
		r.max = v
	}
	r.n++
	if s := r.sum + v; s >= r.sum {
		r.sum = s
	} else {
		r.sumSaturated = true
	}
}

// Count returns the number of samples recorded.
func (r *Recorder) Count() int64 { return int64(r.n) }

// Reset forgets every sample.
func (r *Recorder) Reset() { *r = Recorder{} }

// Snapshot returns an immutable copy of the distribution.
func (r *Recorder) Snapshot() Histogram { return MergeRecorders(r) }

// MergeRecorders returns the combined distribution of several recorders as
// one immutable Histogram. The caller must hold whatever lock guards each
// recorder. It allocates one slice covering the occupied buckets only.
func MergeRecorders(rs ...*Recorder) Histogram {
	var h Histogram
	lo, hi := numBuckets, -1
	for _, r := range rs {
		if r == nil || r.n == 0 {
			continue
		}
		lo = min(lo, bucketOf(r.min))
		hi = max(hi, bucketOf(r.max))
	}
	if hi < 0 {
		return h
	}
	h.lo = lo
	h.counts = make([]uint64, hi-lo+1)
	for _, r := range rs {
		if r == nil || r.n == 0 {
			continue
		}
		for i := range h.counts {
			h.counts[i] += r.counts[lo+i]
		}
		h.add(r.n, r.sum, r.min, r.max, r.sumSaturated)
	}
	return h
}

// Histogram is an immutable snapshot of a distribution of durations. The
// zero value is an empty histogram. Histograms are values: copies share
// read-only memory and are safe to use from any goroutine.
type Histogram struct {
	lo           int      // bucket index of counts[0]
	counts       []uint64 // buckets lo .. lo+len-1; nil when empty
	n, sum       uint64
	min, max     uint64
	sumSaturated bool
}

func (h *Histogram) add(n, sum, min, max uint64, sat bool) {
	if h.n == 0 || min < h.min {
		h.min = min
	}
	if max > h.max {
		h.max = max
	}
	h.n += n
	if s := h.sum + sum; s >= h.sum && !sat && !h.sumSaturated {
		h.sum = s
	} else {
		h.sumSaturated = true
	}
}

// Merge returns the combined distribution of hs.
func Merge(hs ...Histogram) Histogram {
	var out Histogram
	lo, hi := numBuckets, -1
	for _, h := range hs {
		if h.n == 0 {
			continue
		}
		lo = min(lo, h.lo)
		hi = max(hi, h.lo+len(h.counts)-1)
	}
	if hi < 0 {
		return out
	}
	out.lo = lo
	out.counts = make([]uint64, hi-lo+1)
	for _, h := range hs {
		if h.n == 0 {
			continue
		}
		for i, c := range h.counts {
			out.counts[h.lo-lo+i] += c
		}
		out.add(h.n, h.sum, h.min, h.max, h.sumSaturated)
	}
	return out
}

// Count returns the number of samples.
func (h Histogram) Count() int64 { return int64(h.n) }

// Min returns the smallest sample, 0 when empty.
func (h Histogram) Min() time.Duration { return time.Duration(h.min) }

// Max returns the largest sample (exact), 0 when empty.
func (h Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the arithmetic mean, 0 when empty.
func (h Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	if h.sumSaturated {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(h.sum / h.n)
}

// Quantile returns the sample at quantile q (0 < q <= 1; 0.5 is the median)
// within the bucket precision, 0 when empty. q <= 0 gives Min, q >= 1 Max.
func (h Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q <= 0 {
		return h.Min()
	}
	if q >= 1 {
		return h.Max()
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank == 0 {
		rank = 1
	}
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			lo, hi := bucketRange(h.lo + i)
			v := lo + (hi-lo)/2
			v = max(v, h.min)
			v = min(v, h.max)
			return time.Duration(v)
		}
	}
	return h.Max()
}

// P50 returns the median.
func (h Histogram) P50() time.Duration { return h.Quantile(0.50) }

// P90 returns the 90th percentile.
func (h Histogram) P90() time.Duration { return h.Quantile(0.90) }

// P99 returns the 99th percentile.
func (h Histogram) P99() time.Duration { return h.Quantile(0.99) }

// String renders the histogram on one line:
// "n=1500 p50=1.23ms p90=2.01ms p99=3.40ms max=4.10ms", or "n=0".
func (h Histogram) String() string {
	if h.n == 0 {
		return "n=0"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d p50=%s p90=%s p99=%s max=%s",
		h.n, FormatDuration(h.P50()), FormatDuration(h.P90()),
		FormatDuration(h.P99()), FormatDuration(h.Max()))
	return b.String()
}

// FormatDuration renders d with three significant digits in a unit that
// suits it: "850ns", "12.3µs", "1.23ms", "2.50s".
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", int64(d))
	case d < time.Millisecond:
		return sig3(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return sig3(float64(d)/float64(time.Millisecond)) + "ms"
	default:
		return sig3(float64(d)/float64(time.Second)) + "s"
	}
}

func sig3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
