package stats

import "math"

// Rates estimates one worker's hashrate over the five finite windows as
// exponentially decaying averages whose time constants are the window
// lengths: 28 bytes a worker (float32 is ample for an estimate) instead of
// a ring of buckets per window, which would cost kilobytes for 24 hours.
// For steady mining the estimate equals the windowed average; after mining
// stops it decays instead of dropping to zero at the window's end.
//
// A window only covers the time the worker has been observed (since Start,
// or the first Add): a worker 40 s old is judged over those 40 s, not over
// 24 hours, so every window reads its true rate from the start. (The raw
// average is divided by 1 − e^(−elapsed/window), the share of the window's
// weight that the observed time carries.) The zero value is ready. Not safe
// for concurrent use.
type Rates struct {
	v     [NumWindows - 1]float32
	since uint32 // unix second observation began; 0 = not yet
	at    uint32 // unix second of the last update (uint32: until 2106)
}

// Start marks unix second now as the beginning of the worker's observed
// time (its login). Without it the first Add starts it.
func (r *Rates) Start(now int64) {
	if r.since == 0 && now > 0 {
		r.since = uint32(now)
	}
}

// Add records h hashes at unix second now.
func (r *Rates) Add(now int64, h float64) {
	r.Start(now)
	r.decay(now)
	for i, win := range WindowSeconds {
		r.v[i] += float32(h / float64(win))
	}
}

func (r *Rates) decay(now int64) {
	if r.at == 0 {
		r.at = uint32(now)
		return
	}
	if dt := now - int64(r.at); dt > 0 {
		for i, win := range WindowSeconds {
			r.v[i] *= float32(math.Exp(-float64(dt) / float64(win)))
		}
		r.at = uint32(now)
	}
}

// observed returns the fraction of window win's weight that the observed
// time up to now carries (1 once the worker is much older than win).
func (r *Rates) observed(now, win int64) float64 {
	el := max(now-int64(r.since), 1)
	return -math.Expm1(-float64(el) / float64(win))
}

// At returns the H/s estimates at unix second now (60 s … 24 h).
func (r *Rates) At(now int64) [NumWindows - 1]float64 {
	var out [NumWindows - 1]float64
	if r.at == 0 {
		return out
	}
	c := *r
	c.decay(now)
	for i, v := range c.v {
		out[i] = float64(v) / c.observed(max(now, int64(c.at)), WindowSeconds[i])
	}
	return out
}

// Merge adds o's estimates into r (both evaluated at now): right after it,
// r.At(now) is the sum of the two.
func (r *Rates) Merge(o *Rates, now int64) {
	ov := o.At(now)
	if r.at == 0 {
		*r = *o
		return
	}
	r.decay(now)
	for i := range r.v {
		r.v[i] += float32(ov[i] * r.observed(max(now, int64(r.at)), WindowSeconds[i]))
	}
}
