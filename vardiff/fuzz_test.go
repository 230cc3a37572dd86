package vardiff

import (
	"math"
	"testing"
)

// checkBounds fails unless d is a finite difficulty above 0 within the
// bounds c gives under pool difficulty pool.
func checkBounds(t *testing.T, c *Config, d, pool float64, what string) {
	t.Helper()
	ceil := c.Ceiling(pool)
	if math.IsNaN(d) || math.IsInf(d, 0) || d <= 0 {
		t.Fatalf("%s: difficulty %v", what, d)
	}
	if d > ceil || d < min(c.MinDiff, ceil) {
		t.Fatalf("%s: difficulty %v outside [%v, %v] (pool %v)", what, d, c.MinDiff, ceil, pool)
	}
}

// FuzzState drives a controller with any valid configuration, pool
// difficulties, share difficulties and clock jumps: its difficulty is never
// NaN, ±Inf, 0 or negative and always within the bounds of the last pool
// difficulty it was given; one retarget moves it by at most MaxStep
// (searchMaxStep while it searches) unless the bounds moved it.
func FuzzState(f *testing.F) {
	f.Add(10.0, 30.0, 0.3, 1000.0, 0.0, 0.0, 1e6, []byte{0, 1, 2, 3, 10, 20, 30, 40})
	f.Add(3.0, 30.0, 0.3, 0.001, 0.0, 0.0, 0.07, []byte{1, 200, 1, 200, 1, 200, 2, 9, 9, 3, 128, 4})
	f.Add(1.0, 1.0, 0.0, 1e-300, 1e300, 1e-200, 1e308, []byte{0, 255, 0, 255, 2, 0, 2, 255, 3, 0})
	f.Add(3600.0, 86400.0, 0.99, 5.0, 5.0, 5.0, 4.0, []byte{2, 2, 2, 3, 3, 3})
	f.Fuzz(func(t *testing.T, target, retarget, variance, minDiff, maxDiff, initial, pool float64, ops []byte) {
		c := Config{Enabled: true, TargetSeconds: target, RetargetSeconds: retarget, Variance: variance,
			MinDiff: minDiff, MaxDiff: maxDiff, InitialDiff: initial}
		c.Normalize()
		if c.Validate() != nil {
			return
		}
		var s State
		now := int64(len(ops)) << 28 // any clock
		d := s.Start(&c, pool, 0, 1, now)
		if !validPool(pool) {
			if d != 0 || s.Active() {
				t.Fatalf("started without a pool difficulty: %v", d)
			}
			return
		}
		checkBounds(t, &c, d, pool, "start")
		for i := 0; i+1 < len(ops); i += 2 {
			arg := ops[i+1]
			before := s.Diff()
			step := float64(MaxStep)
			if s.Searching() {
				step = searchMaxStep
			}
			switch ops[i] % 5 {
			case 0: // a share at the current difficulty, or at a past one
				judged := before * math.Exp2(float64(int8(arg))/8)
				if s.Share(&c, judged, now) {
					d, changed := s.Retarget(&c, pool, now)
					checkBounds(t, &c, d, pool, "early retarget")
					if changed && c.Clamp(before, pool) == before && (d > before*step || d < before/step) {
						t.Fatalf("one early step moved %v to %v", before, d)
					}
				}
			case 1: // time passes, the sweep runs
				now += int64(arg)
				d, changed := s.Retarget(&c, pool, now)
				checkBounds(t, &c, d, pool, "retarget")
				if changed && c.Clamp(before, pool) == before && (d > before*step || d < before/step) {
					t.Fatalf("one step moved %v to %v", before, d)
				}
			case 2: // the pool's difficulty changes
				pool *= math.Exp2(float64(int8(arg)) / 4)
				if !validPool(pool) {
					return
				}
				d, _ = s.Bound(&c, pool, now)
				checkBounds(t, &c, d, pool, "bound")
			case 3: // the clock jumps, either way
				now += int64(int8(arg)) * 1000
			case 4: // a burst of shares
				for range int(arg % 64) {
					s.Share(&c, before, now)
				}
			}
			if s.Diff() != before && ops[i]%5 != 0 && ops[i]%5 != 1 && ops[i]%5 != 2 {
				t.Fatalf("op %d changed the difficulty without a retarget", ops[i]%5)
			}
		}
		d, _ = s.Retarget(&c, pool, now+int64(c.RetargetSeconds))
		checkBounds(t, &c, d, pool, "final")
	})
}
