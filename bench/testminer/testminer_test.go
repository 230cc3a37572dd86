package testminer

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// failTB stands in for the test in a goroutine of its own, recording
// failures instead of failing the real test; FailNow ends the goroutine.
type failTB struct {
	testing.TB
	mu     sync.Mutex
	failed bool
	msgs   []string
}

func (f *failTB) Helper() {}

func (f *failTB) fail(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = true
	f.msgs = append(f.msgs, msg)
}

func (f *failTB) Errorf(format string, args ...any) { f.fail(fmt.Sprintf(format, args...)) }
func (f *failTB) Error(args ...any)                 { f.fail(fmt.Sprint(args...)) }
func (f *failTB) Fatal(args ...any)                 { f.fail(fmt.Sprint(args...)); runtime.Goexit() }
func (f *failTB) Fatalf(format string, args ...any) {
	f.fail(fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (f *failTB) Fail()    { f.fail("") }
func (f *failTB) FailNow() { f.fail(""); runtime.Goexit() }

func (f *failTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// mustFail runs fn with a failTB and returns what it reported, failing
// the real test if fn passed or did not end within a few seconds.
func mustFail(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	f := &failTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("still running: a wait is not bounded")
	}
	require.True(t, f.Failed(), "expected a failure")
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.msgs, "\n")
}

// listener accepts connections, writes greeting (if any) to each and
// then holds it open without reading: a hung peer, or a broken one.
func listener(t *testing.T, greeting string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if greeting != "" {
				_, _ = c.Write([]byte(greeting))
			}
			held = append(held, c)
		}
	}()
	return ln.Addr().String()
}

func TestOptions_Good(t *testing.T) {
	o := makeOptions(4096, nil)
	require.Equal(t, DefaultTimeout, o.timeout)
	require.Equal(t, 4096, o.bufSize)
	require.Nil(t, o.tls)
	cfg := &tls.Config{}
	o = makeOptions(4096, []Option{WithTimeout(time.Second), WithReadBuffer(512), WithTLS(cfg)})
	require.Equal(t, time.Second, o.timeout)
	require.Equal(t, 512, o.bufSize)
	require.Same(t, cfg, o.tls)
}

func TestDial_Bad(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	ln.Close()
	msg := mustFail(t, func(tb testing.TB) { DialCN(tb, dead) })
	require.Contains(t, msg, "dialing "+dead)
	msg = mustFail(t, func(tb testing.TB) { DialSV1(tb, dead) })
	require.Contains(t, msg, "dialing "+dead)
}

// Reads are bounded by the timeout: a peer that never answers fails the
// test after it, and so does one that never closes.
func TestWire_Timeout_Bad(t *testing.T) {
	addr := listener(t, "")
	start := time.Now()
	msg := mustFail(t, func(tb testing.TB) {
		DialCN(tb, addr, WithTimeout(100*time.Millisecond)).Login("WALLET")
	})
	require.Contains(t, msg, "waiting for a line")
	msg = mustFail(t, func(tb testing.TB) {
		DialSV1(tb, addr, WithTimeout(100*time.Millisecond)).Login("rig", 0)
	})
	require.Contains(t, msg, "waiting for a line")
	msg = mustFail(t, func(tb testing.TB) {
		DialCN(tb, addr, WithTimeout(100*time.Millisecond)).ExpectClosed()
	})
	require.Contains(t, msg, "connection still open")
	require.Less(t, time.Since(start), 3*time.Second)

	m := DialSV1(t, addr)
	_, err := m.ReadLineBy(time.Now().Add(50 * time.Millisecond))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())
}

func TestWire_NotJSON_Bad(t *testing.T) {
	addr := listener(t, "not json\n")
	msg := mustFail(t, func(tb testing.TB) { DialCN(tb, addr).Read() })
	require.Contains(t, msg, "not json")
	msg = mustFail(t, func(tb testing.TB) { DialSV1(tb, addr).Read() })
	require.Contains(t, msg, "not json")
}

func TestLine_ErrCode_Good(t *testing.T) {
	require.Zero(t, Reply{}.ErrCode())
	require.Equal(t, -1, Reply{Error: &CNError{Code: -1, Message: "Invalid job id"}}.ErrCode())
	require.Zero(t, SV1Line{}.ErrCode())
	require.Equal(t, 23, SV1Line{Error: []json.RawMessage{json.RawMessage("23"), json.RawMessage(`"Low difficulty share"`), json.RawMessage("null")}}.ErrCode())
	require.True(t, SV1Line{Result: json.RawMessage("true")}.Accepted())
	require.False(t, SV1Line{Result: json.RawMessage("false")}.Accepted())
	require.False(t, SV1Line{Result: json.RawMessage("null"), Error: []json.RawMessage{json.RawMessage("21")}}.Accepted())
	require.Equal(t, uint32(0x1fffe000), parseMask("1fffe000"))
	require.Zero(t, parseMask("1fffe0"))
	require.Zero(t, parseMask("zz"))
}
