// Package vardiff sets each miner's share difficulty so that its shares
// arrive about every target-seconds, whatever the miner's speed and
// whatever difficulty the pool gave the session the miner shares.
//
// A Config holds the settings (the "vardiff" object of the configuration
// file, optionally overridden per bind by an Override). A State is the
// controller of one miner: 24 bytes meant to be embedded in the miner's
// struct. The caller feeds it every share it judged (Share) and calls
// Retarget from its once-a-second sweep, and also right away when Share
// reports that shares come much too fast.
//
// How a difficulty is chosen:
//
//   - The window: a State accumulates the difficulty of the shares judged
//     since its window opened (a change of difficulty opens a new one).
//     Σdiff over the window's Δt measures the miner: hashrate ≈
//     Σdiff·K/Δt, K being the hashes behind a difficulty-1 share. The
//     difficulty that gives one share per target-seconds is hashrate ×
//     target / K = Σdiff × target / Δt, so K cancels and the controller
//     needs no algorithm. Shares still in flight after a change count at
//     the difficulty they were judged at, so the estimate stays right.
//   - The search, when the miner's speed is unknown (it started at the
//     pool's difficulty with nothing known about it, or its shares
//     stopped for four targets): each target that brings fewer than 4
//     shares divides the difficulty by 8 at once, down to min-diff; where
//     shares come faster, 24 of them (timed from the first, over 5 s at
//     least) give an estimate within ±20 % that ends the search. It lands
//     low on purpose (4 to 32 shares a target) because shares are the
//     evidence: a few dozen extra shares to judge buy an estimate in a few
//     targets. From a pool difficulty 1,200× above XMRig (target 5 s) the
//     search ends at 0.6–1.67 times the right difficulty 47 s after login
//     (median of simulated runs; 53 s for 90 % of them; the real XMRig
//     took 35 s), where the regular rules alone took 2 to 5 minutes.
//   - Far off, at once: a window that proves the rate 4× above the target
//     (16 shares or more, 4× the expected count; the share path reports
//     it) or 4× below it (no share after 4 targets, one after 6, two after
//     8, ...) is retargeted at the next call, not at retarget-seconds. A
//     window without a share is judged as if half a share had arrived, so
//     after 4 share-less targets the difficulty is divided by 8 (the
//     back-off) and the miner is searched for again.
//   - Otherwise, regular checks at window ages of retarget-seconds × 1,
//     2, 4, 8, ...: the difficulty changes only if the share interval is
//     off target by more than variance AND the count by more than two
//     Poisson standard deviations (|n − m| > 2√m, n the shares counted at
//     the current difficulty, m those expected). A window with few shares
//     waits until it proves something, and few looks mean chance seldom
//     moves a miner that is on target. While on target the window keeps
//     growing, so the estimate sharpens; at 2·(2/variance)² targets (89 at
//     variance 0.3; 64..1024) its older half is forgotten, so it still
//     follows a miner whose speed changes (a halved speed in ~13 minutes
//     at the defaults, median).
//   - Bounds: one step changes the difficulty by at most MaxStep (8×)
//     either way; the result is clamped to [min-diff, ceiling], ceiling =
//     min(max-diff, pool difficulty), and the pool's difficulty always
//     wins: a miner never gets a difficulty above its pool's.
//
// In simulation (sim_test.go: Poisson shares, speeds spanning 1000×, a
// pool difficulty 1000× above the fastest miner) the miners send a share
// every target ± variance seconds 98.8–99.7 % of the time after 20–60
// retargets, with under one change of difficulty per miner-hour.
//
// Everything here is plain arithmetic on the values passed: no I/O, no
// clock (callers pass now, in whole seconds), no locks, no allocation. A
// State belongs to the event loop that owns its miner.
package vardiff

import (
	"errors"
	"fmt"
	"math"
)

// Config is the "vardiff" section of the configuration. Zero values mean
// the documented default (Normalize fills them in); max-diff and
// initial-diff keep 0 as a meaning of their own. Difficulties are in the
// miner family's own unit (CryptoNote difficulty, SV1 share difficulty,
// which may be fractional such as 0.001).
type Config struct {
	// Enabled turns vardiff on for miners without a difficulty of their
	// own (a "+N" login suffix or mining.suggest_difficulty fixes one).
	Enabled bool `json:"enabled,omitempty"`
	// TargetSeconds is the share interval aimed at (default 10, 1..3600).
	TargetSeconds float64 `json:"target-seconds,omitempty"`
	// RetargetSeconds is how old a window must be before the difficulty
	// may change (default 30, 1..86400); shares arriving much too fast
	// change it sooner.
	RetargetSeconds float64 `json:"retarget-seconds,omitempty"`
	// Variance is the tolerated relative error of the share rate before a
	// change (default 0.3, below 1).
	Variance float64 `json:"variance,omitempty"`
	// MinDiff is the lowest difficulty handed out (default 1000).
	MinDiff float64 `json:"min-diff,omitempty"`
	// MaxDiff is the highest (0 = the pool's difficulty). The pool's
	// difficulty bounds it in any case.
	MaxDiff float64 `json:"max-diff,omitempty"`
	// InitialDiff is the difficulty a miner starts at (0 = decided per
	// miner, see Initial).
	InitialDiff float64 `json:"initial-diff,omitempty"`
}

// Defaults (Normalize).
const (
	DefaultTargetSeconds   = 10
	DefaultRetargetSeconds = 30
	DefaultVariance        = 0.3
	DefaultMinDiff         = 1000
)

// Normalize fills in defaults for zero values. It is idempotent.
func (c *Config) Normalize() {
	if c.TargetSeconds == 0 {
		c.TargetSeconds = DefaultTargetSeconds
	}
	if c.RetargetSeconds == 0 {
		c.RetargetSeconds = DefaultRetargetSeconds
	}
	if c.Variance == 0 {
		c.Variance = DefaultVariance
	}
	if c.MinDiff == 0 {
		c.MinDiff = DefaultMinDiff
	}
}

// finite reports whether x is a number other than ±Inf.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate checks a normalized Config. The error starts with the bad key
// ("min-diff: ..."); callers prefix the section ("vardiff." or
// "bind[2].vardiff."). It checks the values whether or not Enabled is set,
// so a typo does not wait for the day vardiff is turned on.
func (c *Config) Validate() error {
	for _, k := range []struct {
		name string
		v    float64
	}{
		{"target-seconds", c.TargetSeconds}, {"retarget-seconds", c.RetargetSeconds},
		{"variance", c.Variance}, {"min-diff", c.MinDiff}, {"max-diff", c.MaxDiff},
		{"initial-diff", c.InitialDiff},
	} {
		if !finite(k.v) {
			return fmt.Errorf("%s: must be a finite number, got %v", k.name, k.v)
		}
		if k.v < 0 {
			return fmt.Errorf("%s: must not be negative, got %v", k.name, k.v)
		}
	}
	switch {
	case c.TargetSeconds < 1 || c.TargetSeconds > 3600:
		return fmt.Errorf("target-seconds: must be 1..3600, got %v", c.TargetSeconds)
	case c.RetargetSeconds < 1 || c.RetargetSeconds > 86400:
		return fmt.Errorf("retarget-seconds: must be 1..86400, got %v", c.RetargetSeconds)
	case c.Variance >= 1:
		return fmt.Errorf("variance: must be below 1, got %v", c.Variance)
	case c.MinDiff <= 0:
		return errors.New("min-diff: must be above 0")
	case c.MaxDiff != 0 && c.MaxDiff < c.MinDiff:
		return fmt.Errorf("max-diff: must be 0 (the pool's difficulty) or at least min-diff (%v), got %v", c.MinDiff, c.MaxDiff)
	case c.InitialDiff != 0 && c.InitialDiff < c.MinDiff:
		return fmt.Errorf("initial-diff: must be 0 (automatic) or at least min-diff (%v), got %v", c.MinDiff, c.InitialDiff)
	case c.InitialDiff != 0 && c.MaxDiff != 0 && c.InitialDiff > c.MaxDiff:
		return fmt.Errorf("initial-diff: must not exceed max-diff (%v), got %v", c.MaxDiff, c.InitialDiff)
	}
	return nil
}

// validPool reports whether a pool difficulty can bound a miner's.
func validPool(pool float64) bool { return pool > 0 && !math.IsInf(pool, 1) }

// Ceiling is the highest difficulty a miner may get under a pool
// difficulty: min(max-diff, pool), or the pool's when max-diff is 0.
func (c *Config) Ceiling(pool float64) float64 {
	if c.MaxDiff > 0 && c.MaxDiff < pool {
		return c.MaxDiff
	}
	return pool
}

// Clamp bounds d to [min-diff, Ceiling(pool)]. When the pool's difficulty
// is below min-diff the pool's wins (a miner never gets a difficulty above
// its pool's). A NaN d gives min-diff (or the ceiling).
func (c *Config) Clamp(d, pool float64) float64 {
	if !(d >= c.MinDiff) {
		d = c.MinDiff
	}
	if ceil := c.Ceiling(pool); d > ceil {
		d = ceil
	}
	return d
}

// Initial returns the difficulty a new miner starts at under pool
// difficulty pool, or 0 when pool is not a usable difficulty (> 0, finite):
// without a pool difficulty there is nothing to bound the miner's.
//
// The rule, since nothing is known about a new miner's speed at login:
//
//   - initial-diff set: that, clamped to the bounds.
//   - else, when the caller has an estimate of the miner's hashrate
//     (hashrate H/s, hashesPerDiff the hashes behind a difficulty-1 share
//     of the algorithm): the difficulty giving one share per
//     target-seconds at that hashrate, clamped. That is the pool's
//     difficulty when the miner reaches it within target-seconds, and
//     lower (never below min-diff) when it cannot. Good estimates, best
//     first: the hashrate last measured for the same worker (a rig that
//     reconnects), the mean per-miner hashrate of the miners already on
//     the same pool session (a homogeneous farm).
//   - else (hashrate 0: nothing known): the ceiling, normally the pool's
//     difficulty, and the State searches from there (see State). Starting
//     high is the safe side: a miner started too low floods the proxy
//     with shares it must verify (an ASIC at a CPU's difficulty sends
//     millions a second), while one started too high only waits; the
//     search divides by 8 a target while fewer than 4 shares come, so a
//     pool difficulty 1000× above the miner is left in ~4 targets, and
//     where the miner can reach the pool's difficulty within a target it
//     stays there.
func (c *Config) Initial(pool, hashrate, hashesPerDiff float64) float64 {
	if !validPool(pool) {
		return 0
	}
	switch {
	case c.InitialDiff > 0:
		return c.Clamp(c.InitialDiff, pool)
	case known(hashrate, hashesPerDiff):
		return c.Clamp(hashrate*c.TargetSeconds/hashesPerDiff, pool)
	}
	return c.Ceiling(pool)
}

// known reports whether a hashrate estimate can set a difficulty.
func known(hashrate, hashesPerDiff float64) bool {
	return hashrate > 0 && hashesPerDiff > 0 && finite(hashrate) && finite(hashesPerDiff)
}

// Override is a bind's "vardiff" object: each key present replaces the
// top-level value for miners of that bind; absent keys inherit it (so a
// port for small miners can set only "min-diff" and "target-seconds").
// JSON null counts as absent.
type Override struct {
	Enabled         *bool    `json:"enabled,omitempty"`
	TargetSeconds   *float64 `json:"target-seconds,omitempty"`
	RetargetSeconds *float64 `json:"retarget-seconds,omitempty"`
	Variance        *float64 `json:"variance,omitempty"`
	MinDiff         *float64 `json:"min-diff,omitempty"`
	MaxDiff         *float64 `json:"max-diff,omitempty"`
	InitialDiff     *float64 `json:"initial-diff,omitempty"`
}

// Apply returns base with the override's keys replaced, normalized (a key
// set to 0 means its default, as at top level, except max-diff and
// initial-diff whose 0 has its own meaning). Validate the result and name
// errors "bind[i].vardiff.<key>". A nil Override returns base unchanged.
func (o *Override) Apply(base Config) Config {
	if o == nil {
		return base
	}
	c := base
	if o.Enabled != nil {
		c.Enabled = *o.Enabled
	}
	for _, f := range []struct {
		dst *float64
		src *float64
	}{
		{&c.TargetSeconds, o.TargetSeconds}, {&c.RetargetSeconds, o.RetargetSeconds},
		{&c.Variance, o.Variance}, {&c.MinDiff, o.MinDiff}, {&c.MaxDiff, o.MaxDiff},
		{&c.InitialDiff, o.InitialDiff},
	} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	c.Normalize()
	return c
}
