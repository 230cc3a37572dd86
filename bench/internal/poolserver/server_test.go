package poolserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/internal/pooltest"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// echoSession answers every line with "echo <line>", {hangup} with
// ErrHangUp and {fail} with an error. (Lines must look like JSON objects.)
type echoSession struct {
	*Conn
	lines atomic.Int64
}

func (s *echoSession) HandleLine(line []byte) error {
	s.lines.Add(1)
	switch string(line) {
	case "{hangup}":
		return ErrHangUp
	case "{fail}":
		return errors.New("failed")
	}
	return s.Send(func(dst []byte) []byte {
		return append(append(append(dst, "echo "...), line...), '\n')
	})
}

// logs collects log lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logs) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func startEcho(t *testing.T, cfg Config) (*Server[*echoSession], *logs) {
	t.Helper()
	l := &logs{}
	if cfg.Name == "" {
		cfg.Name = "echopool"
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	cfg.Logf = l.logf
	srv, err := Listen[*echoSession](cfg)
	require.NoError(t, err)
	srv.Serve(func(c *Conn) *echoSession { return &echoSession{Conn: c} })
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv, l
}

type counts struct{ Connections, Active int }

func (s *Server[S]) snapshot() counts {
	c, a := s.Counts()
	return counts{c, a}
}

func waitCounts(t *testing.T, srv *Server[*echoSession], cond func(counts) bool) {
	t.Helper()
	require.NoError(t, WaitFor(pooltest.WaitCtx(t), srv, srv.snapshot, cond))
}

func TestServer_Lines_Good(t *testing.T) {
	srv, _ := startEcho(t, Config{})
	c := pooltest.Dial(t, srv.Addr())
	// Blank lines are skipped, CRLF and split writes are fine.
	c.Send([]byte("\r\n\n{one"))
	c.Send([]byte("}\r\n {two} \n"))
	require.Equal(t, "echo {one}", c.ReadLine())
	require.Equal(t, "echo {two}", c.ReadLine())

	waitCounts(t, srv, func(n counts) bool { return n.Connections == 1 && n.Active == 1 })
	list := srv.Sessions(nil)
	require.Len(t, list, 1)
	require.Equal(t, int64(2), list[0].lines.Load())
	require.True(t, list[0].Connected())
	require.Equal(t, c.Conn.LocalAddr().String(), list[0].RemoteAddr())
	require.Empty(t, srv.Sessions(func(*echoSession) bool { return false }))
}

func TestServer_Close_Ugly(t *testing.T) {
	srv, l := startEcho(t, Config{})
	hang := pooltest.Dial(t, srv.Addr())
	hang.Send([]byte("{hangup}\n"))
	hang.ExpectEOF()
	fail := pooltest.Dial(t, srv.Addr())
	fail.Send([]byte("{fail}\n"))
	fail.ExpectEOF()
	long := pooltest.Dial(t, srv.Addr())
	long.Send([]byte(strings.Repeat("{", stratum.MaxLineSize+10)))
	long.ExpectEOF()
	notJSON := pooltest.Dial(t, srv.Addr())
	notJSON.Send([]byte("GET / HTTP/1.1\r\n"))
	notJSON.ExpectEOF()
	waitCounts(t, srv, func(n counts) bool { return n.Connections == 4 && n.Active == 0 })
	log := l.all()
	require.NotContains(t, log, "hang up", "ErrHangUp is not logged")
	require.Contains(t, log, "echopool: "+fail.Conn.LocalAddr().String()+": failed, closing")
	require.Contains(t, log, "echopool: "+long.Conn.LocalAddr().String()+": stratum: line too long, closing")
	require.Contains(t, log, "echopool: "+notJSON.Conn.LocalAddr().String()+": stratum: line is not a JSON object, closing")

	// DropConnections keeps listening; Close does not.
	a := pooltest.Dial(t, srv.Addr())
	b := pooltest.Dial(t, srv.Addr())
	waitCounts(t, srv, func(n counts) bool { return n.Active == 2 })
	srv.DropConnections()
	a.ExpectEOF()
	b.ExpectEOF()
	require.Contains(t, l.all(), "echopool: dropped 2 connections")
	c := pooltest.Dial(t, srv.Addr())
	c.Send([]byte("{x}\n"))
	require.Equal(t, "echo {x}", c.ReadLine())

	var ticks atomic.Int64
	srv.Every(time.Millisecond, func() { ticks.Add(1) })
	require.NoError(t, srv.Close())
	require.NoError(t, srv.Close())
	c.ExpectEOF()
	n := ticks.Load()
	time.Sleep(5 * time.Millisecond)
	require.Equal(t, n, ticks.Load(), "Every stops at Close")
	require.Equal(t, counts{7, 0}, srv.snapshot())
	srv.DropConnections() // harmless after Close
}

func TestServer_Listen_Bad(t *testing.T) {
	_, err := Listen[*echoSession](Config{Name: "echopool", Addr: "256.0.0.1:1"})
	require.ErrorContains(t, err, "echopool: listen 256.0.0.1:1: ")
}

func TestServer_TLS_Good(t *testing.T) {
	srv, _ := startEcho(t, Config{TLS: pooltest.SelfSignedTLS(t, "echopool")})
	c := pooltest.DialTLS(t, srv.Addr())
	c.Send([]byte("{secret}\n"))
	require.Equal(t, "echo {secret}", c.ReadLine())
}

func TestServer_WaitFor_Bad(t *testing.T) {
	srv, _ := startEcho(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := WaitFor(ctx, srv, srv.snapshot, func(n counts) bool { return n.Active > 0 })
	require.ErrorIs(t, err, context.Canceled)
	require.EqualError(t, err, "echopool: wait: context canceled (stats {Connections:0 Active:0})")
}

func TestServer_History_Good(t *testing.T) {
	srv, err := Listen[*echoSession](Config{Name: "echopool", Addr: "127.0.0.1:0"})
	require.NoError(t, err)
	defer srv.Close()
	mk := func(connected bool) *echoSession {
		s := &echoSession{Conn: &Conn{}}
		s.connected.Store(connected)
		return s
	}
	first := mk(true)
	gone := mk(false)
	srv.Remember(first)
	srv.Remember(gone)
	for len(srv.History()) < HistorySize {
		srv.Remember(mk(true))
	}
	h := srv.History()
	require.True(t, h[0] == first && h[1] == gone)

	// Full: the oldest disconnected session goes first, then the oldest.
	last := mk(true)
	srv.Remember(last)
	h = srv.History()
	require.Len(t, h, HistorySize)
	require.True(t, h[0] == first && h[1] != gone && h[len(h)-1] == last)
	require.False(t, slices.Contains(h, gone))
	srv.Remember(mk(true))
	h = srv.History()
	require.Len(t, h, HistorySize)
	require.False(t, slices.Contains(h, first))
}

func TestConn_Push_Good(t *testing.T) {
	srv, _ := startEcho(t, Config{})
	c := pooltest.Dial(t, srv.Addr())
	waitCounts(t, srv, func(n counts) bool { return n.Active == 1 })
	s := srv.Sessions(nil)[0]

	s.Push(func(dst []byte) []byte { return dst }) // nothing to write
	s.Push(func(dst []byte) []byte { return append(dst, "pushed\n"...) })
	require.Equal(t, "pushed", c.ReadLine())

	answered, err := s.Misbehave(false, false)
	require.False(t, answered)
	require.NoError(t, err)
	answered, err = s.Misbehave(true, true)
	require.True(t, answered, "silent wins")
	require.NoError(t, err)
	answered, err = s.Misbehave(false, true)
	require.True(t, answered)
	require.NoError(t, err)
	require.Equal(t, strings.TrimSuffix(GarbageLine, "\n"), c.ReadLine())

	srv.DropConnections()
	waitCounts(t, srv, func(n counts) bool { return n.Active == 0 })
	require.False(t, s.Connected())
	called := false
	s.Push(func(dst []byte) []byte { called = true; return dst })
	require.False(t, called, "no push to a closed connection")
	require.ErrorIs(t, s.Send(func(dst []byte) []byte { return append(dst, "{x}\n"...) }), net.ErrClosed)
}

func TestJobLog_Good(t *testing.T) {
	var l JobLog
	_, ok := l.SentAt("a")
	require.False(t, ok)
	t0 := time.Unix(1_700_000_000, 0)
	for i := 0; i <= JobsKept; i++ {
		l.Add(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second))
	}
	_, ok = l.SentAt("0")
	require.False(t, ok, "the oldest job is forgotten")
	at, ok := l.SentAt("1")
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Second), at)
	at, ok = l.SentAt(fmt.Sprint(JobsKept))
	require.True(t, ok)
	require.Equal(t, t0.Add(JobsKept*time.Second), at)
}

func TestRejectLottery_Good(t *testing.T) {
	// Pinned values (those of the pools' former shareLottery): a pool's
	// RejectRatio answers must not change.
	require.Equal(t, 0.17865184358670794, RejectLottery(42, 7, []byte("session"), "job"))
	require.Equal(t, 0.7192066191285059, RejectLottery(0, 0, nil, ""))
	require.NotEqual(t, RejectLottery(42, 7, []byte("session"), "job"), RejectLottery(42, 8, []byte("session"), "job"))
	below := 0
	for i := uint32(0); i < 10_000; i++ {
		x := RejectLottery(1, i, []byte("k"), "j")
		require.True(t, x >= 0 && x < 1)
		if x < 0.3 {
			below++
		}
	}
	require.InDelta(t, 3000, below, 300)
}
