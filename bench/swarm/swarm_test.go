//go:build linux

package swarm

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/internal/evloop"
	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/stratum"
)

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func startPool(t *testing.T, cfg mockpool.Config) *mockpool.Pool {
	t.Helper()
	p, err := mockpool.Start(cfg)
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

// submitLog collects what the pool saw, goroutine-safe.
type submitLog struct {
	mu        sync.Mutex
	n         int
	errs      []string
	badNonces []string
}

func (l *submitLog) record(want byte) func(mockpool.Submit) {
	return func(s mockpool.Submit) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.n++
		if s.Error != "" {
			l.errs = append(l.errs, s.Error)
		}
		if len(s.Nonce) != 8 || stratum.NonceFixedByte([]byte(s.Nonce)) != want {
			l.badNonces = append(l.badNonces, s.Nonce)
		}
	}
}

func TestSwarm_MockPool_Good(t *testing.T) {
	var log submitLog
	pool := startPool(t, mockpool.Config{Difficulty: 5000, OnSubmit: log.record(0)})
	job0 := pool.CurrentJob()
	fixed, ok := fixedByteOf(job0.Blob)
	require.True(t, ok)
	require.Zero(t, fixed, "the mock pool's blob has 0 at byte 42")

	s := startSwarm(t, Config{
		ProxyAddr:       pool.Addr(),
		Miners:          50,
		SharesPerSecond: 200,
		RigIDPrefix:     "rig-",
		JobSentAt:       pool.JobSentAt,
	})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool {
		return st.LoggedIn == 50 && st.Accepted >= 100
	}))

	// A new job reaches every miner; its fan-out latency is measured.
	job := pool.BroadcastJob()
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool {
		return st.LastJobID == job.JobID && st.MinersWithLastJob == 50 && st.JobLatency.Count() >= 50
	}))
	// And shares on it are accepted too.
	before := s.Stats().Accepted
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Accepted >= before+50 }))

	st := s.Stats()
	require.Zero(t, st.ErrorCount(), "%v", st.Errors)
	require.Zero(t, st.Rejected)
	require.Equal(t, 50, st.Connected)
	require.Zero(t, st.Connecting+st.Waiting+st.Closed)
	require.GreaterOrEqual(t, st.Jobs, int64(100))
	require.GreaterOrEqual(t, st.SharesSent, st.Accepted)
	require.Equal(t, int64(50), st.LoginLatency.Count())
	require.Equal(t, st.Accepted, st.SubmitRTT.Count())
	require.Greater(t, st.JobLatency.P50(), time.Duration(0))
	require.Less(t, st.JobLatency.Max(), 5*time.Second)
	require.Positive(t, st.KernelTimestamps, "SO_TIMESTAMPNS delivered no timestamps")
	// The kernel switches timestamping on asynchronously: the very first
	// packets of a run may come without one.
	require.Greater(t, st.KernelTimestamps, 10*st.FallbackTimestamps)
	t.Logf("timestamps: %d kernel, %d fallback\n%s", st.KernelTimestamps, st.FallbackTimestamps, st)
	require.Contains(t, st.String(), "logged-in 50")

	ps := pool.Stats()
	require.Zero(t, ps.Duplicates)
	require.Zero(t, ps.Rejected)
	require.Zero(t, ps.BadFormat+ps.LowDiff)
	require.Equal(t, 50, ps.Logins)

	log.mu.Lock()
	require.Empty(t, log.errs)
	require.Empty(t, log.badNonces)
	require.Positive(t, log.n)
	log.mu.Unlock()

	rigs := make(map[string]bool)
	for _, ses := range pool.Sessions() {
		require.Equal(t, DefaultLogin, ses.Login)
		require.Equal(t, DefaultAgent, ses.Agent)
		require.Equal(t, []string{"rx/0"}, ses.Algos)
		require.True(t, strings.HasPrefix(ses.RigID, "rig-"))
		rigs[ses.RigID] = true
	}
	require.Len(t, rigs, 50)

	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.NoError(t, pool.WaitFor(waitCtx(t), func(ps mockpool.Stats) bool { return ps.ActiveConnections == 0 }))
	require.Zero(t, s.Stats().Connected)
}

func TestSwarm_SourceIPs_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	s := startSwarm(t, Config{
		ProxyAddr:   pool.Addr(),
		Miners:      20,
		SourceIPs:   []string{"127.0.0.2", "127.0.0.3"},
		PerSourceIP: 10,
	})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.LoggedIn == 20 }))
	hosts := make(map[string]int)
	for _, ses := range pool.Sessions() {
		host, _, err := net.SplitHostPort(ses.RemoteAddr)
		require.NoError(t, err)
		hosts[host]++
	}
	require.Equal(t, map[string]int{"127.0.0.2": 10, "127.0.0.3": 10}, hosts)
}

func TestSwarm_DefaultSourceIPs_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	s := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 7, PerSourceIP: 3, ConnectRate: 1000, Loops: 3})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.LoggedIn == 7 }))
	hosts := make(map[string]int)
	for _, ses := range pool.Sessions() {
		host, _, _ := net.SplitHostPort(ses.RemoteAddr)
		hosts[host]++
	}
	require.Equal(t, map[string]int{"127.0.0.2": 3, "127.0.0.3": 2, "127.0.0.4": 2}, hosts)
}

func TestSwarm_LoginRejected_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	pool.SetBehavior(mockpool.Behavior{RejectLogin: "Invalid payment address provided"})
	s := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 5})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Closed == 5 }))
	st := s.Stats()
	require.Equal(t, map[string]int64{"login: Invalid payment address provided": 5}, st.Errors)
	require.Zero(t, st.Connected+st.LoggedIn)
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
	pool := startPool(t, mockpool.Config{})
	pool.SetBehavior(mockpool.Behavior{DropOnSubmit: true})
	s := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 3, SharesPerSecond: 300})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Closed == 3 }))
	require.Equal(t, map[string]int64{"closed by peer": 3}, s.Stats().Errors)
}

func TestSwarm_Timeouts_Ugly(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	pool.SetBehavior(mockpool.Behavior{Silent: true})
	s := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 2, Timeout: 100 * time.Millisecond})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Closed == 2 }))
	require.Equal(t, map[string]int64{"timeout: login": 2}, s.Stats().Errors)

	pool.SetBehavior(mockpool.Behavior{NoSubmitReply: true})
	s2 := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 2, Timeout: 100 * time.Millisecond, SharesPerSecond: 100})
	require.NoError(t, s2.WaitFor(waitCtx(t), func(st Stats) bool { return st.Errors["timeout: submit"] >= 8 }))
	st := s2.Stats()
	require.Equal(t, 2, st.LoggedIn, "a lost submit answer does not close the miner")
	require.Zero(t, st.Accepted)
}

func TestSwarm_Garbage_Ugly(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	pool.SetBehavior(mockpool.Behavior{Garbage: true})
	s := startSwarm(t, Config{ProxyAddr: pool.Addr(), Miners: 2})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Closed == 2 }))
	require.Equal(t, map[string]int64{"protocol: not a JSON object": 2}, s.Stats().Errors)
}

func TestSwarm_ContextCancel_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, Config{ProxyAddr: pool.Addr(), Miners: 3})
	require.NoError(t, err)
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.LoggedIn == 3 }))
	cancel()
	require.NoError(t, pool.WaitFor(waitCtx(t), func(ps mockpool.Stats) bool { return ps.ActiveConnections == 0 }))
	require.NoError(t, s.Close())
}

func TestSwarm_Start_Bad(t *testing.T) {
	ctx := context.Background()
	_, err := Start(ctx, Config{ProxyAddr: "127.0.0.1:1", Miners: 0})
	require.Error(t, err)
	_, err = Start(ctx, Config{ProxyAddr: "no-port", Miners: 1})
	require.Error(t, err)
	_, err = Start(ctx, Config{ProxyAddr: "127.0.0.1:1", Miners: 3, SourceIPs: []string{"127.0.0.2"}, PerSourceIP: 2})
	require.Error(t, err)
	_, err = Start(ctx, Config{ProxyAddr: "127.0.0.1:1", Miners: 1, SourceIPs: []string{"::1"}})
	require.Error(t, err)
	_, err = Start(ctx, Config{ProxyAddr: "127.0.0.1:1", Miners: 1, SharesPerSecond: -1})
	require.Error(t, err)
}

func TestMiner_Size_Good(t *testing.T) {
	// Memory per simulated miner on the Go side (plus its session id): its
	// protocol state and its connection in the event loop.
	require.LessOrEqual(t, unsafe.Sizeof(miner{})+evloop.ConnSize, uintptr(192))
}

// TestSwarm_LateLogin_Good runs miners against a scripted proxy that holds
// the login reply back (like go-proxy before it has a job), then answers
// with a blob whose byte 42 is 0x5a, split across two writes.
func TestSwarm_LateLogin_Good(t *testing.T) {
	const fixed = 0x5a
	release := make(chan struct{})
	var submits, badNonce atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	job := stratum.Job{Blob: strings.Repeat("0b", 76), JobID: "job-1", Target: stratum.TargetFromDifficulty(2000), Algo: "rx/0"}

	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				serveScripted(conn, &job, fixed, release, &submits, &badNonce)
			}()
		}
	}()

	s := startSwarm(t, Config{ProxyAddr: ln.Addr().String(), Miners: 3, SharesPerSecond: 300})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Connected == 3 }))
	require.Zero(t, s.Stats().LoggedIn, "no login reply yet")
	close(release)
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.LoggedIn == 3 && st.Accepted >= 30 }))
	require.NoError(t, s.Close())
	require.Zero(t, badNonce.Load())
	require.GreaterOrEqual(t, submits.Load(), int64(30))
	st := s.Stats()
	require.Zero(t, st.ErrorCount(), "%v", st.Errors)
	require.Equal(t, "job-1", st.LastJobID)
	require.Equal(t, 3, st.MinersWithLastJob)
}

// serveScripted is a minimal proxy: it answers the login after release,
// then OKs every submit, checking the nonce's fixed byte and difficulty.
func serveScripted(conn net.Conn, job *stratum.Job, fixed byte, release <-chan struct{}, submits, badNonce *atomic.Int64) {
	var parser stratumParser
	buf := make([]byte, 0, 64<<10)
	opts := stratum.JobOptions{FixedByte: int(fixed), Algo: true}
	session := []byte("sess-" + conn.RemoteAddr().String())
	for {
		n, err := conn.Read(buf[len(buf):cap(buf)])
		if err != nil {
			return
		}
		buf = buf[:len(buf)+n]
		for {
			line, used, lerr := stratum.NextLine(buf)
			if lerr != nil || used == 0 {
				break
			}
			req, ok := parser.parse(line)
			buf = buf[:copy(buf, buf[used:])]
			if !ok {
				return
			}
			var out []byte
			switch req.Method {
			case stratum.MethodLogin:
				<-release
				out = stratum.AppendLoginReply(nil, &req.ID, session, job, opts, stratum.ExtAlgo|stratum.ExtNiceHash)
				// Split the reply across two writes.
				if _, err := conn.Write(out[:50]); err != nil {
					return
				}
				out = out[50:]
			case stratum.MethodSubmit:
				submits.Add(1)
				p := &req.Params
				if p.ValidateSubmit() != nil || stratum.NonceFixedByte(p.Nonce) != fixed ||
					stratum.ResultDifficulty(p.Result) < job.Difficulty() || string(p.SessionID) != string(session) {
					badNonce.Add(1)
				}
				out = stratum.AppendStatusReply(nil, &req.ID, "OK")
			}
			if _, err := conn.Write(out); err != nil {
				return
			}
		}
	}
}
