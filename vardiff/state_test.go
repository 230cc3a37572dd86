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
