package stats

import "slices"

// Best keeps the ten highest share difficulties, highest first. The zero
// value is ready. Not safe for concurrent use.
type Best [10]uint64

// Push offers one share difficulty.
func (b *Best) Push(d uint64) {
	if d <= b[len(b)-1] {
		return
	}
	i := len(b) - 1
	for i > 0 && b[i-1] < d {
		b[i] = b[i-1]
		i--
	}
	b[i] = d
}

// Merge offers every value of o.
func (b *Best) Merge(o *Best) {
	for _, d := range o {
		if d == 0 {
			break
		}
		b.Push(d)
	}
}

// Latency keeps the most recent pool answer times (milliseconds) in a
// fixed ring of 1024 samples, so memory is constant however many shares
// flow. Not safe for concurrent use.
type Latency struct {
	ring [1024]uint32
	n    int // samples stored (≤ len(ring))
	pos  int
}

// Add records one latency in milliseconds.
func (l *Latency) Add(ms uint32) {
	l.ring[l.pos] = ms
	l.pos = (l.pos + 1) % len(l.ring)
	if l.n < len(l.ring) {
		l.n++
	}
}

// Samples appends the stored samples to dst.
func (l *Latency) Samples(dst []uint32) []uint32 { return append(dst, l.ring[:l.n]...) }

// Median returns the median of samples (0 when empty); it sorts samples.
func Median(samples []uint32) uint32 {
	if len(samples) == 0 {
		return 0
	}
	slices.Sort(samples)
	return samples[len(samples)/2]
}
