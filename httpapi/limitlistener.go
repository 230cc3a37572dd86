package httpapi

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// limitListener caps the connections a listener has open at once
// (http.max-connections). Beyond the cap a new connection is closed as soon
// as it is accepted: the API's connections are part of the process's
// descriptor budget (see reactor/limits.go), so idle clients cannot take
// descriptors the miners count on, and accepting-then-closing keeps the
// listen backlog from filling with clients that would wait for ever.
// Accept errors are returned unchanged: net/http backs off and retries on
// temporary ones (EMFILE, ENFILE). Safe for concurrent use.
type limitListener struct {
	net.Listener
	max     int64
	log     *slog.Logger
	open    atomic.Int64
	refused atomic.Uint64
	// lastLog is the unix second of the last "limit reached" line.
	lastLog atomic.Int64
}

func newLimitListener(ln net.Listener, max int, log *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, max: int64(max), log: log}
}

// Accept returns the next connection within the cap.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &limitedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		n := l.refused.Add(1)
		_ = c.Close()
		if now := time.Now().Unix(); l.lastLog.Load() < now-60 && l.lastLog.Swap(now) < now-60 {
			l.log.Warn("HTTP API connection limit reached; closing new connections", "max_connections", l.max, "refused_total", n)
		}
	}
}

// limitedConn gives its place back when closed.
type limitedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// CloseWrite half-closes the connection when the transport can, as
// net/http does before closing a "Connection: close" response (so the
// client reads the answer instead of a reset).
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
