package reactor

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
)

// Pools that accept the login and then misbehave: the proxy must count
// those failures, move the miners to the backup, and bring them back to
// the primary only once a probe has seen it healthy for the stability
// period. Every pool sits behind a segmenting relay (startPool).

// failbackStable is the stability period of these tests.
const failbackStable = 2 * time.Second

// failbackConfig is fastFailover with two tries per pool, a session
// stable after failbackStable and a probe of the primary every second.
func failbackConfig(cfg *Config) *Config {
	cfg.Retries = 2
	cfg.RetryPause = 1
	cfg.PoolTimeout = 2
	cfg.SubmitTimeout = 1
	cfg.PoolStableSeconds = int(failbackStable / time.Second)
	probe := 1
	cfg.PoolProbeSeconds = &probe
	return cfg
}

// failbackBound bounds how long the move to the backup, or back, may
// take: generous for a slow machine, short next to "redialled forever".
const failbackBound = 30 * time.Second

// loginClock records when a pool last accepted a login (from the pool's
// own goroutines).
type loginClock struct {
	mu   sync.Mutex
	last time.Time
	n    int
}

func (c *loginClock) mark() {
	c.mu.Lock()
	c.last, c.n = time.Now(), c.n+1
	c.mu.Unlock()
}

// mockLogf is a mockpool Logf that marks every login.
func (c *loginClock) mockLogf(format string, _ ...any) {
	if bytes.Contains([]byte(format), []byte("logged in")) {
		c.mark()
	}
}

func (c *loginClock) lastLogin() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// cnUntilJob reads until the miner has the job want. With submit set, it
// submits one share on every new session of another pool (a new blob), so
// a pool that does not answer shares is found out.
func cnUntilJob(t *testing.T, m *testminer.CN, want string, submit bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(failbackBound)
	tried := ""
	for m.Job.JobID != want {
		require.True(t, time.Now().Before(deadline), "still not on job %s after %v", want, failbackBound)
		if submit && m.Job.Blob != "" && m.Job.Blob != tried {
			tried = m.Job.Blob
			r := m.Submit() // Pool timeout or Bad gateway: nobody answers it
			require.NotNil(t, r.Error, r.Raw)
			continue
		}
		m.Read()
	}
	return time.Now()
}

// cnFailback runs the common story of a CryptoNote primary that misbehaves
// after login.
func cnFailback(t *testing.T, bad mockpool.Behavior, submit bool) {
	var logins loginClock
	primary := startPool(t, mockpool.Config{Seed: 1, Logf: logins.mockLogf})
	primary.SetBehavior(bad)
	backup := startPool(t, mockpool.Config{Seed: 2})
	_, addr := startProxy(t, failbackConfig(fastFailover(primary.Addr(), backup.Addr())))
	m := testminer.DialCN(t, addr)
	r := m.Login("WALLET")
	require.Nil(t, r.Error, r.Raw)
	require.Equal(t, primary.CurrentJob().JobID, m.Job.JobID, "the primary accepted the login")

	// The primary's failures count: after two, the backup takes over.
	cnUntilJob(t, m, backup.CurrentJob().JobID, submit)
	require.Nil(t, m.Submit().Error, "mining on the backup")
	require.Equal(t, int64(1), backup.Stats().Accepted)
	require.GreaterOrEqual(t, primary.Stats().Logins, 2, "both tries on the primary logged in")

	if !submit {
		// The probes of the still-broken primary fail without moving the
		// miner: it keeps mining on the backup.
		probes := primary.Stats().Connections + 2
		require.NoError(t, primary.WaitFor(waitCtx(t), func(s mockpool.Stats) bool { return s.Connections >= probes }))
		require.Nil(t, m.Submit().Error)
		require.Equal(t, backup.CurrentJob().JobID, m.Job.JobID, "still on the backup")
		require.Equal(t, int64(2), backup.Stats().Accepted)
	}

	// The primary recovers; the miner goes back once a probe has seen it
	// healthy for the stability period, without reconnecting.
	primary.SetBehavior(mockpool.Behavior{})
	back := cnUntilJob(t, m, primary.CurrentJob().JobID, false)
	require.GreaterOrEqual(t, back.Sub(logins.lastLogin()), failbackStable, "moved back before the probe was stable")
	r = m.Submit()
	require.Nil(t, r.Error, r.Raw)
	require.NoError(t, primary.WaitFor(waitCtx(t), func(s mockpool.Stats) bool { return s.Accepted == 1 }))
	require.NoError(t, backup.WaitFor(waitCtx(t), func(s mockpool.Stats) bool { return s.ActiveConnections == 0 }), "the backup session retired")
}

func TestFailback_CNGarbageAfterLogin_Ugly(t *testing.T) {
	cnFailback(t, mockpool.Behavior{GarbageAfterLogin: true}, false)
}

func TestFailback_CNCloseMidLine_Ugly(t *testing.T) {
	cnFailback(t, mockpool.Behavior{CloseMidLine: true}, false)
}

func TestFailback_CNNoSubmitReply_Ugly(t *testing.T) {
	cnFailback(t, mockpool.Behavior{NoSubmitReply: true}, true)
}

// A probe cannot see that a pool ignores shares (it sends none). The
// return is on probation: the first failure with the miners' shares sends
// them straight back to the backup, without retrying the primary.
func TestFailback_CNProbation_Ugly(t *testing.T) {
	var logins loginClock
	primary := startPool(t, mockpool.Config{Seed: 1, Logf: logins.mockLogf})
	primary.SetBehavior(mockpool.Behavior{NoSubmitReply: true})
	backup := startPool(t, mockpool.Config{Seed: 2})
	_, addr := startProxy(t, failbackConfig(fastFailover(primary.Addr(), backup.Addr())))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	cnUntilJob(t, m, backup.CurrentJob().JobID, true)

	back := cnUntilJob(t, m, primary.CurrentJob().JobID, false)
	require.GreaterOrEqual(t, back.Sub(logins.lastLogin()), failbackStable)
	onPrimary := m.Job.Blob
	r := m.Submit()
	require.NotNil(t, r.Error, r.Raw)
	// The next job is the backup's: with retries 2 a failure off
	// probation would have redialled the primary first.
	for m.Job.Blob == onPrimary {
		m.Read()
	}
	require.Equal(t, backup.CurrentJob().JobID, m.Job.JobID, "straight back to the backup")
	require.Nil(t, m.Submit().Error)
}

// sv1UntilJob is cnUntilJob for a stratum v1 miner (with XSub, so a new
// pool session shows as a new extranonce1). With submit, it sends one
// share on each new session, once that session's first job has arrived
// (a share sent between mining.set_extranonce and the job is answered
// locally, never reaching the pool it is meant to test).
func sv1UntilJob(t *testing.T, m *testminer.SV1, want string, submit bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(failbackBound)
	var tried []byte
	seen := append([]byte(nil), m.E1...)
	jobSince := m.Job.JobID != ""
	for m.Job.JobID != want {
		require.True(t, time.Now().Before(deadline), "still not on job %s after %v", want, failbackBound)
		if !bytes.Equal(m.E1, seen) {
			seen = append(seen[:0], m.E1...)
			jobSince = false
		}
		if submit && jobSince && !bytes.Equal(m.E1, tried) {
			tried = append(tried[:0], m.E1...)
			r := m.Submit()
			require.False(t, r.Accepted(), r.Raw)
			continue
		}
		if l := m.Read(); l.Method == "mining.notify" && bytes.Equal(m.E1, seen) {
			jobSince = true
		}
	}
	return time.Now()
}

func sv1Failback(t *testing.T, bad sv1pool.Behavior, submit bool) {
	var logins loginClock
	authorize := func(string, string) error { logins.mark(); return nil }
	primary := startSV1Pool(t, sv1pool.Config{Seed: 1, Authorize: authorize})
	backup := startSV1Pool(t, sv1pool.Config{Seed: 2})
	_, addr := startProxy(t, failbackConfig(sv1Config(primary.Addr(), backup.Addr())))
	m := testminer.DialSV1(t, addr)
	m.XSub = true
	m.Login("rig", 0)
	require.Equal(t, primary.CurrentJob().JobID, m.Job.JobID)
	// The primary starts misbehaving; one that breaks after login needs a
	// new login to show it.
	primary.SetBehavior(bad)
	if !submit {
		primary.DropConnections()
	}

	sv1UntilJob(t, m, backup.CurrentJob().JobID, submit)
	r := m.Submit()
	require.True(t, r.Accepted(), r.Raw)
	require.GreaterOrEqual(t, primary.Stats().Authorizes, 2, "both tries on the primary logged in")

	if !submit {
		probes := primary.Stats().Connections + 2
		require.NoError(t, primary.WaitFor(waitCtx(t), func(s sv1pool.Stats) bool { return s.Connections >= probes }))
		r = m.Submit()
		require.True(t, r.Accepted(), r.Raw)
		require.Equal(t, backup.CurrentJob().JobID, m.Job.JobID, "still on the backup")
	}

	primary.SetBehavior(sv1pool.Behavior{})
	back := sv1UntilJob(t, m, primary.CurrentJob().JobID, false)
	require.GreaterOrEqual(t, back.Sub(logins.lastLogin()), failbackStable, "moved back before the probe was stable")
	r = m.Submit()
	require.True(t, r.Accepted(), r.Raw)
	require.Zero(t, backup.Stats().Rejected+primary.Stats().Rejected)
	require.NoError(t, backup.WaitFor(waitCtx(t), func(s sv1pool.Stats) bool { return s.ActiveConnections == 0 }), "the backup session retired")
}

func TestFailback_SV1GarbageAfterLogin_Ugly(t *testing.T) {
	sv1Failback(t, sv1pool.Behavior{GarbageAfterLogin: true}, false)
}

func TestFailback_SV1CloseMidLine_Ugly(t *testing.T) {
	sv1Failback(t, sv1pool.Behavior{CloseMidLine: true}, false)
}

func TestFailback_SV1NoSubmitReply_Ugly(t *testing.T) {
	sv1Failback(t, sv1pool.Behavior{NoSubmitReply: true}, true)
}
