package main

import (
	"math"
	"math/bits"
	"slices"
	"time"

	"forge.lthn.ai/core/go-proxy/bench/internal/hist"
)

// dist is a latency distribution as a sorted list of buckets, rebuilt from
// a hist.Histogram. Unlike a Histogram it can be subtracted: the samples
// recorded between two snapshots of a cumulative histogram are
// after.sub(before). That is how the harness isolates one job's fan-out
// (and the measurement window's submits) from the swarm's cumulative
// histograms.
type dist struct {
	b []bucket // ascending by value; counts > 0
	n int64
}

// bucket is one occupied histogram bucket: its representative value (the
// bucket midpoint, clamped to the exact minimum and maximum) and count.
type bucket struct {
	V time.Duration
	N int64
}

// Histogram layout of bench/internal/hist (64 sub-buckets per power of two
// up to 2^40 ns), mirrored here to key buckets when subtracting.
const (
	histSubBits = 6
	histMaxBits = 40
)

// bucketKey returns the hist bucket index of d.
func bucketKey(d time.Duration) int {
	v := uint64(max(d, 0))
	const sub = 1 << histSubBits
	if v < sub {
		return int(v)
	}
	if v >= 1<<histMaxBits {
		v = 1<<histMaxBits - 1
	}
	h := bits.Len64(v) - 1
	m := (v >> (h - histSubBits)) & (sub - 1)
	return sub + (h-histSubBits)*sub + int(m)
}

// distOf rebuilds the buckets of h from its quantile function: the value
// at each rank is its bucket's representative, so every run of equal
// values over consecutive ranks is one bucket. Each run is found with an
// exponential then binary search, so the cost is O(buckets × log n)
// quantile calls.
func distOf(h hist.Histogram) dist {
	n := h.Count()
	d := dist{n: n}
	if n == 0 {
		return d
	}
	at := func(rank int64) time.Duration {
		// Quantile takes rank ceil(q·n); (rank-0.5)/n lands on rank exactly.
		return h.Quantile((float64(rank) - 0.5) / float64(n))
	}
	for r := int64(1); r <= n; {
		v := at(r)
		lo, step := r, int64(1)
		hi := lo + step
		for hi <= n && at(hi) == v {
			lo = hi
			step *= 2
			hi = lo + step
		}
		hi = min(hi, n+1)
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if at(mid) == v {
				lo = mid
			} else {
				hi = mid
			}
		}
		d.b = append(d.b, bucket{V: v, N: lo - r + 1})
		r = lo + 1
	}
	return d
}

// sub returns the samples of d that are not in before, bucket by bucket.
// before must be an earlier snapshot of the same cumulative histogram.
func (d dist) sub(before dist) dist {
	prev := make(map[int]int64, len(before.b))
	for _, b := range before.b {
		prev[bucketKey(b.V)] += b.N
	}
	var out dist
	for _, b := range d.b {
		if n := b.N - prev[bucketKey(b.V)]; n > 0 {
			out.b = append(out.b, bucket{V: b.V, N: n})
			out.n += n
		}
	}
	return out
}

// mergeDists returns the union of several distributions.
func mergeDists(ds ...dist) dist {
	byKey := map[int]bucket{}
	var out dist
	for _, d := range ds {
		for _, b := range d.b {
			k := bucketKey(b.V)
			cur := byKey[k]
			cur.V = max(cur.V, b.V)
			cur.N += b.N
			byKey[k] = cur
			out.n += b.N
		}
	}
	for _, b := range byKey {
		out.b = append(out.b, b)
	}
	slices.SortFunc(out.b, func(x, y bucket) int { return int(x.V - y.V) })
	return out
}

// count returns the number of samples.
func (d dist) count() int64 { return d.n }

// quantile returns the value at quantile q (0.5 = median; q >= 1 the
// maximum), 0 when empty. Same rank rule as hist: rank ceil(q·n).
func (d dist) quantile(q float64) time.Duration {
	if d.n == 0 {
		return 0
	}
	if q >= 1 {
		return d.b[len(d.b)-1].V
	}
	rank := max(int64(math.Ceil(q*float64(d.n))), 1)
	var cum int64
	for _, b := range d.b {
		cum += b.N
		if cum >= rank {
			return b.V
		}
	}
	return d.b[len(d.b)-1].V
}

// max returns the largest sample (exact when it is the histogram's
// maximum, else within the bucket precision of ±0.8 %), 0 when empty.
func (d dist) max() time.Duration { return d.quantile(1) }

// median returns the median of xs (the mean of the two middle values for
// an even count), 0 for none. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// ms converts a duration to float milliseconds rounded to microseconds.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}
