package testminer

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// DefaultTimeout bounds every dial, read and write unless WithTimeout says
// otherwise.
const DefaultTimeout = 10 * time.Second

// Option changes how a miner dials and reads.
type Option func(*options)

type options struct {
	timeout time.Duration
	tls     *tls.Config
	bufSize int
}

// WithTimeout bounds every dial, read and write by d instead of
// DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithTLS makes Dial connect over TLS with cfg (the handshake is done, and
// bounded by the timeout, before Dial returns). Ignored by NewCN and NewSV1.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithReadBuffer sets the size of the miner's read buffer (default 64 KiB
// for CN, 4 KiB for SV1; lines longer than the buffer are still read).
func WithReadBuffer(n int) Option { return func(o *options) { o.bufSize = n } }

func makeOptions(bufSize int, opts []Option) options {
	o := options{timeout: DefaultTimeout, bufSize: bufSize}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// dial connects to addr, over TLS when asked, and closes the connection
// when the test ends.
func dial(t testing.TB, addr string, o options) net.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: o.timeout}
	var c net.Conn
	var err error
	if o.tls != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, o.tls)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	require.NoError(t, err, "dialing %s", addr)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// wire is the line transport both miners share.
type wire struct {
	t testing.TB
	// Conn is the connection to the proxy or pool; tests may write raw
	// bytes to it, set deadlines or close it.
	Conn net.Conn
	// Timeout bounds each read and write.
	Timeout time.Duration
	r       *bufio.Reader
	nextID  int
}

func newWire(t testing.TB, c net.Conn, o options) wire {
	return wire{t: t, Conn: c, Timeout: o.timeout, r: bufio.NewReaderSize(c, o.bufSize), nextID: 1}
}

// id returns the next request id.
func (w *wire) id() int {
	id := w.nextID
	w.nextID++
	return id
}

// writeLine sends s and a newline.
func (w *wire) writeLine(s string) {
	w.t.Helper()
	_ = w.Conn.SetWriteDeadline(time.Now().Add(w.Timeout))
	_, err := io.WriteString(w.Conn, s+"\n")
	require.NoError(w.t, err)
}

// readLine returns the next line, newline included, failing the test
// after Timeout.
func (w *wire) readLine() string {
	w.t.Helper()
	_ = w.Conn.SetReadDeadline(time.Now().Add(w.Timeout))
	line, err := w.r.ReadString('\n')
	require.NoError(w.t, err, "waiting for a line")
	return line
}

// readJSON reads the next line into v and returns the line, failing the
// test on a line that is not JSON.
func (w *wire) readJSON(v any) string {
	w.t.Helper()
	line := w.readLine()
	require.NoError(w.t, json.Unmarshal([]byte(line), v), line)
	return line
}

// ReadLineBy sets the read deadline and returns the next raw line
// (newline included) or the read error. It never fails the test, so it
// may run in a goroutine of its own, and it checks that a connection has
// closed: the error is then io.EOF or a reset, not a timeout.
func (w *wire) ReadLineBy(deadline time.Time) (string, error) {
	_ = w.Conn.SetReadDeadline(deadline)
	return w.r.ReadString('\n')
}

// ExpectClosed reads (and drops) lines until the other side closes the
// connection, failing the test if it is still open after Timeout.
func (w *wire) ExpectClosed() {
	w.t.Helper()
	_ = w.Conn.SetReadDeadline(time.Now().Add(w.Timeout))
	for {
		if _, err := w.r.ReadString('\n'); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				w.t.Fatal("connection still open")
			}
			return
		}
	}
}
