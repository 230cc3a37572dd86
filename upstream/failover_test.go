package upstream

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// foStep is one event of a failover scenario and what it must return.
type foStep struct {
	do string // see run
	at int    // seconds on the caller's clock (login, observe, probe steps)
	// pool and wait are what fail, stall, reconnect, abandon and the probe
	// steps return; ok their flag (observe, probe steps).
	pool int
	wait int
	ok   bool
}

func run(t *testing.T, f *Failover, steps []foStep) {
	t.Helper()
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	for i, s := range steps {
		msg := fmt.Sprintf("step %d: %+v", i, s)
		var pool int
		var wait time.Duration
		var ok bool
		switch s.do {
		case "fail":
			pool, wait = f.Failed(false)
		case "stall":
			pool, wait = f.Failed(true)
		case "reconnect":
			pool, wait = f.Reconnect()
		case "abandon":
			pool, wait = f.Abandon()
		case "login":
			f.LoggedIn(sec(s.at))
			pool = f.Current()
		case "healthy", "sick":
			ok = f.Observe(sec(s.at), s.do == "healthy")
			pool = f.Current()
		case "probe?":
			pool, ok = f.ProbeDue(sec(s.at))
		case "probe-login":
			f.ProbeLoggedIn()
			pool = f.Probing()
		case "probe-healthy", "probe-sick":
			ok = f.ProbeObserve(sec(s.at), s.do == "probe-healthy")
			pool = f.Current()
		case "probe-fail":
			pool, ok = f.ProbeFailed(sec(s.at))
		default:
			t.Fatalf("unknown step %q", s.do)
		}
		require.Equal(t, s.pool, pool, msg)
		require.Equal(t, sec(s.wait), wait, msg)
		require.Equal(t, s.ok, ok, msg)
	}
}

func TestFailover_Rules(t *testing.T) {
	// Three pools, two tries each, 1 s pause, stable after 10 s, probes
	// every 30 s unless a case says otherwise.
	policy := FailoverPolicy{Retries: 2, Pause: time.Second, Stable: 10 * time.Second, ProbeEvery: 30 * time.Second}
	one := policy
	one.Retries = 1
	noProbe := policy
	noProbe.ProbeEvery = 0
	for _, tc := range []struct {
		name   string
		pools  int
		policy FailoverPolicy
		steps  []foStep
	}{
		{"connect failures walk the list, every round from the primary", 2, policy, []foStep{
			{do: "fail", pool: 0, wait: 1}, {do: "fail", pool: 1}, {do: "fail", pool: 1, wait: 1}, {do: "fail", pool: 0, wait: 1},
		}},
		{"failures after login count toward retries", 2, policy, []foStep{
			{do: "login", at: 0}, {do: "healthy", at: 0}, {do: "healthy", at: 9},
			{do: "fail", pool: 0, wait: 1},
			{do: "login", at: 11}, {do: "fail", pool: 1},
		}},
		{"a stall or a garbage line right after login is a failure too", 2, policy, []foStep{
			{do: "login", at: 0}, {do: "stall", pool: 0, wait: 1}, {do: "login", at: 3}, {do: "stall", pool: 1},
		}},
		{"a stable session clears the failures; its loss is redialled at once", 2, policy, []foStep{
			{do: "fail", pool: 0, wait: 1},
			{do: "login", at: 0}, {do: "healthy", at: 0}, {do: "healthy", at: 10, ok: true},
			{do: "fail", pool: 0},
			{do: "login", at: 11}, {do: "fail", pool: 1},
		}},
		{"health must last the whole period without a break", 1, policy, []foStep{
			{do: "login", at: 0}, {do: "healthy", at: 0}, {do: "sick", at: 5}, {do: "healthy", at: 6},
			{do: "healthy", at: 15}, {do: "healthy", at: 16, ok: true}, {do: "healthy", at: 17},
		}},
		{"a session that ends stalled takes its success back", 2, policy, []foStep{
			{do: "fail", pool: 0, wait: 1},
			{do: "login", at: 0}, {do: "healthy", at: 0}, {do: "healthy", at: 10, ok: true},
			{do: "stall", pool: 1},
		}},
		{"client.reconnect is no failure, but paused unless stable", 2, policy, []foStep{
			{do: "fail", pool: 0, wait: 1},
			{do: "login", at: 0}, {do: "reconnect", pool: 0, wait: 1},
			{do: "login", at: 2}, {do: "reconnect", pool: 0, wait: 1},
			{do: "login", at: 4}, {do: "healthy", at: 4}, {do: "healthy", at: 14, ok: true}, {do: "reconnect", pool: 0},
			{do: "login", at: 15}, {do: "fail", pool: 0, wait: 1},
		}},
		{"retries below 1 mean 1; a single pool is retried after the pause", 1, FailoverPolicy{Pause: time.Second}, []foStep{
			{do: "fail", pool: 0, wait: 1}, {do: "login", at: 0}, {do: "fail", pool: 0, wait: 1},
		}},
		{"a pinned certificate mismatch skips the pool at once", 3, FailoverPolicy{Retries: 5}, []foStep{
			{do: "abandon", pool: 1}, {do: "abandon", pool: 2}, {do: "abandon", pool: 0},
		}},
		{"no probe on the primary or with probing off", 2, noProbe, []foStep{
			{do: "login", at: 0}, {do: "probe?", at: 100, pool: -1},
			{do: "fail", pool: 0, wait: 1}, {do: "fail", pool: 1},
			{do: "login", at: 200, pool: 1}, {do: "probe?", at: 10000, pool: -1},
		}},
		{"a backup probes the primary; healthy for the period, the session moves", 2, one, []foStep{
			{do: "fail", pool: 1},
			{do: "login", at: 0, pool: 1}, {do: "probe?", at: 29, pool: -1}, {do: "probe?", at: 30, pool: 0, ok: true},
			{do: "probe?", at: 31, pool: -1},
			{do: "probe-healthy", at: 31, pool: 1}, // not logged in yet
			{do: "probe-login", pool: 0},
			{do: "probe-healthy", at: 32, pool: 1}, {do: "probe-sick", at: 35, pool: 1}, {do: "probe-healthy", at: 36, pool: 1},
			{do: "probe-healthy", at: 46, pool: 0, ok: true},
			// On probation until healthy with the miners for the period.
			{do: "healthy", at: 47, pool: 0}, {do: "healthy", at: 57, pool: 0, ok: true},
		}},
		{"a probe that fails tries the next higher pool, then waits", 3, one, []foStep{
			{do: "fail", pool: 1}, {do: "fail", pool: 2},
			{do: "login", at: 0, pool: 2}, {do: "probe?", at: 30, pool: 0, ok: true},
			{do: "probe-fail", at: 31, pool: 1, ok: true}, {do: "probe-login", pool: 1},
			{do: "probe-fail", at: 32, pool: -1},
			{do: "probe?", at: 61, pool: -1}, {do: "probe?", at: 62, pool: 0, ok: true},
		}},
		{"a failure of the session abandons its probe", 2, one, []foStep{
			{do: "fail", pool: 1}, {do: "login", at: 0, pool: 1}, {do: "probe?", at: 30, pool: 0, ok: true},
			{do: "fail", pool: 0, wait: 1},
			{do: "probe-login", pool: -1}, {do: "probe-healthy", at: 100, pool: 0},
		}},
		{"a return that fails on probation goes back at once and backs off", 2, one, []foStep{
			{do: "fail", pool: 1}, {do: "login", at: 0, pool: 1},
			{do: "probe?", at: 30, pool: 0, ok: true}, {do: "probe-login", pool: 0},
			{do: "probe-healthy", at: 30, pool: 1}, {do: "probe-healthy", at: 40, pool: 0, ok: true},
			{do: "login", at: 40}, {do: "healthy", at: 41}, {do: "probe?", at: 41, pool: -1},
			{do: "stall", pool: 1}, // probation failed: back to the backup
			{do: "login", at: 42, pool: 1}, {do: "probe?", at: 72, pool: -1}, {do: "probe?", at: 102, pool: 0, ok: true},
			{do: "probe-login", pool: 0}, {do: "probe-healthy", at: 102, pool: 1}, {do: "probe-healthy", at: 112, pool: 0, ok: true},
			{do: "fail", pool: 1},
			{do: "login", at: 113, pool: 1}, {do: "probe?", at: 232, pool: -1}, {do: "probe?", at: 233, pool: 0, ok: true},
			{do: "probe-login", pool: 0}, {do: "probe-healthy", at: 233, pool: 1}, {do: "probe-healthy", at: 243, pool: 0, ok: true},
			// Passing probation resets the interval.
			{do: "healthy", at: 243}, {do: "healthy", at: 253, pool: 0, ok: true},
			{do: "fail", pool: 1}, {do: "login", at: 300, pool: 1}, {do: "probe?", at: 330, pool: 0, ok: true},
		}},
		{"the interval grows to at most 16 times", 2, one, func() []foStep {
			steps := []foStep{{do: "fail", pool: 1}}
			at := 0
			for i := 0; i < 6; i++ {
				steps = append(steps, foStep{do: "login", at: at, pool: 1})
				at += 30 << min(i, maxProbeBackoff)
				steps = append(steps, foStep{do: "probe?", at: at - 1, pool: -1}, foStep{do: "probe?", at: at, ok: true},
					foStep{do: "probe-login"}, foStep{do: "probe-healthy", at: at, pool: 1}, foStep{do: "probe-healthy", at: at + 10, ok: true},
					foStep{do: "fail", pool: 1})
				at += 11
			}
			return steps
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run(t, NewFailover(tc.pools, tc.policy), tc.steps)
		})
	}
}

func TestFailover_Reset_Ugly(t *testing.T) {
	f := NewFailover(3, FailoverPolicy{Retries: 1, ProbeEvery: time.Second})
	f.Failed(false)
	f.Failed(false)
	f.LoggedIn(0)
	_, ok := f.ProbeDue(time.Hour)
	require.True(t, ok)
	f.Reset(4)
	require.Equal(t, 0, f.Current())
	require.Equal(t, -1, f.Probing(), "a new list forgets the probe")
	// A reload candidate that took over: the session is on that pool, and
	// its failures start from zero.
	f.SwitchedTo(3)
	f.LoggedIn(0)
	require.Equal(t, 3, f.Current())
	require.False(t, f.OnProbation())
	pool, wait := f.Failed(false)
	require.Equal(t, 0, pool, "after the last pool, a new round from the primary")
	require.Zero(t, wait)
	require.Equal(t, DefaultStablePeriod, f.policy.Stable, "0 means the default")
	// A reload's new policy keeps the state.
	f.Failed(false)
	f.SetPolicy(FailoverPolicy{Retries: 3, Pause: time.Minute})
	require.Equal(t, 1, f.Current())
	pool, wait = f.Failed(false)
	require.Equal(t, 1, pool, "three tries now")
	require.Equal(t, time.Minute, wait)
}

// Exhausted marks a whole round of the list without a session (what a
// router reads to take the chain's miners elsewhere) and clears at the
// next login; a failure short of a round, or a probation return, is not
// one.
func TestFailover_Exhausted_Good(t *testing.T) {
	f := NewFailover(2, FailoverPolicy{Retries: 2, Pause: time.Second})
	require.False(t, f.Exhausted())
	f.Failed(false)
	f.Failed(false) // pool 0 done
	require.False(t, f.Exhausted(), "the backup is still to be tried")
	f.Failed(false)
	pool, _ := f.Failed(false)
	require.Zero(t, pool)
	require.True(t, f.Exhausted(), "both pools failed their retries")
	f.Failed(false)
	require.True(t, f.Exhausted(), "still no session")
	f.LoggedIn(time.Second)
	require.False(t, f.Exhausted())
	f.Failed(false)
	require.False(t, f.Exhausted())
	f.Reset(2)
	require.False(t, f.Exhausted())
}
