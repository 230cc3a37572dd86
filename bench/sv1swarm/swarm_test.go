//go:build linux

package sv1swarm

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/internal/evloop"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
)

// easyDiff makes shares cheap (4096 hashes, a few ms even under -race) in
// the tests that are not about the default difficulty.
const easyDiff = 1.0 / (1 << 20)

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func startPool(t *testing.T, cfg sv1pool.Config) *sv1pool.Pool {
	t.Helper()
	p, err := sv1pool.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

func startSwarm(t *testing.T, cfg Config) *Swarm {
	t.Helper()
	s, err := Start(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// submitLog collects what the pool judged, goroutine-safe.
type submitLog struct {
	mu   sync.Mutex
	all  []sv1pool.Submit
	errs []string
}

func (l *submitLog) record(s sv1pool.Submit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, s)
	if !s.Accepted() {
		l.errs = append(l.errs, strconv.Itoa(s.Code)+" "+s.Error)
	}
}

// count returns how many recorded submits f accepts.
func (l *submitLog) count(f func(sv1pool.Submit) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.all {
		if f(s) {
			n++
		}
	}
	return n
}

func (l *submitLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

// requireClean asserts that neither side saw a bad share or an error.
func requireClean(t *testing.T, s *Swarm, p *sv1pool.Pool, log *submitLog) {
	t.Helper()
	st := s.Stats()
	require.Zero(t, st.ErrorCount(), "%v", st.Errors)
	require.Zero(t, st.Rejected, "%v", st.RejectedByCode)
	ps := p.Stats()
	require.Zero(t, ps.Rejected, "%+v", ps)
	require.Zero(t, ps.Overlaps)
	require.Zero(t, ps.Untracked)
	if log != nil {
		require.Empty(t, log.errors())
	}
}

func TestSwarm_Pool_Good(t *testing.T) {
	var log submitLog
	pool := startPool(t, sv1pool.Config{OnSubmit: log.record})
	s := startSwarm(t, Config{
		ProxyAddr:       pool.Addr(),
		Miners:          20,
		SharesPerSecond: 20,
		Workers:         2, // a share costs ~60 ms of CPU under -race
		WorkerPrefix:    "rig",
		JobSentAt:       pool.JobSentAt,
	})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool {
		return st.Authorized == 20 && st.Accepted >= 40
	}))
	requireClean(t, s, pool, &log)

	// A new job reaches every miner; its fan-out latency is measured. (Not
	// clean: a share found on the old job may cross the notify on the wire,
	// which a clean job would make stale; see TestSwarm_CleanJob_Ugly.)
	job := pool.BroadcastJob(false)
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool {
		return st.LastJobID == job.JobID && st.MinersWithLastJob == 20 && st.JobLatency.Count() >= 20
	}))
	// And shares on it are accepted too.
	require.NoError(t, pool.WaitFor(waitCtx(t), func(ps sv1pool.Stats) bool {
		return log.count(func(s sv1pool.Submit) bool { return s.JobID == job.JobID && s.Accepted() }) >= 20
	}))
	requireClean(t, s, pool, &log)

	st := s.Stats()
	require.Equal(t, 20, st.Connected)
	require.Equal(t, 20, st.Subscribed)
	require.Zero(t, st.Connecting+st.Waiting+st.Closed)
	require.GreaterOrEqual(t, st.Jobs, int64(40))
	require.GreaterOrEqual(t, st.SharesSent, st.Accepted)
	require.GreaterOrEqual(t, st.Searches, st.SharesSent)
	require.Greater(t, st.Hashes, st.Searches*1000, "real searches")
	require.Equal(t, int64(20), st.LoginLatency.Count())
	require.Positive(t, st.SubmitRTT.Count())
	require.Greater(t, st.JobLatency.P50(), time.Duration(0))
	require.Less(t, st.JobLatency.Max(), 5*time.Second)
	require.Positive(t, st.KernelTimestamps, "SO_TIMESTAMPNS delivered no timestamps")
	require.Zero(t, st.FallbackTimestamps)
	require.Contains(t, st.String(), "authorized 20")

	ps := pool.Stats()
	require.Equal(t, 20, ps.Subscribes)
	require.Equal(t, 20, ps.Authorizes)
	require.Zero(t, ps.Duplicates+ps.LowDiff+ps.Stale+ps.BadFormat)

	// Distinct extranonce1 and worker per connection; shares used their own.
	e1s := make(map[string]bool)
	users := make(map[string]bool)
	sessionE1 := make(map[string]string)
	for _, ses := range pool.Sessions() {
		require.Equal(t, DefaultAgent, ses.UserAgent)
		require.True(t, strings.HasPrefix(ses.User, DefaultUser+".rig"), ses.User)
		e1s[ses.Extranonce1] = true
		users[ses.User] = true
		sessionE1[ses.ID] = ses.Extranonce1
		host, _, err := net.SplitHostPort(ses.RemoteAddr)
		require.NoError(t, err)
		require.Equal(t, "127.0.0.2", host)
	}
	require.Len(t, e1s, 20)
	require.Len(t, users, 20)
	require.Zero(t, log.count(func(s sv1pool.Submit) bool { return s.Extranonce1 != sessionE1[s.SessionID] }))
	require.Zero(t, log.count(func(s sv1pool.Submit) bool { return len(s.Extranonce2) != 16 || s.VersionBits != "" }))

	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.NoError(t, pool.WaitFor(waitCtx(t), func(ps sv1pool.Stats) bool { return ps.ActiveConnections == 0 }))
	require.Zero(t, s.Stats().Connected)
}

func TestSwarm_VersionRolling_Good(t *testing.T) {
	var log submitLog
	pool := startPool(t, sv1pool.Config{VersionRolling: true, OnSubmit: log.record, Difficulty: easyDiff})
	s := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 5, SharesPerSecond: 50, VersionRolling: true})
	rolled := func(s sv1pool.Submit) bool {
		return s.Accepted() && s.VersionBits != "" && s.VersionBits != "00000000"
	}
	require.NoError(t, pool.WaitFor(waitCtx(t), func(sv1pool.Stats) bool { return log.count(rolled) >= 20 }))
	st := s.Stats()
	require.Equal(t, int64(5), st.RollingGranted)
	for _, ses := range pool.Sessions() {
		require.True(t, ses.VersionRolling)
		require.Equal(t, uint32(0x1fffe000), ses.VersionMask)
	}
	require.Zero(t, log.count(func(s sv1pool.Submit) bool { return s.VersionBits == "" }), "every share carries version bits")
	requireClean(t, s, pool, &log)

	// A narrower mask: the miners follow it.
	pool.SetVersionMask(0x00ffe000)
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.VersionMaskChanges == 5 }))
	before := log.count(func(sv1pool.Submit) bool { return true })
	require.NoError(t, pool.WaitFor(waitCtx(t), func(sv1pool.Stats) bool {
		return log.count(func(s sv1pool.Submit) bool {
			return rolled(s) && s.VersionBits[0] == '0' && s.VersionBits[1] == '0'
		}) >= 10 && log.count(func(sv1pool.Submit) bool { return true }) >= before+20
	}))
	requireClean(t, s, pool, &log)
}

func TestSwarm_SetExtranonce_Good(t *testing.T) {
	var log submitLog
	pool := startPool(t, sv1pool.Config{OnSubmit: log.record, Difficulty: easyDiff})
	subscribed := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 5, SharesPerSecond: 25, ExtranonceSubscribe: true, User: "xsub"})
	plain := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 5, SharesPerSecond: 25, User: "plain"})
	for _, s := range []*Swarm{subscribed, plain} {
		require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Authorized == 5 && st.Accepted >= 10 }))
	}
	require.Equal(t, int64(5), subscribed.Stats().ExtranonceSubscribed)
	before := make(map[string]string)
	for _, ses := range pool.Sessions() {
		before[ses.ID] = ses.Extranonce1
	}

	require.Equal(t, 5, pool.SetExtranonce(nil))
	require.NoError(t, subscribed.WaitFor(waitCtx(t), func(st Stats) bool { return st.ExtranonceChanges == 5 }))
	after := make(map[string]string)
	for _, ses := range pool.Sessions() {
		after[ses.ID] = ses.Extranonce1
		if ses.User == "xsub" {
			require.NotEqual(t, before[ses.ID], ses.Extranonce1)
		} else {
			require.Equal(t, before[ses.ID], ses.Extranonce1)
		}
	}
	// Every changed miner keeps mining, with its new extranonce1.
	require.NoError(t, pool.WaitFor(waitCtx(t), func(sv1pool.Stats) bool {
		perSession := make(map[string]int)
		log.count(func(s sv1pool.Submit) bool {
			if s.Accepted() && s.Worker == "xsub" && s.Extranonce1 == after[s.SessionID] {
				perSession[s.SessionID]++
			}
			return false
		})
		for _, n := range perSession {
			if n < 2 {
				return false
			}
		}
		return len(perSession) == 5
	}))
	requireClean(t, subscribed, pool, &log)
	requireClean(t, plain, pool, &log)
	require.Zero(t, plain.Stats().ExtranonceChanges)
}

func TestSwarm_DifficultyChange_Good(t *testing.T) {
	var log submitLog
	pool := startPool(t, sv1pool.Config{OnSubmit: log.record, Difficulty: easyDiff})
	s := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 4, SharesPerSecond: 40})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Accepted >= 10 }))
	// Harder, then a job: shares at the new difficulty only.
	require.NoError(t, pool.SetDifficulty(4*easyDiff))
	job := pool.BroadcastJob(false)
	require.NoError(t, pool.WaitFor(waitCtx(t), func(sv1pool.Stats) bool {
		return log.count(func(s sv1pool.Submit) bool { return s.JobID == job.JobID && s.Accepted() }) >= 10
	}))
	require.Zero(t, log.count(func(s sv1pool.Submit) bool { return s.JobID == job.JobID && s.Difficulty < 4*easyDiff }))
	// Easier again.
	require.NoError(t, pool.SetDifficulty(easyDiff))
	job = pool.BroadcastJob(false)
	require.NoError(t, pool.WaitFor(waitCtx(t), func(sv1pool.Stats) bool {
		return log.count(func(s sv1pool.Submit) bool { return s.JobID == job.JobID && s.Accepted() }) >= 10
	}))
	require.Equal(t, int64(8), s.Stats().DifficultyChanges-4)
	requireClean(t, s, pool, &log)
}

func TestSwarm_CleanJob_Ugly(t *testing.T) {
	var log submitLog
	pool := startPool(t, sv1pool.Config{OnSubmit: log.record})
	// More than the workers can do: every miner always has a search in
	// flight, which each clean job voids.
	s := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 4, SharesPerSecond: 1000})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Accepted >= 10 }))
	for i := 0; i < 5; i++ {
		job := pool.BroadcastJob(true)
		require.NoError(t, pool.WaitFor(waitCtx(t), func(sv1pool.Stats) bool {
			return log.count(func(s sv1pool.Submit) bool { return s.JobID == job.JobID && s.Accepted() }) >= 4
		}))
	}
	// Searches on voided jobs are dropped; only a share already on the wire
	// when the clean job left the pool can be stale.
	st := s.Stats()
	require.Positive(t, st.Discarded)
	require.Zero(t, st.ErrorCount()-st.Errors["reject: Job not found"], "%v", st.Errors)
	require.Equal(t, st.Rejected, st.RejectedByCode[21])
	require.LessOrEqual(t, st.Rejected, int64(5*4))
	ps := pool.Stats()
	require.Equal(t, ps.Rejected, ps.Stale)
}

func TestSwarm_Reconnect_Good(t *testing.T) {
	from := startPool(t, sv1pool.Config{Difficulty: easyDiff})
	to := startPool(t, sv1pool.Config{Difficulty: easyDiff})
	s := startSwarm(t, Config{ProxyAddr: from.Addr(), Miners: 3, SharesPerSecond: 30})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Authorized == 3 && st.Accepted >= 3 }))
	_, portText, err := net.SplitHostPort(to.Addr())
	require.NoError(t, err)
	port, err := strconv.Atoi(portText)
	require.NoError(t, err)
	from.SendReconnect("127.0.0.1", port)
	require.NoError(t, to.WaitFor(waitCtx(t), func(ps sv1pool.Stats) bool { return ps.Authorizes == 3 && ps.Accepted >= 6 }))
	require.NoError(t, from.WaitFor(waitCtx(t), func(ps sv1pool.Stats) bool { return ps.ActiveConnections == 0 }))
	st := s.Stats()
	require.Equal(t, int64(3), st.Reconnects)
	require.Equal(t, 3, st.Authorized)
	require.Zero(t, st.Closed)
	requireClean(t, s, to, nil)
}

func TestSwarm_Users_Good(t *testing.T) {
	pool := startPool(t, sv1pool.Config{})
	s := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 4, Users: []string{"alice", "bob"}, Agent: "bmminer/2.0.0", Loops: 1})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Authorized == 4 }))
	users := make(map[string]int)
	for _, ses := range pool.Sessions() {
		users[ses.User]++
		require.Equal(t, "bmminer/2.0.0", ses.UserAgent)
	}
	require.Equal(t, map[string]int{"alice": 2, "bob": 2}, users)
	require.Zero(t, s.Stats().SharesSent, "no mining without a share rate")
}

func TestSwarm_AuthorizeRejected_Bad(t *testing.T) {
	pool := startPool(t, sv1pool.Config{})
	pool.SetBehavior(sv1pool.Behavior{RejectAuthorize: true})
	s := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 3})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Closed == 3 }))
	st := s.Stats()
	require.Equal(t, map[string]int64{"authorize: Unauthorized worker": 3}, st.Errors)
	require.Zero(t, st.Connected+st.Subscribed+st.Authorized)
}

func TestSwarm_Refused_Bad(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	s := startSwarm(t, Config{ProxyAddr: addr, Miners: 4})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Closed == 4 }))
	require.Equal(t, map[string]int64{"connect: connection refused": 4}, s.Stats().Errors)
}

func TestSwarm_DropOnSubmit_Bad(t *testing.T) {
	pool := startPool(t, sv1pool.Config{Difficulty: easyDiff})
	pool.SetBehavior(sv1pool.Behavior{DropOnSubmit: true})
	s := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 3, SharesPerSecond: 60})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Closed == 3 }))
	require.Equal(t, map[string]int64{"closed by peer": 3}, s.Stats().Errors)
}

func TestSwarm_Timeouts_Ugly(t *testing.T) {
	pool := startPool(t, sv1pool.Config{Difficulty: easyDiff})
	pool.SetBehavior(sv1pool.Behavior{Silent: true})
	s := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 2, Timeout: 100 * time.Millisecond})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Closed == 2 }))
	require.Equal(t, map[string]int64{"timeout: login": 2}, s.Stats().Errors)

	pool.SetBehavior(sv1pool.Behavior{NoSubmitReply: true})
	s2 := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 2, Timeout: 100 * time.Millisecond, SharesPerSecond: 100})
	require.NoError(t, s2.WaitFor(waitCtx(t), func(st Stats) bool { return st.Errors["timeout: submit"] >= 8 }))
	st := s2.Stats()
	require.Equal(t, 2, st.Authorized, "a lost submit answer does not close the miner")
	require.Zero(t, st.Accepted)
}

func TestSwarm_Garbage_Ugly(t *testing.T) {
	pool := startPool(t, sv1pool.Config{})
	pool.SetBehavior(sv1pool.Behavior{Garbage: true})
	s := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 2})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Closed == 2 }))
	require.Equal(t, map[string]int64{"protocol: not a JSON object": 2}, s.Stats().Errors)
}

func TestSwarm_ContextCancel_Good(t *testing.T) {
	pool := startPool(t, sv1pool.Config{Difficulty: easyDiff})
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, Config{ProxyAddr: pool.Addr(), Miners: 3, SharesPerSecond: 30})
	require.NoError(t, err)
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Authorized == 3 }))
	cancel()
	require.NoError(t, pool.WaitFor(waitCtx(t), func(ps sv1pool.Stats) bool { return ps.ActiveConnections == 0 }))
	require.NoError(t, s.Close())
}

func TestSwarm_Start_Bad(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []Config{
		{ProxyAddr: "127.0.0.1:1", Miners: 0},
		{ProxyAddr: "no-port", Miners: 1},
		{ProxyAddr: "127.0.0.1:1", Miners: 3, SourceIPs: []string{"127.0.0.2"}, PerSourceIP: 2},
		{ProxyAddr: "127.0.0.1:1", Miners: 1, SourceIPs: []string{"::1"}},
		{ProxyAddr: "127.0.0.1:1", Miners: 1, SharesPerSecond: -1},
	} {
		_, err := Start(ctx, cfg)
		require.Error(t, err, "%+v", cfg)
	}
}

func TestMiner_Size_Good(t *testing.T) {
	// Memory per simulated miner on the Go side: its protocol state and its
	// connection in the event loop.
	require.LessOrEqual(t, unsafe.Sizeof(miner{})+evloop.ConnSize, uintptr(224))
}
