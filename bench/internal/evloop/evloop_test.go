//go:build linux

package evloop

import (
	"bufio"
	"context"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"forge.lthn.ai/core/go-proxy/bench/internal/notify"
)

// echoProto is a minimal line protocol: the client says "hi", the server
// answers "{hello" (the handshake), then every "req N" gets "{ok N". (The
// loop takes only lines that look like JSON objects.)
type echoProto struct {
	l     *Loop
	buf   []byte
	lines int
}

func (p *echoProto) Connected(k int, now int64) {
	p.l.StartClock(k, now)
	p.l.Write(k, []byte("hi\n"))
}

func (p *echoProto) Line(k int, line []byte, ts, _ int64) {
	p.lines++
	s := string(line)
	switch {
	case !p.l.IsReady(k) && s == "{hello":
		p.l.MarkReady(k, ts)
	case strings.HasPrefix(s, "{ok "):
		id, err := strconv.ParseUint(s[4:], 10, 32)
		if err != nil {
			p.l.Fail(k, "protocol: bad answer")
			return
		}
		if p.l.ResolveSubmit(k, id, ts) {
			p.l.Count.Accepted++
		}
	case s == "{bye":
		p.l.Fail(k, "closed: bye")
	default:
		p.l.CountError("protocol: unexpected ", line, k)
	}
}

func (p *echoProto) Work(k int, now int64) Work {
	id := p.l.NewRequest(k, now)
	p.buf = strconv.AppendUint(append(p.buf[:0], "req "...), uint64(id), 10)
	p.buf = append(p.buf, '\n')
	p.l.Count.Sent++
	p.l.Write(k, p.buf)
	return WorkDone
}

func (p *echoProto) Dropped(int) {}
func (p *echoProto) Pass(int64)  {}
func (p *echoProto) Shutdown()   {}
func newEcho(l *Loop) Handler    { return &echoProto{l: l} }
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echoServer serves the echo protocol; silent servers never answer.
func echoServer(t *testing.T, silent bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := bufio.NewScanner(c)
				for r.Scan() {
					if silent {
						continue
					}
					line := r.Text()
					var out string
					switch {
					case line == "hi":
						out = "{hel" // split across two writes
						if _, err := c.Write([]byte(out)); err != nil {
							return
						}
						time.Sleep(time.Millisecond)
						out = "lo\n"
					case strings.HasPrefix(line, "req "):
						out = "{ok " + line[4:] + "\n"
					}
					if _, err := c.Write([]byte(out)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func startGroup(t *testing.T, cfg Config) *Group {
	t.Helper()
	cfg.Name = "test"
	cfg.PerSourceIP, cfg.FillPerSourceIP = 20000, 5000
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	cfg.FirstRequestID = 10
	cfg.Logf = t.Logf
	g, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, g.Start(context.Background(), newEcho))
	t.Cleanup(g.Close)
	return g
}

func waitStats(t *testing.T, g *Group, cond func(Snapshot) bool) {
	t.Helper()
	snap := func() Snapshot { return g.Stats(nil) }
	require.NoError(t, notify.WaitFor(waitCtx(t), g.Changed(), snap, cond), "%+v", g.Stats(nil))
}

func TestGroup_Echo_Good(t *testing.T) {
	addr := echoServer(t, false)
	g := startGroup(t, Config{ProxyAddr: addr, Miners: 9, Loops: 2, WorkRate: 500, KeepTimestamps: true})
	require.Equal(t, 1, g.SourceAddrs(), "9 miners on one default source address")
	waitStats(t, g, func(s Snapshot) bool { return s.Ready == 9 && s.Accepted >= 100 })
	s := g.Stats(nil)
	require.Empty(t, s.Errors)
	require.Equal(t, 9, s.Connected)
	require.Zero(t, s.Waiting+s.Connecting+s.Closed)
	require.Equal(t, int64(9), s.LoginLatency.Count())
	require.Equal(t, s.Accepted, s.SubmitRTT.Count())
	require.GreaterOrEqual(t, s.Sent, s.Accepted)
	require.Positive(t, s.KernelTimestamps)

	g.Close()
	g.Close()
	s = g.Stats(nil)
	require.Zero(t, s.Waiting+s.Connecting+s.Connected+s.Ready)
}

func TestGroup_Timeouts_Ugly(t *testing.T) {
	addr := echoServer(t, true)
	g := startGroup(t, Config{ProxyAddr: addr, Miners: 3, Loops: 1, Timeout: 100 * time.Millisecond})
	waitStats(t, g, func(s Snapshot) bool { return s.Closed == 3 })
	require.Equal(t, map[string]int64{"timeout: login": 3}, g.Stats(nil).Errors)
}

func TestGroup_Refused_Bad(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	g := startGroup(t, Config{ProxyAddr: addr, Miners: 4, Loops: 2, ConnectRate: 1000})
	waitStats(t, g, func(s Snapshot) bool { return s.Closed == 4 })
	require.Equal(t, map[string]int64{"connect: connection refused": 4}, g.Stats(nil).Errors)
}

func TestNew_Bad(t *testing.T) {
	ok := Config{Name: "t", ProxyAddr: "127.0.0.1:1", Miners: 1, Loops: 1, PerSourceIP: 1, FillPerSourceIP: 1, Timeout: time.Second}
	g, err := New(ok)
	require.NoError(t, err)
	require.Equal(t, 1, g.Loops())
	many := ok
	many.Miners, many.Loops, many.PerSourceIP, many.FillPerSourceIP = 1000, 0, 20000, 5000
	g, err = New(many)
	require.NoError(t, err)
	require.Equal(t, min(runtime.GOMAXPROCS(0), 1000), g.Loops(), "default: GOMAXPROCS, at most Miners")
	for _, mod := range []func(*Config){
		func(c *Config) { c.Miners = 0 },
		func(c *Config) { c.Timeout = 0 },
		func(c *Config) { c.ProxyAddr = "no-port" },
		func(c *Config) { c.Miners, c.Loops, c.FillPerSourceIP, c.PerSourceIP = 300, 1, 1, 1 },
		func(c *Config) { c.SourceIPs = []string{"::1"} },
		func(c *Config) { c.ProxyAddr, c.SourceIPs = "[::1]:1", []string{"127.0.0.2"} },
	} {
		c := ok
		mod(&c)
		_, err := New(c)
		require.Error(t, err, "%+v", c)
	}
}

// testLoop returns a loop of one connection whose socket is one end of a
// socket pair, already past its handshake; the other end is returned.
func testLoop(t *testing.T) (*Loop, *echoProto, int) {
	t.Helper()
	g, err := New(Config{Name: "t", ProxyAddr: "127.0.0.1:1", Miners: 1, Loops: 1, PerSourceIP: 1,
		FillPerSourceIP: 1, Timeout: time.Second, FirstRequestID: 5})
	require.NoError(t, err)
	l, err := newLoop(g, 0, 1)
	require.NoError(t, err)
	t.Cleanup(l.release)
	p := &echoProto{l: l}
	l.h = p
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	l.conns[0] = conn{fd: int32(fds[0]), state: connHandshake, readyPos: -1, nextID: 5}
	l.Count.Waiting, l.Count.Connected = 0, 1
	t.Cleanup(func() {
		if fd := l.conns[0].fd; fd >= 0 { // else closed by the loop
			_ = unix.Close(int(fd))
		}
		_ = unix.Close(fds[1])
	})
	l.MarkReady(0, time.Now().UnixNano())
	return l, p, fds[1]
}

// TestLoop_NoAllocs_Good: reading complete lines, writing and tracking
// requests allocate nothing.
func TestLoop_NoAllocs_Good(t *testing.T) {
	l, p, peer := testLoop(t)
	in := []byte("{ok 1\n{ok 2\n{ok 3\n")
	var sink [64]byte
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := unix.Write(peer, in); err != nil {
			t.Fatal(err)
		}
		l.read(0, time.Now().UnixNano())
		l.Write(0, in)
		if _, err := unix.Read(peer, sink[:]); err != nil {
			t.Fatal(err)
		}
		id := l.NewRequest(0, 1)
		l.ResolveSubmit(0, uint64(id), 2)
	})
	require.Zero(t, allocs)
	require.Equal(t, 3*201, p.lines)
	require.Nil(t, l.conns[0].io, "no buffer without a split line")
	require.Empty(t, l.errors)
}

// TestLoop_SplitLine_Good: a line split across reads is buffered, then the
// buffer is dropped.
func TestLoop_SplitLine_Good(t *testing.T) {
	l, p, peer := testLoop(t)
	_, err := unix.Write(peer, []byte("{ok 5\n{ok"))
	require.NoError(t, err)
	id := l.NewRequest(0, 1)
	require.Equal(t, uint32(5), id)
	l.read(0, time.Now().UnixNano())
	require.Equal(t, 1, p.lines)
	require.Equal(t, int64(1), l.Count.Accepted)
	require.NotNil(t, l.conns[0].io)
	require.Equal(t, "{ok", string(l.conns[0].io.in))
	_, err = unix.Write(peer, []byte(" 6\n{bye\n{ok 7\n"))
	require.NoError(t, err)
	l.read(0, time.Now().UnixNano())
	require.Equal(t, 3, p.lines, "nothing is handled after the connection ended")
	require.Equal(t, map[string]int64{"closed: bye": 1}, derefErrors(l.errors))
	require.Equal(t, connClosed, l.conns[0].state)
	require.Nil(t, l.conns[0].io)
	require.Equal(t, int32(-1), l.conns[0].fd)
	require.Zero(t, l.Count.Ready+l.Count.Connected)
	require.Equal(t, 1, l.Count.Closed)
}

func TestRequests_Good(t *testing.T) {
	var r requests
	for i := uint32(1); i <= MaxPending; i++ {
		require.True(t, r.free())
		r.take(i, int64(i))
	}
	require.False(t, r.free())
	at, ok := r.resolve(2)
	require.True(t, ok)
	require.Equal(t, int64(2), at)
	_, ok = r.resolve(2)
	require.False(t, ok)
	require.True(t, r.free())
	require.Equal(t, 2, r.expire(10, 6)) // ids 1 and 3 (at 1, 3) are older than 6 ns at 10
	require.Equal(t, 0, r.expire(10, 6))
	_, ok = r.resolve(4)
	require.True(t, ok)
}

func derefErrors(m map[string]*int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = *v
	}
	return out
}
