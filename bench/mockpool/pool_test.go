package mockpool

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/internal/pooltest"
	"forge.lthn.ai/core/go-proxy/stratum"
)

func startPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	p, err := Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

func TestPool_Login_Good(t *testing.T) {
	p := startPool(t, Config{Seed: 1})
	c := dialPool(t, p)
	session, job := c.login()

	require.True(t, job.IsValid())
	require.Len(t, job.Blob, 152)
	require.Equal(t, strings.Repeat("0", 8), job.Blob[78:86], "nonce bytes 39..42 are zero")
	require.Equal(t, stratum.TargetFromDifficulty(1000), job.Target)
	require.Equal(t, uint64(1000), job.Difficulty())
	require.Equal(t, "rx/0", job.Algo)
	require.NotZero(t, job.Height)
	require.Len(t, job.SeedHash, 64)
	require.True(t, stratum.IsToken(job.JobID, stratum.MaxJobIDLen))
	requireSameJob(t, p.CurrentJob(), job)

	require.NoError(t, p.WaitFor(pooltest.WaitCtx(t), func(s Stats) bool { return s.Logins == 1 }))
	sessions := p.Sessions()
	require.Len(t, sessions, 1)
	s := sessions[0]
	require.Equal(t, session, s.ID)
	require.Equal(t, "wallet", s.Login)
	require.Equal(t, "x", s.Pass)
	require.Equal(t, "test/1.0", s.Agent)
	require.Equal(t, "rig-1", s.RigID)
	require.Equal(t, []string{"rx/0", "cn/r"}, s.Algos)
	require.True(t, s.Connected)
	require.Equal(t, c.Conn.LocalAddr().String(), s.RemoteAddr)

	at, ok := p.JobSentAt(job.JobID)
	require.True(t, ok)
	require.False(t, at.IsZero())
	_, ok = p.JobSentAt("nope")
	require.False(t, ok)
}

func TestPool_Login_Bad(t *testing.T) {
	p := startPool(t, Config{})
	c := dialPool(t, p)
	c.sendLogin("")
	m := c.readMsg()
	require.Equal(t, stratum.MsgInvalidAddress, string(m.Error))
	require.Equal(t, 0, p.Stats().Logins)
}

func TestPool_Submit_Good(t *testing.T) {
	var mu sync.Mutex
	var seen []Submit
	p := startPool(t, Config{Difficulty: 5000, OnSubmit: func(s Submit) {
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
	}})
	c := dialPool(t, p)
	session, job := c.login()
	require.Equal(t, "", c.submit(session, job.JobID, nonceHex(1), resultFor(5000)))
	require.Equal(t, "", c.submit(session, job.JobID, nonceHex(2), resultFor(1_000_000)))

	st := p.Stats()
	require.Equal(t, int64(2), st.Submits)
	require.Equal(t, int64(2), st.Accepted)
	require.Equal(t, 10000.0, st.AcceptedDiff, "credited at the job's difficulty, whatever the result meets")
	require.Zero(t, st.Rejected)
	require.Equal(t, int64(2), p.Sessions()[0].Accepted)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 2)
	require.Equal(t, Submit{SessionID: session, JobID: job.JobID, Nonce: nonceHex(1), Result: resultFor(5000)}, seen[0])
}

func TestPool_Submit_Bad(t *testing.T) {
	p := startPool(t, Config{Difficulty: 1000})
	c := dialPool(t, p)
	session, job := c.login()
	good := resultFor(1000)

	require.Equal(t, stratum.MsgUnauthenticated, c.submit("not-my-session", job.JobID, nonceHex(1), good))
	require.Equal(t, stratum.MsgInvalidNonce, c.submit(session, job.JobID, "DEADBEEF", good))
	require.Equal(t, stratum.MsgInvalidNonce, c.submit(session, job.JobID, "dead", good))
	require.Equal(t, stratum.MsgLowDifficulty, c.submit(session, job.JobID, nonceHex(1), "abc"))
	require.Equal(t, stratum.MsgInvalidJobID, c.submit(session, "unknown-job", nonceHex(1), good))
	require.Equal(t, stratum.MsgLowDifficulty, c.submit(session, job.JobID, nonceHex(1), resultFor(999)))
	require.Equal(t, "", c.submit(session, job.JobID, nonceHex(1), good))
	require.Equal(t, stratum.MsgDuplicateShare, c.submit(session, job.JobID, nonceHex(1), good))

	st := p.Stats()
	require.Equal(t, int64(8), st.Submits)
	require.Equal(t, int64(1), st.Accepted)
	require.Equal(t, int64(7), st.Rejected)
	require.Equal(t, int64(3), st.BadFormat)
	require.Equal(t, int64(1), st.LowDiff)
	require.Equal(t, int64(1), st.Duplicates)

	// A second session may use the same nonce on the same job: its blob
	// differs (the reserved bytes), so it is different work.
	c2 := dialPool(t, p)
	session2, job2 := c2.login()
	require.Equal(t, job.JobID, job2.JobID)
	require.NotEqual(t, job.Blob, job2.Blob)
	require.Equal(t, "", c2.submit(session2, job.JobID, nonceHex(1), good))
}

func TestPool_Submit_StaleJob_Ugly(t *testing.T) {
	p := startPool(t, Config{})
	c := dialPool(t, p)
	session, j1 := c.login()
	good := resultFor(1000)
	require.Equal(t, "", c.submit(session, j1.JobID, nonceHex(7), good))

	j2 := p.BroadcastJob()
	m := c.readMsg()
	require.Equal(t, stratum.PoolJobNotify, m.Kind)
	requireSameJob(t, j2, m.Job)
	require.Greater(t, j2.JobID, j1.JobID, "job ids increase")
	require.Greater(t, j2.Height, j1.Height)

	// The previous job is still accepted, and still remembers its nonces.
	require.Equal(t, stratum.MsgDuplicateShare, c.submit(session, j1.JobID, nonceHex(7), good))
	require.Equal(t, "", c.submit(session, j1.JobID, nonceHex(8), good))
	require.Equal(t, "", c.submit(session, j2.JobID, nonceHex(7), good))

	j3 := p.BroadcastJob()
	require.Equal(t, j3.JobID, c.readMsg().Job.JobID)
	require.Equal(t, stratum.MsgInvalidJobID, c.submit(session, j1.JobID, nonceHex(9), good))
	require.Equal(t, "", c.submit(session, j2.JobID, nonceHex(9), good))

	// Only two nonce sets are kept per session.
	s := onlySession(t, p)
	s.Lock()
	defer s.Unlock()
	require.Equal(t, j3.JobID, s.cur.job.JobID)
	require.Equal(t, j2.JobID, s.prev.job.JobID)
	require.Len(t, s.prevSeen, 2)
	require.Empty(t, s.curSeen)
}

func onlySession(t *testing.T, p *Pool) *session {
	list := p.srv.Sessions(nil)
	require.Len(t, list, 1)
	return list[0]
}

func TestPool_Methods_Good(t *testing.T) {
	p := startPool(t, Config{})
	c := dialPool(t, p)
	session, _ := c.login()
	m := c.keepalived(session)
	require.Equal(t, "KEEPALIVED", string(m.Status))
	require.Equal(t, int64(1), p.Stats().Keepalives)

	c.Send([]byte(`{"id":9,"jsonrpc":"2.0","method":"getjob","params":{}}` + "\n"))
	m = c.readMsg()
	require.Equal(t, uint64(9), m.ID)
	require.Equal(t, stratum.MsgInvalidMethod, string(m.Error))

	c.Send([]byte(`{"id":[1],"method":"keepalived"}` + "\n"))
	require.Equal(t, `{"id":null,"jsonrpc":"2.0","error":{"code":-1,"message":"Invalid request"}}`, c.ReadLine())

	// The connection survived all of that.
	require.Equal(t, "KEEPALIVED", string(c.keepalived(session).Status))
}

func TestPool_Framing_Ugly(t *testing.T) {
	p := startPool(t, Config{})

	long := dialPool(t, p)
	long.Send([]byte(`{"id":1,"method":"login","params":{"login":"` + strings.Repeat("a", stratum.MaxLineSize) + "\"}}\n"))
	long.ExpectEOF()

	noNL := dialPool(t, p)
	noNL.Send([]byte(strings.Repeat("{", stratum.MaxLineSize+10)))
	noNL.ExpectEOF()

	notJSON := dialPool(t, p)
	notJSON.Send([]byte("GET / HTTP/1.1\r\n"))
	notJSON.ExpectEOF()

	// Blank lines and CRLF are fine.
	ok := dialPool(t, p)
	ok.Send([]byte("\r\n\n"))
	session, _ := ok.login()
	require.Equal(t, "KEEPALIVED", string(ok.keepalived(session).Status))

	require.NoError(t, p.WaitFor(pooltest.WaitCtx(t), func(s Stats) bool { return s.ActiveConnections == 1 }))
}

func TestPool_BroadcastJob_Good(t *testing.T) {
	p := startPool(t, Config{})
	clients := make([]*testClient, 5)
	for i := range clients {
		clients[i] = dialPool(t, p)
		clients[i].login()
	}
	// A connection that has not logged in gets nothing.
	idle := dialPool(t, p)
	require.NoError(t, p.WaitFor(pooltest.WaitCtx(t), func(s Stats) bool { return s.Logins == 5 && s.ActiveConnections == 6 }))

	before := time.Now()
	job := p.BroadcastJob()
	tails := map[string]bool{}
	for _, c := range clients {
		m := c.readMsg()
		require.Equal(t, stratum.PoolJobNotify, m.Kind)
		requireSameJob(t, job, m.Job)
		tails[m.Job.Blob[len(m.Job.Blob)-8:]] = true
	}
	require.Len(t, tails, len(clients), "each session's blob carries its own reserved bytes")
	at, ok := p.JobSentAt(job.JobID)
	require.True(t, ok)
	require.False(t, at.Before(before))
	require.Equal(t, int64(1), p.Stats().JobsBroadcast)

	session, _ := idle.login()
	require.NotEmpty(t, session)
	require.Equal(t, job.JobID, p.CurrentJob().JobID)
}

func TestPool_JobInterval_Good(t *testing.T) {
	p := startPool(t, Config{JobInterval: 10 * time.Millisecond})
	c := dialPool(t, p)
	_, first := c.login()
	require.NoError(t, p.WaitFor(pooltest.WaitCtx(t), func(s Stats) bool { return s.JobsBroadcast >= 2 }))
	m := c.readMsg()
	require.Equal(t, stratum.PoolJobNotify, m.Kind)
	require.NotEqual(t, first.JobID, m.Job.JobID)
}

func TestPool_Behavior_Silent(t *testing.T) {
	p := startPool(t, Config{})
	p.SetBehavior(Behavior{Silent: true})
	c := dialPool(t, p)
	c.sendLogin("wallet")
	require.NoError(t, p.WaitFor(pooltest.WaitCtx(t), func(s Stats) bool { return s.Requests == 1 }))
	p.BroadcastJob()
	// Back to normal: the first answer is the one to the submit sent after
	// the behaviour changed, so the login got none.
	p.SetBehavior(Behavior{})
	require.Equal(t, stratum.MsgUnauthenticated, c.submit("x", "y", nonceHex(1), resultFor(1000)))
	require.Equal(t, 0, p.Stats().Logins)
}

func TestPool_Behavior_SilentExisting(t *testing.T) {
	p := startPool(t, Config{})
	c := dialPool(t, p)
	session, _ := c.login()
	p.SetBehavior(Behavior{Silent: true})
	c.sendSubmit(session, p.CurrentJob().JobID, nonceHex(1), resultFor(1000))
	require.NoError(t, p.WaitFor(pooltest.WaitCtx(t), func(s Stats) bool { return s.Requests == 2 }))
	p.BroadcastJob() // not sent while silent
	p.SetBehavior(Behavior{})
	require.Equal(t, "KEEPALIVED", string(c.keepalived(session).Status))
	require.Zero(t, p.Stats().Submits)
}

func TestPool_Behavior_Garbage(t *testing.T) {
	p := startPool(t, Config{})
	p.SetBehavior(Behavior{Garbage: true})
	c := dialPool(t, p)
	c.sendLogin("wallet")
	line := c.ReadLine()
	require.NotEmpty(t, line)
	require.NotEqual(t, byte('{'), line[0])
	_, _, err := stratum.NextLine([]byte(line + "\n"))
	require.ErrorIs(t, err, stratum.ErrNotJSONObject)
}

func TestPool_Behavior_NoSubmitReply(t *testing.T) {
	p := startPool(t, Config{})
	p.SetBehavior(Behavior{NoSubmitReply: true})
	c := dialPool(t, p)
	session, job := c.login()
	c.sendSubmit(session, job.JobID, nonceHex(1), resultFor(1000))
	require.Equal(t, "KEEPALIVED", string(c.keepalived(session).Status))
	st := p.Stats()
	require.Equal(t, int64(1), st.Submits)
	require.Zero(t, st.Accepted+st.Rejected)
}

func TestPool_Behavior_DropOnSubmit(t *testing.T) {
	p := startPool(t, Config{})
	p.SetBehavior(Behavior{DropOnSubmit: true})
	c := dialPool(t, p)
	session, job := c.login()
	c.sendSubmit(session, job.JobID, nonceHex(1), resultFor(1000))
	c.ExpectEOF()
	require.NoError(t, p.WaitFor(pooltest.WaitCtx(t), func(s Stats) bool { return s.ActiveConnections == 0 && s.Submits == 1 }))
	require.False(t, p.Sessions()[0].Connected)
}

func TestPool_Behavior_GarbageAfterLogin(t *testing.T) {
	p := startPool(t, Config{})
	p.SetBehavior(Behavior{GarbageAfterLogin: true})
	c := dialPool(t, p)
	session, _ := c.login()
	require.NotEmpty(t, session, "the login is answered normally")
	_, _, err := stratum.NextLine([]byte(c.ReadLine() + "\n"))
	require.ErrorIs(t, err, stratum.ErrNotJSONObject, "then a line that is not JSON")
}

func TestPool_Behavior_CloseMidLine(t *testing.T) {
	p := startPool(t, Config{})
	p.SetBehavior(Behavior{CloseMidLine: true})
	conn, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write(stratum.AppendPoolLogin(nil, 1, &stratum.PoolLogin{Login: "wallet", Pass: "x"}))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(pooltest.IOTimeout)))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break // the pool hung up
		}
	}
	reply, rest, ok := strings.Cut(string(got), "\n")
	require.True(t, ok, "%q", got)
	require.Contains(t, reply, `"result"`, "the login is answered normally")
	require.NotEmpty(t, rest)
	require.NotContains(t, rest, "\n", "then half a line, and the connection ends")
	require.True(t, strings.HasPrefix(rest, `{"jsonrpc":"2.0","method":"job"`), "%q", rest)
	require.Equal(t, 1, p.Stats().Logins)
}

func TestPool_Behavior_RejectLogin(t *testing.T) {
	p := startPool(t, Config{})
	p.SetBehavior(Behavior{RejectLogin: "Invalid payment address provided"})
	c := dialPool(t, p)
	c.sendLogin("wallet")
	m := c.readMsg()
	require.Equal(t, "Invalid payment address provided", string(m.Error))
	require.False(t, m.HasJob)
	p.SetBehavior(Behavior{})
	session, _ := c.login()
	require.NotEmpty(t, session)
}

func TestPool_RejectRatio_Good(t *testing.T) {
	run := func() (accepted, rejected int) {
		p := startPool(t, Config{RejectRatio: 0.3, Seed: 42})
		c := dialPool(t, p)
		session, job := c.login()
		for i := uint32(0); i < 300; i++ {
			switch msg := c.submit(session, job.JobID, nonceHex(i), resultFor(1000)); msg {
			case "":
				accepted++
			case MsgRandomReject:
				rejected++
			default:
				t.Fatalf("unexpected error %q", msg)
			}
		}
		return accepted, rejected
	}
	a, r := run()
	require.Equal(t, 300, a+r)
	require.InDelta(t, 90, r, 40)
	// Same seed, same first session id, same shares: same answers.
	a2, r2 := run()
	require.Equal(t, a, a2)
	require.Equal(t, r, r2)
}

func TestPool_DropConnections_Good(t *testing.T) {
	p := startPool(t, Config{})
	clients := make([]*testClient, 3)
	for i := range clients {
		clients[i] = dialPool(t, p)
		clients[i].login()
	}
	p.DropConnections()
	for _, c := range clients {
		c.ExpectEOF()
	}
	require.NoError(t, p.WaitFor(pooltest.WaitCtx(t), func(s Stats) bool { return s.ActiveConnections == 0 }))
	for _, s := range p.Sessions() {
		require.False(t, s.Connected)
	}
	// Still listening.
	c := dialPool(t, p)
	session, _ := c.login()
	require.NotEmpty(t, session)
	st := p.Stats()
	require.Equal(t, 4, st.Logins)
	require.Equal(t, 4, st.Connections)
}

func TestPool_Close_Ugly(t *testing.T) {
	p, err := Start(Config{JobInterval: time.Millisecond})
	require.NoError(t, err)
	c := dialPool(t, p)
	c.login()
	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	c.ExpectEOF()
	_, err = net.DialTimeout("tcp", p.Addr(), pooltest.IOTimeout)
	require.Error(t, err)
	require.Zero(t, p.Stats().ActiveConnections)
	p.BroadcastJob() // harmless after Close
	p.SendReconnect("x", 1)
	p.DropConnections()
}

func TestPool_SendReconnect_Good(t *testing.T) {
	p := startPool(t, Config{})
	c := dialPool(t, p)
	c.login()
	p.SendReconnect("pool.example.com", 3333)
	require.Equal(t, `{"jsonrpc":"2.0","method":"client.reconnect","params":["pool.example.com",3333,0]}`, c.ReadLine())
}

func TestPool_WaitFor_Bad(t *testing.T) {
	p := startPool(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.WaitFor(ctx, func(s Stats) bool { return s.Logins > 0 })
	require.ErrorIs(t, err, context.Canceled)
}

func TestPool_Start_Bad(t *testing.T) {
	_, err := Start(Config{RejectRatio: 2})
	require.Error(t, err)
	_, err = Start(Config{Algo: "bad algo"})
	require.Error(t, err)
	_, err = Start(Config{Addr: "256.0.0.1:1"})
	require.Error(t, err)
}

func TestPool_TLS_Good(t *testing.T) {
	p := startPool(t, Config{TLS: pooltest.SelfSignedTLS(t, "mockpool")})
	c := dialPoolTLS(t, p)
	session, job := c.login()
	require.Equal(t, "", c.submit(session, job.JobID, nonceHex(1), resultFor(1000)))
}

// requireSameJob checks got is want as one session sees it: the same job
// but for the blob's last four bytes, the session's reserved value.
func requireSameJob(t *testing.T, want, got stratum.Job) {
	t.Helper()
	require.Len(t, got.Blob, len(want.Blob))
	require.Equal(t, want.Blob[:len(want.Blob)-8], got.Blob[:len(got.Blob)-8])
	got.Blob = want.Blob
	require.Equal(t, want, got)
}
