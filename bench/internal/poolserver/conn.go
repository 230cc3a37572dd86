package poolserver

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// WriteTimeout bounds a write to a connection that does not read: the
// connection is dropped instead of blocking a broadcast.
const WriteTimeout = 5 * time.Second

// GarbageLine is what a misbehaving pool answers instead of JSON.
const GarbageLine = "<html><body>502 this is not json</body></html>\n"

// Conn is one accepted connection, the transport half of a session. Its
// Mutex serialises writes; a session may guard its own state with it too.
// Every write happens with the Mutex held and a WriteTimeout deadline; a
// failed write closes the connection (its reader then cleans up).
type Conn struct {
	sync.Mutex
	nc        net.Conn
	remote    string
	connected atomic.Bool // false once the reader has finished
	wbuf      []byte      // guarded by the Mutex
}

func (c *Conn) base() *Conn { return c }

// RemoteAddr returns the peer's address, as ip:port.
func (c *Conn) RemoteAddr() string { return c.remote }

// Connected reports whether the connection's reader is still running.
func (c *Conn) Connected() bool { return c.connected.Load() }

// SendLocked writes the line (or lines) build appends to dst, which is the
// connection's reusable write buffer. Caller holds the Mutex; build may
// update state it guards.
func (c *Conn) SendLocked(build func(dst []byte) []byte) error {
	c.wbuf = build(c.wbuf[:0])
	return c.writeLocked(c.wbuf)
}

// Send is SendLocked with the Mutex taken and released.
func (c *Conn) Send(build func(dst []byte) []byte) error {
	c.Lock()
	defer c.Unlock()
	return c.SendLocked(build)
}

// Push is a pool-initiated Send: nothing happens (build is not called) once
// the connection is gone, nothing is written when build appends nothing,
// and a failed write only closes the connection.
func (c *Conn) Push(build func(dst []byte) []byte) {
	c.Lock()
	defer c.Unlock()
	if !c.connected.Load() {
		return
	}
	c.wbuf = build(c.wbuf[:0])
	if len(c.wbuf) > 0 {
		_ = c.writeLocked(c.wbuf)
	}
}

// Misbehave answers a request line the way the behaviours every pool shares
// do: silent ignores it, garbage answers GarbageLine. It reports whether
// the line is answered (then err is the write's); otherwise the pool
// handles it.
func (c *Conn) Misbehave(silent, garbage bool) (answered bool, err error) {
	switch {
	case silent:
		return true, nil
	case garbage:
		c.Lock()
		defer c.Unlock()
		return true, c.writeLocked([]byte(GarbageLine))
	}
	return false, nil
}

// MisbehaveAfterLoginLocked does what the after-login behaviours every
// pool shares say, once a session's login is answered and its first job
// written: garbage writes a line that is not JSON (the connection stays
// open); closeMidLine writes the first half of line and returns ErrHangUp,
// so the connection closes in the middle of a line. Caller holds the
// Mutex.
func (c *Conn) MisbehaveAfterLoginLocked(garbage, closeMidLine bool, line []byte) error {
	switch {
	case closeMidLine:
		if err := c.writeLocked(line[:len(line)/2]); err != nil {
			return err
		}
		return ErrHangUp
	case garbage:
		return c.writeLocked([]byte(GarbageLine))
	}
	return nil
}

// writeLocked writes line with a deadline. Caller holds the Mutex.
func (c *Conn) writeLocked(line []byte) error {
	if !c.connected.Load() {
		return net.ErrClosed
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(WriteTimeout))
	if _, err := c.nc.Write(line); err != nil {
		_ = c.nc.Close()
		return fmt.Errorf("write: %w", err)
	}
	return nil
}
