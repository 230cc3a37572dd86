package stats

// Hashrate windows, in the order of /1/summary's "total" array (the last
// entry, all-time, is computed from the uptime).
const (
	Window60s = iota
	Window600s
	Window1h
	Window12h
	Window24h
	WindowAll
	NumWindows
)

// WindowSeconds is the length of each finite window.
var WindowSeconds = [NumWindows - 1]int64{60, 600, 3600, 12 * 3600, 24 * 3600}

// Windows sums hashes over the last 60 s … 24 h: a ring of per-second
// buckets for the last 10 minutes (the 60 s and 600 s windows are exact)
// and a ring of per-minute buckets for the last day (the 1 h, 12 h and
// 24 h windows cover the current, partial minute and the whole minutes
// before it, up to the window's length). 16 KiB in all, fixed. Rates are
// H/s: the hashes in the buckets summed, divided by the seconds those
// buckets cover. Not safe for concurrent use.
type Windows struct {
	sec    [600]float64
	min    [1440]float64
	lastS  int64 // unix second of the newest bucket in sec
	lastM  int64 // unix minute of the newest bucket in min
	total  float64
	start  int64
	primed bool
}

// Add records h hashes at unix second now. Times must not go backwards
// by more than the rings hold; older samples are dropped.
func (w *Windows) Add(now int64, h float64) {
	w.advance(now)
	if now <= w.lastS-int64(len(w.sec)) {
		return
	}
	w.sec[now%int64(len(w.sec))] += h
	if m := now / 60; m > w.lastM-int64(len(w.min)) {
		w.min[m%int64(len(w.min))] += h
	}
	w.total += h
}

// advance moves the rings to now, clearing buckets that fell out.
func (w *Windows) advance(now int64) {
	if !w.primed {
		w.primed, w.lastS, w.lastM, w.start = true, now, now/60, now
		return
	}
	if now > w.lastS {
		n := min(now-w.lastS, int64(len(w.sec)))
		for i := int64(1); i <= n; i++ {
			w.sec[(w.lastS+i)%int64(len(w.sec))] = 0
		}
		w.lastS = now
	}
	if m := now / 60; m > w.lastM {
		n := min(m-w.lastM, int64(len(w.min)))
		for i := int64(1); i <= n; i++ {
			w.min[(w.lastM+i)%int64(len(w.min))] = 0
		}
		w.lastM = m
	}
}

// Rates returns H/s over each window at unix second now, plus the
// all-time average since the first sample. A window longer than the time
// since the first sample is averaged over the time elapsed, so a fresh
// proxy does not under-report.
func (w *Windows) Rates(now int64) [NumWindows]float64 {
	var out [NumWindows]float64
	if !w.primed {
		return out
	}
	w.advance(now)
	elapsed := now - w.start + 1
	for i, win := range WindowSeconds {
		span := min(win, elapsed)
		var sum float64
		if win <= int64(len(w.sec)) {
			for s := now - span + 1; s <= now; s++ {
				sum += w.sec[s%int64(len(w.sec))]
			}
		} else {
			mins := (span + 59) / 60
			for m := now/60 - mins + 1; m <= now/60; m++ {
				sum += w.min[m%int64(len(w.min))]
			}
			// The newest bucket holds only the seconds of this minute so far.
			span = min(span, (mins-1)*60+now%60+1)
		}
		out[i] = sum / float64(span)
	}
	out[WindowAll] = w.total / float64(elapsed)
	return out
}

// Total returns the sum of every sample.
func (w *Windows) Total() float64 { return w.total }
