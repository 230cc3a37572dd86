package upstream

import "time"

// DefaultStablePeriod is how long a pool session must stay healthy to
// count as a success when FailoverPolicy.Stable is zero.
const DefaultStablePeriod = 60 * time.Second

// maxProbeBackoff bounds the doubling of the probe interval: after
// failed returns to a higher-priority pool it grows to at most 16 times
// FailoverPolicy.ProbeEvery.
const maxProbeBackoff = 4

// FailoverPolicy is how a Failover treats the pools of one list.
type FailoverPolicy struct {
	// Retries is how many failures in a row a pool may have before the
	// next pool takes over (< 1 means 1).
	Retries int
	// Pause is the wait before a pool is tried again after a failure, and
	// before a new round starts at the primary after the last pool.
	Pause time.Duration
	// Stable is how long a session must be healthy without a break to
	// count as a success (0 = DefaultStablePeriod).
	Stable time.Duration
	// ProbeEvery is how often, while a pool other than the primary is in
	// use, the pools before it are probed (0 = never: a backup is kept
	// until it fails).
	ProbeEvery time.Duration
}

// Failover decides which pool of an ordered list (primary first) a pool
// session uses and when it changes. It is pure state: the caller dials,
// watches the connection and reports what happened; now is the caller's
// monotonic clock. Not safe for concurrent use.
//
// The rules:
//
//  1. Failures count per pool. A connect error, a refused login, a
//     protocol error, a pool that stops answering (stalled) and a
//     connection that drops are all failures of the current pool. A
//     failed pool is dialled again after Pause until it has failed
//     Retries times in a row; then the next pool is dialled at once, and
//     after the last pool a new round starts at the primary after Pause.
//  2. A session that has been healthy (Observe: logged in, sending work,
//     nothing owed too long) for Stable without a break is a success: its
//     pool's failures are cleared, and when it ends later it is redialled
//     at once as the first failure of a new series. A session that ends
//     stalled never counts as a success (a pool that hangs at its first
//     share after a quiet start is not healthy).
//  3. A client.reconnect from the pool (Reconnect) is not a failure: the
//     same pool is dialled again, after Pause unless the session was
//     stable.
//  4. While a pool after the primary is in use and ProbeEvery is set,
//     the pools before it are probed in order every ProbeEvery (ProbeDue,
//     ProbeLoggedIn, ProbeObserve, ProbeFailed): a separate connection
//     logs in, and once it has been healthy for Stable the session
//     switches to it. The switched session is on probation: if it fails
//     before it has been healthy with the miners' work for Stable, the
//     session goes straight back to the pool it came from and the probe
//     interval doubles (up to 16×); passing probation resets it.
//  5. Abandon gives up on the current pool at once (a certificate that
//     does not match its pin); Reset starts over with a new list;
//     SwitchedTo records a move the caller made itself (a reload).
type Failover struct {
	pools  int // number of enabled pools
	policy FailoverPolicy

	current  int // pool in use or being tried
	failures int // failures of current in a row
	// exhausted: every pool of the list failed its retries since the
	// last login (a whole round without a session).
	exhausted bool
	// Session on current: up once logged in; stable once it has been
	// healthy for policy.Stable; healthySince starts the current run of
	// healthy observations (valid while healthy is set).
	up           bool
	stable       bool
	healthy      bool
	healthySince time.Duration
	// failuresAtLogin is failures when the session logged in: a stalled
	// end takes the session's success back.
	failuresAtLogin int
	// probation: the session came from a probe and has not been stable
	// yet; fallback is the pool it came from.
	probation bool
	fallback  int

	// Probe of a higher-priority pool: probing is its index (-1: none).
	probing       int
	probeUp       bool
	probeHealthy  bool
	probeSince    time.Duration
	nextProbe     time.Duration
	probeBackoff  uint
	probeSchedule bool // nextProbe is set
}

// NewFailover returns the strategy for n enabled pools.
func NewFailover(n int, p FailoverPolicy) *Failover {
	f := &Failover{pools: n, probing: -1}
	f.SetPolicy(p)
	return f
}

// SetPolicy changes the policy (a reload) and keeps the state: the new
// values apply from the next event on.
func (f *Failover) SetPolicy(p FailoverPolicy) {
	if p.Retries < 1 {
		p.Retries = 1
	}
	if p.Stable <= 0 {
		p.Stable = DefaultStablePeriod
	}
	f.policy = p
}

// Next returns the pool index to dial now.
func (f *Failover) Next() int { return f.current }

// Current returns the pool index in use or being tried.
func (f *Failover) Current() int { return f.current }

// Exhausted reports whether every pool of the list has failed its
// retries since the session last logged in: a whole round without a
// working pool. It turns false at the next login. (A router reads it to
// give the session's miners to another failover chain meanwhile.)
func (f *Failover) Exhausted() bool { return f.exhausted }

// Probing returns the pool being probed, or -1.
func (f *Failover) Probing() int { return f.probing }

// OnProbation reports whether the session is on a pool reached by a
// probe and has not yet been stable with the miners' work.
func (f *Failover) OnProbation() bool { return f.probation }

// LoggedIn records that the pool accepted the session's login.
func (f *Failover) LoggedIn(now time.Duration) {
	f.up, f.stable, f.healthy = true, false, false
	f.exhausted = false
	f.failuresAtLogin = f.failures
	if f.probing < 0 {
		f.scheduleProbe(now)
	}
}

// Observe records the session's health at now: logged in, sending work,
// and not owing an answer for too long. It returns true when this
// observation makes the session stable (a success).
func (f *Failover) Observe(now time.Duration, healthy bool) bool {
	if !f.up || f.stable {
		return false
	}
	if !healthy {
		f.healthy = false
		return false
	}
	if !f.healthy {
		f.healthy, f.healthySince = true, now
	}
	if now-f.healthySince < f.policy.Stable {
		return false
	}
	f.stable, f.failures = true, 0
	if f.probation {
		f.probation, f.probeBackoff = false, 0
	}
	return true
}

// Failed records that the attempt or session on the current pool failed
// (stalled: the pool stopped answering) and returns the pool to dial next
// and how long to wait first. A probe in progress is abandoned.
func (f *Failover) Failed(stalled bool) (pool int, wait time.Duration) {
	wasStable := f.stable
	f.endSession()
	if f.probation {
		// Back to the pool that worked; try the higher one less often.
		f.probation = false
		f.probeBackoff = min(f.probeBackoff+1, maxProbeBackoff)
		f.current, f.failures = f.fallback, 0
		return f.current, 0
	}
	switch {
	case wasStable && stalled:
		f.failures = f.failuresAtLogin
	case wasStable:
		f.failures = 0
	}
	f.failures++
	if f.failures < f.policy.Retries {
		if wasStable && !stalled {
			return f.current, 0
		}
		return f.current, f.policy.Pause
	}
	f.failures = 0
	f.current++
	if f.current >= f.pools {
		f.current, f.exhausted = 0, true
		return 0, f.policy.Pause
	}
	return f.current, 0
}

// Reconnect records that the pool asked for a reconnect and returns the
// pool to dial (the same one) and the least wait: the pause unless the
// session was stable, so a pool that asks again and again right after
// login does not get a reconnect storm.
func (f *Failover) Reconnect() (pool int, wait time.Duration) {
	wasStable := f.stable
	f.endSession()
	if wasStable {
		return f.current, 0
	}
	return f.current, f.policy.Pause
}

// Abandon gives up on the current pool at once (its certificate did not
// match the pin: retrying cannot help) and returns the next one to try.
func (f *Failover) Abandon() (pool int, wait time.Duration) {
	f.failures = f.policy.Retries - 1
	return f.Failed(false)
}

// Reset points the strategy at a new pool list of n pools, primary first,
// and forgets every count.
func (f *Failover) Reset(n int) { *f = Failover{pools: n, policy: f.policy, probing: -1} }

// SwitchedTo records that the caller moved the session to pool (a reload
// candidate took over); LoggedIn follows.
func (f *Failover) SwitchedTo(pool int) {
	f.endSession()
	f.current, f.failures, f.probation = pool, 0, false
}

// endSession forgets the session on the current pool and any probe.
func (f *Failover) endSession() {
	f.up, f.stable, f.healthy = false, false, false
	f.probing, f.probeUp, f.probeSchedule = -1, false, false
}

// interval is the time between probes, grown after failed returns.
func (f *Failover) interval() time.Duration { return f.policy.ProbeEvery << f.probeBackoff }

func (f *Failover) scheduleProbe(now time.Duration) {
	f.nextProbe, f.probeSchedule = now+f.interval(), true
}

// ProbeDue reports whether a probe should start now, and of which pool:
// the session is logged in on a pool after the primary, probing is on,
// none is running and the interval has passed.
func (f *Failover) ProbeDue(now time.Duration) (pool int, ok bool) {
	if !f.up || f.current == 0 || f.policy.ProbeEvery <= 0 || f.probing >= 0 || f.probation {
		return -1, false
	}
	if !f.probeSchedule {
		f.scheduleProbe(now)
	}
	if now < f.nextProbe {
		return -1, false
	}
	f.probing, f.probeUp, f.probeHealthy = 0, false, false
	return 0, true
}

// ProbeLoggedIn records that the probed pool accepted the probe's login.
func (f *Failover) ProbeLoggedIn() {
	if f.probing >= 0 {
		f.probeUp, f.probeHealthy = true, false
	}
}

// ProbeObserve records the probe's health at now. It returns true when
// the probe has been healthy for Stable: the caller moves the session to
// it (the probed pool becomes current, on probation).
func (f *Failover) ProbeObserve(now time.Duration, healthy bool) bool {
	if f.probing < 0 || !f.probeUp {
		return false
	}
	if !healthy {
		f.probeHealthy = false
		return false
	}
	if !f.probeHealthy {
		f.probeHealthy, f.probeSince = true, now
	}
	if now-f.probeSince < f.policy.Stable {
		return false
	}
	f.fallback, f.current = f.current, f.probing
	f.failures, f.failuresAtLogin = 0, 0
	f.probation = true
	f.up, f.stable, f.healthy = true, false, false
	f.probing, f.probeUp, f.probeSchedule = -1, false, false
	return true
}

// ProbeFailed records that the probe failed (could not connect or log
// in, or broke before it was stable) and returns the next higher-priority
// pool to probe at once, or ok false when this round of probes is over.
func (f *Failover) ProbeFailed(now time.Duration) (pool int, ok bool) {
	if f.probing < 0 {
		return -1, false
	}
	f.probeUp, f.probeHealthy = false, false
	if next := f.probing + 1; next < f.current {
		f.probing = next
		return next, true
	}
	f.probing = -1
	f.scheduleProbe(now)
	return -1, false
}
