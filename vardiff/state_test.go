package vardiff

import (
	"math"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// cfg returns a normalized Config with target 10 s, retarget 30 s,
// variance 0.3 and min-diff 1.
func cfg() *Config {
	c := &Config{Enabled: true, MinDiff: 1}
	c.Normalize()
	return c
}

// started returns a State at difficulty d from t0 (initial-diff d, a pool
// far above).
func started(c *Config, d float64, t0 int64) State {
	cc := *c
	cc.InitialDiff = d
	var s State
	s.Start(&cc, 1e12, 0, 1, t0)
	return s
}

// feed counts n shares judged at d at time now; it reports whether any
// asked for an early retarget.
func feed(s *State, c *Config, n int, d float64, now int64) bool {
	due := false
	for range n {
		due = s.Share(c, d, now) || due
	}
	return due
}

func TestState_Size_Good(t *testing.T) {
	require.Equal(t, uintptr(24), unsafe.Sizeof(State{}), "19,000 miners × 24 B = 456 KB")
}

func TestState_Inactive_Good(t *testing.T) {
	c := cfg()
	var s State
	require.False(t, s.Active())
	require.False(t, s.Share(c, 100, 5))
	d, ch := s.Retarget(c, 1000, 100)
	require.Zero(t, d)
	require.False(t, ch)
	_, ch = s.Bound(c, 1, 100)
	require.False(t, ch)

	require.Zero(t, s.Start(c, 0, 0, 1, 0), "no pool difficulty: stays inactive")
	require.False(t, s.Active())
	require.Equal(t, 1000.0, s.Start(c, 1000, 0, 1, 0))
	require.True(t, s.Active())
	s.Stop()
	require.False(t, s.Active())
	require.Equal(t, State{}, s)
}

// Retarget decisions on one window: difficulty 1000, where one share per
// 10 s (the target) is 100 diff/s; the miner sends a share every interval
// seconds (0 = none); the sweep runs every second.
func TestState_Retarget_Good(t *testing.T) {
	const t0, d0, pool = 1_000_000, 1000.0, 1e9
	cases := []struct {
		name     string
		interval int64
		at       int64   // second of the first change, 0 = none up to horizon
		want     float64 // the difficulty then
	}{
		{"on target: never", 10, 0, d0},
		{"1.2× slower, within variance: never", 12, 0, d0},
		{"1.2× faster, within variance: never", 8, 0, d0},
		{"2.5× too fast: proven at the first check", 4, 30, d0 * 7 / 3},
		{"1.67× too fast: not proven at 30 or 60 s, at 120 s", 6, 120, d0 * 20 / 12},
		{"2× too slow: proven at 240 s", 20, 240, d0 / 2},
		{"3× too slow: a quarter of the rate after 8 targets (late)", 30, 80, d0 * 2 / 8},
		{"no share: after 4 targets, ÷8 (late)", 0, 40, d0 / 8},
	}
	c := cfg()
	const horizon = 1200
	for _, tc := range cases {
		s := started(c, d0, t0)
		at, d := int64(0), d0
		for a := int64(1); a <= horizon && at == 0; a++ {
			if tc.interval > 0 && a%tc.interval == 0 {
				require.False(t, s.Share(c, d0, t0+a), tc.name)
			}
			if nd, ch := s.Retarget(c, pool, t0+a); ch {
				at, d = a, nd
			}
		}
		require.Equal(t, tc.at, at, tc.name)
		require.InDelta(t, tc.want, d, tc.want*1e-9, tc.name)
		if at != 0 {
			require.Zero(t, s.Shares(), "%s: a change opens a new window", tc.name)
		}
	}

	// A sweep that missed an hour: at most ÷MaxStep in one step.
	s := started(c, d0, t0)
	d, ch := s.Retarget(c, pool, t0+3600)
	require.True(t, ch)
	require.Equal(t, d0/MaxStep, d)
}

func TestState_Early_Good(t *testing.T) {
	c := cfg()
	const t0 = 500
	s := started(c, 10, t0)
	// 15 shares in the first second: not enough to act on.
	require.False(t, feed(&s, c, 15, 10, t0))
	// The 16th: 160× the target rate; due at once.
	require.True(t, s.Share(c, 10, t0))
	d, ch := s.Retarget(c, 1e6, t0)
	require.True(t, ch)
	require.Equal(t, 10.0*MaxStep, d, "bounded by MaxStep")

	// 16 shares in 20 s at target 10 (8× the rate): due, and the estimate
	// counts 15 (the count stopped at an arrival). 15 shares: not early.
	s = started(c, 10, t0)
	require.False(t, feed(&s, c, 15, 10, t0+20))
	s = started(c, 10, t0)
	require.True(t, feed(&s, c, 16, 10, t0+20))
	d, ch = s.Retarget(c, 1e6, t0+20)
	require.True(t, ch)
	require.Equal(t, 75.0, d)
}

func TestState_Bounds_Good(t *testing.T) {
	c := cfg()
	c.MinDiff, c.MaxDiff = 100, 5000
	const t0 = 0

	// Raised: never above max-diff.
	s := started(c, 4000, t0)
	feed(&s, c, 16, 4000, t0)
	d, ch := s.Retarget(c, 1e6, t0)
	require.True(t, ch)
	require.Equal(t, 5000.0, d)

	// Raised: never above the pool's difficulty.
	s = started(c, 1000, t0)
	feed(&s, c, 16, 1000, t0)
	d, _ = s.Retarget(c, 2000, t0)
	require.Equal(t, 2000.0, d)

	// Lowered: never below min-diff.
	s = started(c, 200, t0)
	d, ch = s.Retarget(c, 1e6, t0+40)
	require.True(t, ch)
	require.Equal(t, 100.0, d)
	_, ch = s.Retarget(c, 1e6, t0+80)
	require.False(t, ch, "already at min-diff")
	require.Equal(t, 100.0, s.Diff())

	// The pool's difficulty drops below the miner's: Bound lowers it at
	// once, and so does the next sweep.
	s = started(c, 3000, t0)
	d, ch = s.Bound(c, 1500, t0+3)
	require.True(t, ch)
	require.Equal(t, 1500.0, d)
	s = started(c, 3000, t0)
	d, ch = s.Retarget(c, 1500, t0+1)
	require.True(t, ch)
	require.Equal(t, 1500.0, d)

	// A pool difficulty below min-diff wins over it.
	d, ch = s.Bound(c, 20, t0+5)
	require.True(t, ch)
	require.Equal(t, 20.0, d)

	// Unusable pool difficulties change nothing.
	for _, p := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		before := s
		d, ch = s.Retarget(c, p, t0+1000)
		require.False(t, ch)
		require.Equal(t, 20.0, d)
		require.Equal(t, before, s)
	}
}

// Shares still in flight after a change are counted at the difficulty
// they were judged at: the hashrate estimate Σdiff/Δt stays right.
func TestState_OldDifficultyShares_Good(t *testing.T) {
	c := cfg()
	const t0 = 0
	s := started(c, 100, t0)
	feed(&s, c, 16, 100, t0)
	d, ch := s.Retarget(c, 1e6, t0)
	require.True(t, ch)
	require.Equal(t, 800.0, d)
	// 16 late shares at the old difficulty are two shares at the new one.
	require.False(t, feed(&s, c, 16, 100, t0+1))
	require.Equal(t, 16, s.Shares())
	require.InDelta(t, 1600.0, s.sum, 1e-9)
}

func TestState_Clock_Ugly(t *testing.T) {
	c := cfg()
	// The clock steps back: the window restarts, nothing changes.
	s := started(c, 1000, 1000)
	feed(&s, c, 3, 1000, 1010)
	d, ch := s.Retarget(c, 1e6, 900)
	require.False(t, ch)
	require.Equal(t, 1000.0, d)
	require.Zero(t, s.Shares())
	require.False(t, s.Share(c, 1000, 850), "a share from before the window")

	// A 32-bit wrap of the clock in the middle of a window.
	const t0 = 1<<32 - 10
	s = started(c, 1000, t0)
	d, ch = s.Retarget(c, 1e6, t0+40)
	require.True(t, ch, "4 targets without a share across the wrap")
	require.Equal(t, 125.0, d)

	// Negative and huge clocks are just numbers.
	s = started(c, 1000, -5)
	_, ch = s.Retarget(c, 1e6, 35)
	require.True(t, ch)
	s = started(c, 1000, math.MaxInt64-100)
	_, ch = s.Retarget(c, 1e6, math.MaxInt64-60)
	require.True(t, ch)
}

func TestState_Share_Bad(t *testing.T) {
	c := cfg()
	s := started(c, 1000, 0)
	for _, j := range []float64{0, -1, math.NaN(), math.Inf(1), math.Inf(-1)} {
		require.False(t, s.Share(c, j, 1))
	}
	require.Zero(t, s.Shares())
	// Sums saturate instead of overflowing.
	s.Share(c, math.MaxFloat64, 1)
	s.Share(c, math.MaxFloat64, 1)
	require.Equal(t, math.MaxFloat64, s.sum)
	d, ch := s.Retarget(c, 1e300, 1)
	require.True(t, ch)
	require.Equal(t, 1000.0*MaxStep, d)
}

// A window that stays on target grows, then forgets its older half, so
// the estimate sharpens but still follows a miner whose speed changes.
func TestState_WindowHalves_Good(t *testing.T) {
	c := cfg()
	s := started(c, 1000, 0)
	w := window(c) // 2(2/0.3)² ≈ 89 targets at target 10, variance 0.3
	require.InDelta(t, 888.9, w, 0.1)
	shares := 0
	now := int64(1)
	for ; float64(now) <= w; now++ {
		if now%10 == 0 {
			s.Share(c, 1000, now)
			shares++
		}
		_, ch := s.Retarget(c, 1e6, now)
		require.False(t, ch, "on target at %d", now)
		require.Equal(t, shares, s.Shares())
	}
	_, ch := s.Retarget(c, 1e6, now)
	require.False(t, ch)
	require.Equal(t, shares/2, s.Shares(), "past the window, the older half is forgotten")
	require.Equal(t, now-now/2, s.elapsed(now))

	// Variance sets the window: 0.1 needs 800 targets to prove.
	c.Variance = 0.1
	require.InDelta(t, 8000, window(c), 1e-6)
	c.Variance = 0.9
	require.Equal(t, 640.0, window(c), "at least 64 targets")
	c.RetargetSeconds = 600
	require.Equal(t, 1200.0, window(c), "at least two retargets")
}

// shareEvery counts a share judged at the current difficulty at each of
// the seconds from, from+step, ... up to to (inclusive), and runs the
// early retarget Share asks for; it returns the second of the first
// change, 0 if none.
func shareEvery(s *State, c *Config, pool float64, from, step, to int64) int64 {
	for now := from; now <= to; now += step {
		if s.Share(c, s.Diff(), now) {
			if _, ch := s.Retarget(c, pool, now); ch {
				return now
			}
		}
	}
	return 0
}

// A miner started with nothing known about it searches: a target with
// fewer than 4 shares divides by 8 at once; 24 shares (over 5 s at least,
// timed from the first) give the estimate that ends the search.
func TestState_Search_Good(t *testing.T) {
	c := cfg() // target 10 s
	const t0, pool = 1000, 1e6
	var s State
	require.Equal(t, pool, s.Start(c, pool, 0, 1, t0))
	require.True(t, s.Searching())
	_, ch := s.Retarget(c, pool, t0+9)
	require.False(t, ch, "less than a target")
	d, ch := s.Retarget(c, pool, t0+10)
	require.True(t, ch)
	require.Equal(t, pool/8, d, "a target without a share: ÷8 at once")
	require.True(t, s.Searching())

	// Three shares in the next target: still too few.
	require.Zero(t, shareEvery(&s, c, pool, t0+12, 2, t0+16))
	_, ch = s.Retarget(c, pool, t0+21)
	require.False(t, ch, "the window is timed from its first share (t0+12)")
	d, ch = s.Retarget(c, pool, t0+22)
	require.True(t, ch)
	require.Equal(t, pool/64, d)

	// One share a second: the 24th, 23 s after the first, ends the
	// search at once with 23 shares in 2.3 targets: 10× the difficulty.
	require.Equal(t, int64(t0+53), shareEvery(&s, c, pool, t0+30, 1, t0+60))
	require.InDelta(t, pool/64*10, s.Diff(), 1e-6)
	require.False(t, s.Searching())
	require.Zero(t, s.Shares(), "a change opens a new window")
}

func TestState_SearchBounds_Good(t *testing.T) {
	c := cfg()
	const t0 = 0

	// Shares far faster than the estimate's step: the step is taken as
	// far as it goes (64×) and the search counts again there.
	var s State
	s.Start(c, 1e9, 0, 1, t0)
	for _, at := range []int64{10, 20, 30} {
		_, ch := s.Retarget(c, 1e9, t0+at)
		require.True(t, ch)
	}
	d0 := 1e9 / 512
	require.Equal(t, d0, s.Diff())
	require.False(t, s.Share(c, d0, t0+31))
	require.False(t, feed(&s, c, 199, d0, t0+35), "24 shares, but timed over less than 5 s")
	require.True(t, s.Share(c, d0, t0+36))
	d, ch := s.Retarget(c, 1e9, t0+36)
	require.True(t, ch)
	require.Equal(t, d0*64, d, "bounded by 64×")
	require.True(t, s.Searching(), "the estimate went beyond the step")

	// A miner faster than the pool's difficulty stays at it, and the
	// search ends there.
	s = State{}
	s.Start(c, 1e6, 0, 1, t0)
	require.False(t, s.Share(c, 1e6, t0+1))
	feed(&s, c, 99, 1e6, t0+6)
	d, ch = s.Retarget(c, 1e6, t0+6)
	require.False(t, ch)
	require.Equal(t, 1e6, d)
	require.False(t, s.Searching())

	// At min-diff a target without shares changes nothing and the search
	// waits there; when shares come, they end it.
	c.MinDiff = 1000
	s = State{}
	s.Start(c, 1e5, 0, 1, t0)
	for i, want := range []float64{12500, 1562.5, 1000} {
		d, ch = s.Retarget(c, 1e5, t0+10*int64(i+1))
		require.True(t, ch)
		require.Equal(t, want, d)
	}
	_, ch = s.Retarget(c, 1e5, t0+40)
	require.False(t, ch)
	require.True(t, s.Searching(), "waits at min-diff")
	require.Equal(t, int64(t0+64), shareEvery(&s, c, 1e5, t0+41, 1, t0+80))
	require.InDelta(t, 10000, s.Diff(), 1e-6)
	require.False(t, s.Searching())
}

// Shares too slow to count 24 before retarget-seconds (but 4 or more a
// target): judged then, as a regular check would, and the search ends.
func TestState_SearchSlow_Good(t *testing.T) {
	c := cfg()
	const t0 = 0
	var s State
	s.Start(c, 1e6, 0, 1, t0)
	d, _ := s.Retarget(c, 1e6, t0+10)
	require.Equal(t, 125000.0, d)
	// A share every 3 s from t0+11: 4 in the first target, 11 in 30 s.
	require.Zero(t, shareEvery(&s, c, 1e6, t0+11, 3, t0+40))
	for now := int64(t0 + 11); now < t0+41; now++ {
		_, ch := s.Retarget(c, 1e6, now)
		require.False(t, ch, "at %d", now)
	}
	require.Zero(t, shareEvery(&s, c, 1e6, t0+41, 3, t0+41))
	d, ch := s.Retarget(c, 1e6, t0+41)
	require.True(t, ch)
	require.InDelta(t, 125000.0*11/3, d, 1e-6)
	require.False(t, s.Searching())
}

// Who searches: a miner started at the ceiling with nothing known, and
// one whose shares stopped (a window of four targets without one); not a
// miner started from initial-diff or a hashrate estimate.
func TestState_SearchWho_Good(t *testing.T) {
	c := cfg()
	var s State
	require.Equal(t, 1000.0, s.Start(c, 1e9, 100, 1, 0), "100 H/s × 10 s at 1 hash per difficulty")
	require.False(t, s.Searching())
	s = started(c, 1000, 0)
	require.False(t, s.Searching(), "initial-diff")

	d, ch := s.Retarget(c, 1e9, 40)
	require.True(t, ch)
	require.Equal(t, 125.0, d, "no share in 4 targets: the back-off")
	require.True(t, s.Searching(), "and a search again")
	d, ch = s.Retarget(c, 1e9, 50)
	require.True(t, ch)
	require.Equal(t, 125.0/8, d, "÷8 a target from then on")

	// A window with shares that turns out 4× slow is lowered, not searched.
	s = started(c, 1000, 0)
	s.Share(c, 1000, 5)
	d, ch = s.Retarget(c, 1e9, 60)
	require.True(t, ch)
	require.InDelta(t, 1000.0/6, d, 1e-9)
	require.False(t, s.Searching())
}
