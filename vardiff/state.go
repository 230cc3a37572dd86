package vardiff

import (
	"math"
)

// MaxStep bounds one change of difficulty: a retarget multiplies or divides
// it by at most this factor, so one noisy window cannot move a miner by
// orders of magnitude.
const MaxStep = 8

const (
	// earlyShares and rateFactor: a window that has counted at least
	// earlyShares shares, and rateFactor times what the target expects
	// (at least rateFactor × 2), is due at once (see early); one that has
	// counted a rateFactor-th or less of what is expected is too (late).
	earlyShares = 16
	rateFactor  = 4
	// sigma is how many Poisson standard deviations (√m) a window's count
	// must be off before a regular check changes the difficulty.
	sigma = 2
	// noShare is the share count a window without shares is judged at:
	// after m expected shares and none seen, the rate is taken as
	// noShare/m of the target (after 4 expected, a division by 8).
	noShare = 0.5
	// minWindow and maxWindow bound a window's length in targets before
	// it is halved (see window).
	minWindow = 64
	maxWindow = 1024
	// searchFew and searchShares drive the search (see State.search): a
	// target that brings fewer than searchFew shares lowers the difficulty
	// by MaxStep at once; searchShares counted give the estimate that ends
	// the search (±20 %, one standard deviation).
	searchFew    = 4
	searchShares = 24
	// searchSeconds is the shortest window a search estimate is taken
	// over: the clock counts whole seconds, so a window of 5 is timed
	// within 20 %.
	searchSeconds = 5
	// searchMaxStep bounds the step that ends a search: the search lands
	// where a target brings searchFew shares or more, under MaxStep times
	// the rate a target brought on the level above, so the estimate is
	// within MaxStep² of the difficulty it replaces.
	searchMaxStep = MaxStep * MaxStep
)

// State is one miner's controller: its current difficulty and the window
// of shares since the last change. The zero State is inactive (vardiff
// off for the miner); Start activates it. 24 bytes, no pointers: embed it
// in the miner's struct. Only the miner's event loop may use it.
//
// now is a clock in whole seconds (the shard's unix seconds); it is kept
// modulo 2^32, so any clock works and windows up to 68 years are right.
// A clock that steps backwards restarts the window.
//
// A miner started with nothing known about it (at the ceiling: no
// initial-diff, no hashrate estimate), and one whose shares stopped for a
// window of four targets (its speed is no longer known), searches: every
// target that brings fewer than 4 shares divides its difficulty by 8 at
// once, so it descends from a pool difficulty thousands of times above
// it in a few targets and lands where shares come at least 4 per target
// (and, the level above having brought fewer than 4, under 32); there 24
// shares, a few targets' worth, give an estimate within ±20 % that ends
// the search. Going low on purpose costs a few dozen extra shares to
// judge and makes the estimate quick and sharp; the regular rules then
// keep the miner on target.
type State struct {
	diff   float64 // current difficulty; 0 = inactive
	sum    float64 // Σ judged difficulty of the shares in the window
	since  uint32  // window start, seconds (mod 2^32)
	shares uint16  // shares counted in the window (saturating)
	looks  uint8   // regular checks done on the window (saturating)
	search bool    // still searching (see above)
}

// Active reports whether vardiff runs for this miner.
func (s *State) Active() bool { return s.diff > 0 }

// Diff returns the miner's current difficulty (0 when inactive).
func (s *State) Diff() float64 { return s.diff }

// Shares returns the shares counted in the current window (at most 65535).
func (s *State) Shares() int { return int(s.shares) }

// Start activates the controller at c.Initial(pool, hashrate,
// hashesPerDiff) and returns that difficulty, or 0 (and stays inactive)
// when pool is not a usable difficulty.
//
// A miner started at the ceiling because nothing is known about it
// searches first (see State).
func (s *State) Start(c *Config, pool, hashrate, hashesPerDiff float64, now int64) float64 {
	d := c.Initial(pool, hashrate, hashesPerDiff)
	if d <= 0 {
		*s = State{}
		return 0
	}
	s.diff = d
	s.restart(now)
	s.search = c.InitialDiff <= 0 && !known(hashrate, hashesPerDiff)
	return d
}

// Searching reports whether the miner is searching for its speed (see
// State).
func (s *State) Searching() bool { return s.search }

// Stop makes the State inactive (the miner asked for a difficulty of its
// own, or vardiff was turned off).
func (s *State) Stop() { *s = State{} }

// restart opens a new, empty window at now.
func (s *State) restart(now int64) {
	s.since = uint32(now)
	s.sum, s.shares, s.looks = 0, 0, 0
}

// elapsed returns the window's age in seconds; negative when the clock
// stepped back.
func (s *State) elapsed(now int64) int64 { return int64(int32(uint32(now) - s.since)) }

// early reports whether n shares counted against m expected prove the
// rate far above the target already: at least 8 shares and 4 times the
// expected (4 × 2 at least). A miner on target gets there by chance with
// probability < 0.2 %.
func early(n, m float64) bool { return n >= earlyShares && n >= rateFactor*max(m, 2) }

// late reports whether n shares counted against m expected prove the rate
// far below the target already: a quarter of it or less, with m ≥ 4 + 2n.
// A miner on target gets there by chance with probability < 2 % at each
// share count (none after 4 expected, one after 6, two after 8, ...).
func late(n, m float64) bool { return n*rateFactor <= m && m >= 4+2*n }

// window is the age (seconds) past which a window that stays on target is
// halved: 2(sigma/variance)² targets, the count at which a rate off by
// variance becomes provable, kept within [minWindow, maxWindow] targets
// and at least two retargets.
func window(c *Config) float64 {
	t := min(max(2*sigma*sigma/(c.Variance*c.Variance), minWindow), maxWindow)
	return max(2*c.RetargetSeconds, t*c.TargetSeconds)
}

// Share counts a share the caller judged (accepted) at difficulty judged:
// the difficulty of the job it answered, which is the miner's previous one
// for shares still in flight after a change. It reports true when a
// retarget is due at once because shares arrive far faster than the
// target; then call Retarget(now) instead of waiting for the sweep. A
// judged difficulty that is not a finite number above 0 is ignored.
func (s *State) Share(c *Config, judged float64, now int64) (due bool) {
	if s.diff <= 0 || !(judged > 0) || math.IsInf(judged, 1) {
		return false
	}
	if s.search && s.shares == 0 {
		// A search times its window from the first share: silence
		// before it (the level above, or a miner that was away) would
		// understate the rate.
		s.since = uint32(now)
	}
	if s.shares < math.MaxUint16 {
		s.shares++
	}
	s.sum += judged
	if math.IsInf(s.sum, 1) {
		s.sum = math.MaxFloat64
	}
	if s.search {
		return s.sum/s.diff >= searchShares && s.elapsed(now) >= searchSeconds
	}
	e := max(s.elapsed(now), 0)
	return early(s.sum/s.diff, float64(e)/c.TargetSeconds)
}

// Retarget is the once-a-second check (and the early one Share asks for).
// pool is the difficulty of the miner's pool session now; a difficulty
// outside the bounds it gives is first brought back into them (Bound). It
// returns the miner's difficulty and whether it changed; on a change, send
// the miner the new difficulty with its next job (shares for older jobs
// are still judged, and counted, at the difficulty of their job). c must
// be normalized and valid. An unusable pool difficulty changes nothing.
//
// A window is judged at once when it proves the rate 4× off either way
// (early, late); otherwise at the regular checks, at ages of
// retarget-seconds × 1, 2, 4, ... (few looks, so that chance seldom
// moves a miner that is on target), where it changes only when the
// interval is off target by more than variance and the count by more
// than two standard deviations.
func (s *State) Retarget(c *Config, pool float64, now int64) (diff float64, changed bool) {
	if s.diff <= 0 || !validPool(pool) {
		return s.diff, false
	}
	if d, changed := s.Bound(c, pool, now); changed {
		return d, true
	}
	e := s.elapsed(now)
	if e < 0 {
		s.restart(now)
		return s.diff, false
	}
	n := s.sum / s.diff                       // shares counted, in units of the current difficulty
	m := float64(max(e, 1)) / c.TargetSeconds // shares the target expects
	if s.search {
		return s.searchStep(c, pool, now, e, n, m)
	}
	w := window(c)
	est := n // shares counted, for the estimate
	switch {
	case early(n, m):
		// Judged when a share arrives: a count stopped at an arrival
		// overstates the rate; n−1 over the same time does not.
		est = n - 1
	case late(n, m):
		// Not a share in the window: the miner's speed is no longer
		// known (it stopped, or slowed far down); search for it again,
		// as at the start (see State).
		s.search = n == 0
	case float64(e) >= min(c.RetargetSeconds*float64(uint64(1)<<min(s.looks, 62)), w):
		if s.looks < math.MaxUint8 {
			s.looks++
		}
		onTarget := n*(1+c.Variance) >= m && n*(1-c.Variance) <= m
		if onTarget || math.Abs(n-m) <= sigma*math.Sqrt(m) {
			// Keep the window growing so that the estimate sharpens,
			// forgetting its older half past w so that it still
			// follows a miner whose speed changes.
			if float64(e) >= w {
				s.since += uint32(e / 2)
				s.sum *= 0.5
				s.shares /= 2
			}
			return s.diff, false
		}
	default:
		return s.diff, false
	}
	// The difficulty giving one share per target at the measured rate:
	// Σdiff × target / Δt = diff × n / m.
	d := s.diff * max(est, noShare) / m
	d = min(max(d, s.diff/MaxStep), s.diff*MaxStep)
	d = c.Clamp(d, pool)
	s.restart(now)
	changed = d != s.diff
	s.diff = d
	return d, changed
}

// Bound re-applies the bounds after the pool's difficulty (or the
// configuration) changed: a miner above the new ceiling is lowered to it,
// one below min-diff raised. It returns the difficulty and whether it
// changed (then the window restarts). Retarget does it too; call Bound
// when the pool's difficulty drops, to lower miners at once.
func (s *State) Bound(c *Config, pool float64, now int64) (diff float64, changed bool) {
	if s.diff <= 0 || !validPool(pool) {
		return s.diff, false
	}
	d := c.Clamp(s.diff, pool)
	if d == s.diff {
		return d, false
	}
	s.diff = d
	s.restart(now)
	return d, true
}

// searchStep is Retarget while the miner searches (see State): n shares
// counted in units of the current difficulty over e seconds, m expected.
func (s *State) searchStep(c *Config, pool float64, now, e int64, n, m float64) (diff float64, changed bool) {
	var d float64
	switch {
	case n >= searchShares && e >= searchSeconds:
		// Judged at the arrival of the last share (Share asked): n−1
		// over the same time does not overstate the rate. An estimate
		// beyond one step is taken as far as the step goes and counted
		// again there.
		est := s.diff * (n - 1) / m
		d = min(max(est, s.diff/searchMaxStep), s.diff*searchMaxStep)
		s.search = d != est && c.Clamp(d, pool) == d
	case float64(e) >= c.TargetSeconds && n < searchFew:
		// Few shares or none: lower at once. At min-diff (or a pool
		// below it) this changes nothing and the search waits there,
		// a target at a time, for the shares that tell the speed.
		d = s.diff / MaxStep
	case float64(e) >= max(c.RetargetSeconds, 2*c.TargetSeconds):
		// Shares come, but too slowly to count searchShares before the
		// regular checks would have judged them: judge them now.
		d = s.diff * n / m
		d = min(max(d, s.diff/MaxStep), s.diff*MaxStep)
		s.search = false
	default:
		return s.diff, false
	}
	d = c.Clamp(d, pool)
	s.restart(now)
	changed = d != s.diff
	s.diff = d
	return d, changed
}
