package stats

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// t0 is a minute boundary, so minute buckets line up with the test's
// arithmetic.
const t0 = int64(1_700_000_040)

func TestWindows_Rates_Good(t *testing.T) {
	// Every second for 25 hours, a share worth s%100 hashes at second s:
	// each window's rate is its exact sum over its length.
	var w Windows
	const span = 25 * 3600
	for s := int64(0); s < span; s++ {
		w.Add(t0+s, float64(s%100))
	}
	now := t0 + span - 1 // the last second of a minute
	require.Zero(t, (now+1)%60)
	sum := func(seconds int64) float64 {
		var x float64
		for s := span - seconds; s < span; s++ {
			x += float64(s % 100)
		}
		return x
	}
	r := w.Rates(now)
	for i, win := range WindowSeconds {
		require.InDelta(t, sum(win)/float64(win), r[i], 1e-9, "window %d s", win)
	}
	require.InDelta(t, sum(span)/float64(span), r[WindowAll], 1e-9)
	require.InDelta(t, sum(span), w.Total(), 1e-6)
}

func TestWindows_Rates_Bad(t *testing.T) {
	// Nothing recorded: zero rates; then a gap longer than every ring
	// clears them all (ring wrap without stale buckets).
	var w Windows
	require.Equal(t, [NumWindows]float64{}, w.Rates(t0))
	for s := int64(0); s < 600; s++ {
		w.Add(t0+s, 1000)
	}
	later := t0 + 2*86400
	w.Add(later, 60)
	r := w.Rates(later)
	require.InDelta(t, 1.0, r[Window60s], 1e-9, "only the new share")
	require.InDelta(t, 0.1, r[Window600s], 1e-9)
	cover := float64(1439*60 + later%60 + 1) // 1439 whole minutes and this one so far
	require.InDelta(t, 60.0/cover, r[Window24h], 1e-12)
	require.InDelta(t, (600*1000+60)/float64(later-t0+1), r[WindowAll], 1e-9, "all-time keeps everything")
	// A sample older than the rings hold is dropped, not misfiled.
	w.Add(later-5000, 1e9)
	require.Equal(t, r[Window60s], w.Rates(later)[Window60s])
}

func TestWindows_Rates_Ugly(t *testing.T) {
	// A fresh proxy: windows longer than the uptime average over the
	// time elapsed, so the first minute does not under-report.
	var w Windows
	w.Add(t0, 100)
	r := w.Rates(t0)
	for i := range r {
		require.InDelta(t, 100.0, r[i], 1e-9, "window %d after one second", i)
	}
	for s := int64(1); s < 10; s++ {
		w.Add(t0+s, 100)
	}
	r = w.Rates(t0 + 9)
	for i := range r {
		require.InDelta(t, 100.0, r[i], 1e-9, "steady 100 H/s for 10 s, window %d", i)
	}
	// Ring wrap of the per-second ring: 30 minutes at 10 H/s then 5
	// minutes at 0: the 10-minute window holds exactly 5 minutes of work.
	var v Windows
	for s := int64(0); s < 1800; s++ {
		v.Add(t0+s, 10)
	}
	now := t0 + 1800 + 300 - 1
	r = v.Rates(now)
	require.InDelta(t, 0.0, r[Window60s], 1e-9)
	require.InDelta(t, 5.0, r[Window600s], 1e-9)
	require.InDelta(t, 1800*10/float64(now-t0+1), r[Window1h], 1e-9, "1 h window covers all 35 minutes")
	require.False(t, math.IsNaN(r[Window12h]))
}

func TestRates_At_Good(t *testing.T) {
	// Steady mining: the decaying estimate matches the windowed average
	// (within 1 %) once a window has elapsed.
	var r Rates
	for s := int64(0); s < 6*86400; s++ { // six 24 h time constants
		r.Add(t0+s, 500) // 500 H/s
	}
	at := r.At(t0 + 6*86400 - 1)
	for i, v := range at {
		require.InDelta(t, 500, v, 5, "window %d", WindowSeconds[i])
	}
}

func TestRates_At_Bad(t *testing.T) {
	// After mining stops the estimate decays by e per window length
	// instead of dropping to zero (the observed-time correction, which
	// tends to 1, aside); nothing recorded reads zero.
	var zero Rates
	require.Equal(t, [NumWindows - 1]float64{}, zero.At(t0))
	var r Rates
	for s := int64(0); s < 2*86400; s++ {
		r.Add(t0+s, 100)
	}
	end := t0 + 2*86400 - 1
	before := r.At(end)
	for i, win := range WindowSeconds {
		after := r.At(end + win)
		corr := r.observed(end, win) / r.observed(end+win, win)
		require.InEpsilon(t, before[i]/math.E*corr, after[i], 1e-6, "window %d (float32 estimate)", win)
	}
	require.Equal(t, before, r.At(end), "At does not change the estimate")
	require.Equal(t, before, r.At(end-100), "a time in the past does not decay")
}

func TestRates_Merge_Ugly(t *testing.T) {
	// Merging two loops' estimates of one worker adds them, each decayed
	// to the same instant.
	var a, b Rates
	for s := int64(0); s < 7200; s++ {
		a.Add(t0+s, 10)
	}
	for s := int64(0); s < 3600; s++ {
		b.Add(t0+s, 30)
	}
	now := t0 + 7200
	want := a.At(now)
	bw := b.At(now)
	for i := range want {
		want[i] += bw[i]
	}
	a.Merge(&b, now)
	got := a.At(now)
	for i := range want {
		require.InEpsilon(t, want[i], got[i], 1e-6, "float32 estimates")
	}
}

// A steady rate reads the same in every window at every second of the
// minute: the minute windows divide by the time their buckets cover.
func TestWindows_SteadyRate_Good(t *testing.T) {
	var w Windows
	for s := int64(0); s < 2*3600; s++ {
		w.Add(t0+s, 1)
	}
	for s := int64(2 * 3600); s < 2*3600+60; s++ {
		w.Add(t0+s, 1)
		r := w.Rates(t0 + s)
		for i := Window60s; i <= Window1h; i++ {
			require.InDelta(t, 1.0, r[i], 1e-9, "window %d at second %d of the minute", i, (t0+s)%60)
		}
	}
}

// TestRates_SteadyRate_Good: a worker mining a steady 1000 H/s (a share
// worth 1000 hashes every second from its login) reads 1000 H/s in every
// window from the start — at 30 s, 5 min and 2 h — not a fraction of it
// until a whole window has passed.
func TestRates_SteadyRate_Good(t *testing.T) {
	w := NewWorkers(10)
	wk := w.Get("rig", t0) // the login
	for s := int64(1); s <= 7200; s++ {
		wk.Rates.Add(t0+s, 1000)
		if s != 30 && s != 300 && s != 7200 {
			continue
		}
		for i, v := range wk.Rates.At(t0 + s) {
			require.InEpsilon(t, 1000, v, 0.01, "%d s old, window %d s: %v", s, WindowSeconds[i], wk.Rates.At(t0+s))
		}
	}
	// A worker that mined its first 10 s and stopped: 10,000 hashes over
	// its 40 s of life.
	var idle Rates
	idle.Start(t0)
	for s := int64(1); s <= 10; s++ {
		idle.Add(t0+s, 1000)
	}
	require.InEpsilon(t, 10000.0/40, idle.At(t0 + 40)[Window24h], 0.01)
}

// TestRates_FortySeconds_Good: a worker 40 s old that sends a share every
// 4 s at difficulty 4000 (1000 H/s, as vardiff paces a miner) reads
// 1000 H/s in every window, 60 s to 24 h: each is judged over the 40 s the
// worker has existed. (Without that, the 60 s window would read ~500 H/s
// and the 24 h one ~0.5 H/s.)
func TestRates_FortySeconds_Good(t *testing.T) {
	w := NewWorkers(10)
	wk := w.Get("rig", t0) // the login
	for s := int64(4); s <= 40; s += 4 {
		wk.Rates.Add(t0+s, 4000)
	}
	for i, v := range wk.Rates.At(t0 + 40) {
		require.InEpsilon(t, 1000, v, 0.1, "window %d s: %v", WindowSeconds[i], wk.Rates.At(t0+40))
	}
	require.InEpsilon(t, 1000, wk.View(t0 + 40).Hashrate[Window60s], 0.1, "as /1/workers shows it")
}
