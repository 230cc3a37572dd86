package stats

import "math"

// Rates estimates one worker's hashrate over the five finite windows as
// exponentially decaying averages whose time constants are the window
// lengths: 28 bytes a worker (float32 is ample for an estimate) instead of
// a ring of buckets per window, which would cost kilobytes for 24 hours. For steady mining the estimate equals
// the windowed average; after mining stops it decays instead of dropping to
// zero at the window's end. The zero value is ready. Not safe for
// concurrent use.
type Rates struct {
	v  [NumWindows - 1]float32
	at int64 // unix second of the last update
}

// Add records h hashes at unix second now.
func (r *Rates) Add(now int64, h float64) {
	r.decay(now)
	for i, win := range WindowSeconds {
		r.v[i] += float32(h / float64(win))
	}
}

func (r *Rates) decay(now int64) {
	if r.at == 0 {
		r.at = now
		return
	}
	if dt := now - r.at; dt > 0 {
		for i, win := range WindowSeconds {
			r.v[i] *= float32(math.Exp(-float64(dt) / float64(win)))
		}
		r.at = now
	}
}

// At returns the H/s estimates at unix second now (60 s … 24 h).
func (r *Rates) At(now int64) [NumWindows - 1]float64 {
	c := *r
	c.decay(now)
	var out [NumWindows - 1]float64
	for i, v := range c.v {
		out[i] = float64(v)
	}
	return out
}

// Merge adds o's estimates into r (both decayed to now).
func (r *Rates) Merge(o *Rates, now int64) {
	r.decay(now)
	ov := o.At(now)
	for i := range r.v {
		r.v[i] += float32(ov[i])
	}
}
