package reactor

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// endpoint is whatever reads lines from a connection: a miner or a pool
// connection. Its methods run on the owning shard's event loop.
type endpoint interface {
	// handleLine processes one complete line (newline stripped). The bytes
	// are valid only during the call. It returns false to close the
	// connection.
	handleLine(line []byte) bool
	// closed runs exactly once when the connection is gone.
	closed()
}

// connRef is a shard's handle on one connection, over either transport:
// a gnet connection served by the event loop itself, or a stream (any
// net.Conn, used for TLS) served by a reader and a writer goroutine. Its
// methods are loop-only.
type connRef struct {
	g gnet.Conn
	// x is any other transport: a *stream, or an in-memory one (tests
	// driving a shard without sockets).
	x extConn
}

// extConn is a transport that is not a gnet connection.
type extConn interface {
	write(p []byte, maxOut int) bool
	close()
	// buffered returns the bytes written and not yet sent.
	buffered() int
	// resume delivers the input the endpoint left unread again.
	resume()
}

// write sends p, which the caller may reuse as soon as write returns. When
// more than maxOut bytes are waiting for a peer that does not read, the
// connection is closed and write reports false.
func (r *connRef) write(p []byte, maxOut int) bool {
	if r.g != nil {
		if _, err := r.g.Write(p); err != nil {
			return false
		}
		if r.g.OutboundBuffered() > maxOut {
			_ = r.g.Close()
			return false
		}
		return true
	}
	if r.x != nil {
		return r.x.write(p, maxOut)
	}
	return false
}

// buffered returns the bytes written to the connection and not yet sent.
func (r *connRef) buffered() int {
	if r.g != nil {
		return r.g.OutboundBuffered()
	}
	if r.x != nil {
		return r.x.buffered()
	}
	return 0
}

// resume makes the transport hand the endpoint the input it left unread
// (a held miner's), as a new read on the loop, soon after this returns:
// gnet calls OnTraffic again (Conn.Wake), a stream posts its delivery.
func (r *connRef) resume() {
	if r.g != nil {
		_ = r.g.Wake(nil)
	} else if r.x != nil {
		r.x.resume()
	}
}

// close starts an orderly close: bytes already written are still sent, and
// the endpoint's closed runs later on the loop.
func (r *connRef) close() {
	if r.g != nil {
		_ = r.g.Close()
	} else if r.x != nil {
		r.x.close()
	}
}

// feed hands every complete line in buf to ep and returns how many bytes
// it consumed. ok is false when the connection must be closed: a framing
// error (a line over lineLimit, a line that is not a JSON object)
// or an endpoint that asked for it.
func (s *shard) feed(ep endpoint, buf []byte) (n int, ok bool) {
	limit := lineLimit(ep)
	m, isMiner := ep.(*miner)
	if isMiner && m.held {
		// Everything stays unread until the pool drains (flow.go).
		return 0, m.heldInputOK(len(buf))
	}
	for {
		if isMiner && m.state == stateWaitProxy {
			used, done, err := m.readProxyHeader(buf[n:])
			if err != nil {
				m.s.countFraming(m, err)
				return n, false
			}
			if !done {
				return n, true
			}
			n += used
			continue
		}
		line, used, err := stratum.NextLineMax(buf[n:], limit)
		if err != nil {
			s.countFraming(ep, err)
			return n, false
		}
		if used == 0 {
			return n, true
		}
		n += used
		if len(line) == 0 {
			continue
		}
		if !ep.handleLine(line) {
			return n, false
		}
		if isMiner && m.held {
			// The line asked to wait for the pool: it stays unread,
			// with everything after it, and is counted when it is read.
			m.rx -= uint64(len(line)) + 1
			m.s.fc[m.family].BytesIn -= uint64(len(line)) + 1
			return n - used, true
		}
	}
}

// lineLimit is the longest line an endpoint may send: pools get more room
// than miners (long SV1 coinbases).
func lineLimit(ep endpoint) int {
	if _, isPool := ep.(*poolConn); isPool {
		return stratum.MaxPoolLineSize
	}
	return stratum.MaxLineSize
}

// inputLimit is the most an endpoint may leave unread: an incomplete
// line, or what a held miner buffers.
func inputLimit(ep endpoint) int {
	if m, isMiner := ep.(*miner); isMiner && m.held {
		return maxHeldInput
	}
	return lineLimit(ep)
}

// stream serves a net.Conn (TLS miners, TLS pools) with two goroutines and
// delivers its bytes to a shard as loop tasks, so the same endpoint code
// runs for it as for gnet connections.
//
// Ownership: in/inSpare/rerr/posted are shared between the reader
// goroutine and the loop under mu; out/outSpare between the loop and the
// writer under mu; pending and ep are loop-only.
type stream struct {
	nc  net.Conn
	s   *shard
	ep  endpoint
	run gnet.Runnable

	mu       sync.Mutex
	in       []byte
	inSpare  []byte
	rerr     error
	posted   bool
	out      []byte
	outSpare []byte

	wake     chan struct{}
	unhook   func() bool // cancels the abort registered on the proxy's context
	closing  atomic.Bool
	flushed  chan struct{}
	pending  []byte // loop-only: bytes of an incomplete line
	finished bool   // loop-only: closed() delivered
}

// maxStreamBacklog bounds the bytes a stream reader buffers before the
// loop has taken them; a peer flooding faster than that is cut off.
const maxStreamBacklog = 1 << 20

// streamWriteTimeout bounds one write to a stream peer.
const streamWriteTimeout = 10 * time.Second

func newStream(nc net.Conn, s *shard, ep endpoint) *stream {
	st := &stream{nc: nc, s: s, ep: ep, wake: make(chan struct{}, 1), flushed: make(chan struct{})}
	st.run = gnet.RunnableFunc(st.deliver)
	// Stop cancels the proxy's context: every stream closes then, even one
	// whose peer never sends again (its reader would otherwise wait).
	st.unhook = context.AfterFunc(s.p.ctx, st.abort)
	return st
}

// start launches the reader and the writer.
func (st *stream) start() {
	go st.readLoop()
	go st.writeLoop()
}

func (st *stream) readLoop() {
	buf := make([]byte, 4096)
	for {
		n, err := st.nc.Read(buf)
		st.mu.Lock()
		st.in = append(st.in, buf[:n]...)
		if err == nil && len(st.in) > maxStreamBacklog {
			err = errors.New("reactor: stream backlog exceeded")
		}
		if err != nil {
			st.rerr = err
		}
		post := !st.posted
		st.posted = true
		st.mu.Unlock()
		if post && st.s.el.Execute(context.Background(), st.run) != nil {
			st.abort()
			return
		}
		if err != nil {
			st.abort()
			return
		}
	}
}

// deliver runs on the loop: it takes what the reader collected, frames it,
// and reports the end of the connection once.
func (st *stream) deliver(context.Context) error {
	st.mu.Lock()
	data, rerr := st.in, st.rerr
	st.in, st.inSpare = st.inSpare[:0], nil
	st.posted = false
	st.mu.Unlock()
	if st.finished {
		return nil
	}
	ok := true
	if !st.closing.Load() { // once closing, nothing more is handled
		buf := data
		if len(st.pending) > 0 {
			st.pending = append(st.pending, data...)
			buf = st.pending
		}
		var n int
		n, ok = st.s.feed(st.ep, buf)
		rest := buf[n:]
		if len(rest) > inputLimit(st.ep) {
			ok = false
		}
		st.pending = append(st.pending[:0], rest...)
	}
	st.mu.Lock()
	st.inSpare = data[:0]
	st.mu.Unlock()
	if !ok {
		st.close()
	}
	if rerr != nil {
		st.finished = true
		st.ep.closed()
	}
	return nil
}

// buffered returns the bytes queued for the writer (loop-only).
func (st *stream) buffered() int {
	st.mu.Lock()
	n := len(st.out)
	st.mu.Unlock()
	return n
}

// resume posts a delivery, so the loop feeds the pending bytes again even
// when nothing new arrives (loop-only).
func (st *stream) resume() {
	st.mu.Lock()
	post := !st.posted
	st.posted = true
	st.mu.Unlock()
	if post && st.s.el.Execute(context.Background(), st.run) != nil {
		st.abort()
	}
}

// write queues p for the writer goroutine (loop-only).
func (st *stream) write(p []byte, maxOut int) bool {
	if st.closing.Load() {
		return false
	}
	st.mu.Lock()
	if len(st.out)+len(p) > maxOut {
		st.mu.Unlock()
		st.close()
		return false
	}
	st.out = append(st.out, p...)
	st.mu.Unlock()
	select {
	case st.wake <- struct{}{}:
	default:
	}
	return true
}

func (st *stream) writeLoop() {
	for {
		<-st.wake
		st.mu.Lock()
		data := st.out
		st.out, st.outSpare = st.outSpare[:0], nil
		st.mu.Unlock()
		if len(data) > 0 {
			_ = st.nc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			if _, err := st.nc.Write(data); err != nil {
				st.abort()
				return
			}
		}
		st.mu.Lock()
		st.outSpare = data[:0]
		empty := len(st.out) == 0
		st.mu.Unlock()
		if st.closing.Load() && empty {
			st.abort()
			return
		}
	}
}

// close flushes what was written, then closes the connection. Safe from
// any goroutine, any number of times.
func (st *stream) close() {
	if st.closing.CompareAndSwap(false, true) {
		select {
		case st.wake <- struct{}{}:
		default:
		}
	}
}

// abort closes the socket now; the reader then reports the end.
func (st *stream) abort() {
	st.closing.Store(true)
	st.unhook()
	_ = st.nc.Close()
	select {
	case st.wake <- struct{}{}:
	default:
	}
}
