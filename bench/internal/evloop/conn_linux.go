//go:build linux

package evloop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"forge.lthn.ai/core/go-proxy/bench/internal/rawsock"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// Connection states.
const (
	connIdle       uint8 = iota // not started yet, or waiting to reconnect
	connConnecting              // TCP connect in progress
	connHandshake               // connected, not ready yet
	connReady                   // handshake done: in the work round robin
	connClosed                  // ended for good; never restarted
)

// Epoll interest sets.
const (
	evConnecting = unix.EPOLLOUT
	evReading    = unix.EPOLLIN | unix.EPOLLRDHUP
	evWriting    = evReading | unix.EPOLLOUT
)

// maxTimestampAge is the oldest plausible kernel receive timestamp: data
// does not wait that long in a socket buffer of a running loop.
const maxTimestampAge = 10 * time.Second

// resolveTimeout bounds the name lookup of a Reconnect host (which blocks
// the loop; hosts are usually IP literals).
const resolveTimeout = 2 * time.Second

// MaxPending is how many numbered requests (NewRequest) a connection keeps
// in flight; a connection with all slots busy is not offered work.
const MaxPending = 4

// ConnSize is the loop's memory per connection, on top of the handler's
// per-slot state.
const ConnSize = unsafe.Sizeof(conn{})

// requests are a connection's numbered requests awaiting their answer.
type requests struct {
	id [MaxPending]uint32 // 0: free slot
	at [MaxPending]int64  // Unix ns when written
}

// free reports whether a slot is free.
func (r *requests) free() bool {
	for _, id := range r.id {
		if id == 0 {
			return true
		}
	}
	return false
}

// take records request id in a free slot (none: it is not tracked).
func (r *requests) take(id uint32, at int64) {
	for i := range r.id {
		if r.id[i] == 0 {
			r.id[i], r.at[i] = id, at
			return
		}
	}
}

// resolve removes request id and returns its send time.
func (r *requests) resolve(id uint64) (int64, bool) {
	for i := range r.id {
		if r.id[i] != 0 && uint64(r.id[i]) == id {
			r.id[i] = 0
			return r.at[i], true
		}
	}
	return 0, false
}

// expire removes the requests older than limit and returns how many.
func (r *requests) expire(now, limit int64) int {
	n := 0
	for i := range r.id {
		if r.id[i] != 0 && now-r.at[i] > limit {
			r.id[i] = 0
			n++
		}
	}
	return n
}

// connIO holds a connection's partial input line and unsent output;
// allocated only while one of them is non-empty.
type connIO struct {
	in, out []byte
}

// conn is one connection of a loop. Owned by the loop goroutine.
type conn struct {
	fd       int32
	state    uint8
	dst      uint8 // index in Loop.dsts: where to connect
	readyPos int32 // index in Loop.ready, -1 when absent
	nextID   uint32
	// since is when the connect started, or the handshake clock was
	// restarted (StartClock); while waiting to reconnect, when to connect.
	since int64
	io    *connIO
	reqs  requests
}

// writing reports whether output is pending.
func (c *conn) writing() bool { return c.io != nil && len(c.io.out) > 0 }

// open reports whether the connection is established.
func (c *conn) open() bool { return c.state == connHandshake || c.state == connReady }

// dest is a destination connections go to. bind says whether sockets to
// it are bound to the configured source addresses.
type dest struct {
	sa     unix.Sockaddr // this loop's own copy
	family int
	ip     string
	port   int
	bind   bool
}

// source returns the bind address of global index gi for destination d,
// or nil.
func (l *Loop) source(gi int, d *dest) *unix.SockaddrInet4 {
	if len(l.srcs) == 0 || !d.bind {
		return nil
	}
	return l.srcs[gi%len(l.srcs)]
}

// startConn opens slot k's socket and starts its connect.
func (l *Loop) startConn(k int, now int64) {
	c := &l.conns[k]
	l.Count.Waiting--
	l.Count.Connecting++
	c.state, c.since = connConnecting, now
	d := &l.dsts[c.dst]
	fd, err := rawsock.Open(d.family, l.source(l.GlobalIndex(k), d))
	if err != nil {
		l.Fail(k, "connect: "+rawsock.ErrnoText(err))
		return
	}
	c.fd = int32(fd)
	ev := unix.EpollEvent{Events: evConnecting, Fd: int32(k)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.Fail(k, "connect: epoll_ctl: "+rawsock.ErrnoText(err))
		return
	}
	switch err := unix.Connect(fd, d.sa); {
	case err == nil:
		l.connected(k, now)
	case errors.Is(err, unix.EINPROGRESS):
	default:
		l.Fail(k, "connect: "+rawsock.ErrnoText(err))
	}
}

// onEvent handles epoll events for slot k.
func (l *Loop) onEvent(k int, events uint32, now int64) {
	c := &l.conns[k]
	switch c.state {
	case connConnecting:
		soErr, err := unix.GetsockoptInt(int(c.fd), unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			l.Fail(k, "connect: "+rawsock.ErrnoText(err))
		case soErr != 0:
			l.Fail(k, "connect: "+unix.Errno(soErr).Error())
		case events&unix.EPOLLOUT != 0:
			l.connected(k, now)
		}
	case connHandshake, connReady:
		if events&unix.EPOLLOUT != 0 && !l.flush(k) {
			return
		}
		if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			l.read(k, now)
		}
	}
}

// connected starts slot k's handshake.
func (l *Loop) connected(k int, now int64) {
	c := &l.conns[k]
	l.Count.Connecting--
	l.Count.Connected++
	c.state = connHandshake
	c.nextID = l.g.cfg.FirstRequestID
	l.setInterest(k, evReading)
	l.h.Connected(k, now)
}

// read receives once from the socket and hands every complete line to the
// handler.
func (l *Loop) read(k int, now int64) {
	c := &l.conns[k]
	n, ts, err := l.rx.Recv(int(c.fd), l.rbuf)
	switch {
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
		return
	case errors.Is(err, unix.ECONNRESET) || (err == nil && n == 0):
		l.Fail(k, "closed by peer")
		return
	case err != nil:
		l.Fail(k, "read: "+rawsock.ErrnoText(err))
		return
	}
	if wall := time.Now().UnixNano(); ts == 0 || ts > wall+int64(time.Second) || ts < wall-int64(maxTimestampAge) {
		// No timestamp, or one on another clock: use our own.
		ts = wall
		l.Count.FallbackTimestamps++
	} else {
		l.Count.KernelTimestamps++
	}
	data := l.rbuf[:n]
	buffered := c.io != nil && len(c.io.in) > 0
	if buffered {
		c.io.in = append(c.io.in, data...)
		data = c.io.in
	}
	off := 0
	for {
		line, used, lerr := stratum.NextLine(data[off:])
		if lerr != nil {
			l.Fail(k, "protocol: "+protocolText(lerr))
			return
		}
		if used == 0 {
			break
		}
		off += used
		if len(line) > 0 {
			l.h.Line(k, line, ts, now)
			if !c.open() {
				return // the handler ended the connection
			}
		}
	}
	rest := data[off:]
	switch {
	case len(rest) == 0:
		if buffered {
			c.io.in = nil
			c.dropIO()
		}
	case buffered:
		c.io.in = c.io.in[:copy(c.io.in, rest)]
	default:
		if c.io == nil {
			c.io = &connIO{}
		}
		c.io.in = append(c.io.in[:0], rest...)
	}
}

func protocolText(err error) string {
	switch {
	case errors.Is(err, stratum.ErrLineTooLong):
		return "line too long"
	case errors.Is(err, stratum.ErrNotJSONObject):
		return "not a JSON object"
	}
	return "malformed line"
}

// Write sends b on slot k's connection (copying what cannot be written at
// once); false when the connection ended.
func (l *Loop) Write(k int, b []byte) bool {
	c := &l.conns[k]
	if c.writing() {
		c.io.out = append(c.io.out, b...)
		return true
	}
	n, err := unix.Write(int(c.fd), b)
	if err != nil {
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			l.failWrite(k, err)
			return false
		}
		n = 0
	}
	if n < len(b) {
		if c.io == nil {
			c.io = &connIO{}
		}
		c.io.out = append(c.io.out[:0], b[n:]...)
		l.setInterest(k, evWriting)
	}
	return true
}

// flush writes pending output; false when the connection ended.
func (l *Loop) flush(k int) bool {
	c := &l.conns[k]
	if !c.writing() {
		l.setInterest(k, evReading)
		return true
	}
	n, err := unix.Write(int(c.fd), c.io.out)
	if err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			return true
		}
		l.failWrite(k, err)
		return false
	}
	c.io.out = c.io.out[:copy(c.io.out, c.io.out[n:])]
	if len(c.io.out) == 0 {
		c.io.out = nil
		c.dropIO()
		l.setInterest(k, evReading)
	}
	return true
}

func (l *Loop) failWrite(k int, err error) {
	if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
		l.Fail(k, "closed by peer")
		return
	}
	l.Fail(k, "write: "+rawsock.ErrnoText(err))
}

// dropIO frees the connection's buffers once both are empty.
func (c *conn) dropIO() {
	if c.io != nil && len(c.io.in) == 0 && len(c.io.out) == 0 {
		c.io = nil
	}
}

// setInterest changes the epoll interest set of an open connection.
func (l *Loop) setInterest(k int, events uint32) {
	ev := unix.EpollEvent{Events: events, Fd: int32(k)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, int(l.conns[k].fd), &ev); err != nil {
		l.CountError("internal: epoll_ctl: "+rawsock.ErrnoText(err), nil, k)
	}
}

// StartClock restarts slot k's handshake clock at now: the login timeout
// and MarkReady's login latency count from there instead of from the start
// of the connect.
func (l *Loop) StartClock(k int, now int64) { l.conns[k].since = now }

// IsReady reports whether slot k's handshake is done (MarkReady) and its
// connection still open.
func (l *Loop) IsReady(k int) bool { return l.conns[k].state == connReady }

// MarkReady ends slot k's handshake, answered at ts: it records the login
// latency (from the handshake clock) and puts the connection in the work
// round robin.
func (l *Loop) MarkReady(k int, ts int64) {
	c := &l.conns[k]
	if c.state != connHandshake {
		return
	}
	l.LoginLat.Record(time.Duration(ts - c.since))
	c.state = connReady
	l.Count.Ready++
	c.readyPos = int32(len(l.ready))
	l.ready = append(l.ready, int32(k))
	l.g.ready.Add(1)
}

// NewRequest returns the next request id of slot k's connection (from
// Config.FirstRequestID, wrapping back to it) and tracks it as sent at now
// until ResolveSubmit or the timeout sweep ("timeout: submit").
func (l *Loop) NewRequest(k int, now int64) uint32 {
	c := &l.conns[k]
	id := c.nextID
	c.nextID++
	if c.nextID == 0 {
		c.nextID = l.g.cfg.FirstRequestID
	}
	c.reqs.take(id, now)
	return id
}

// ResolveSubmit matches an answer with id, received at ts, to a request of
// slot k and records its round trip in SubmitRTT; false when no such
// request is pending (never sent, or timed out).
func (l *Loop) ResolveSubmit(k int, id uint64, ts int64) bool {
	at, ok := l.conns[k].reqs.resolve(id)
	if ok {
		l.SubmitRTT.Record(time.Duration(ts - at))
	}
	return ok
}

// Fail counts an error of the given kind ("" when already counted) and
// closes slot k's connection for good.
func (l *Loop) Fail(k int, kind string) {
	l.dirty = true
	if kind != "" {
		l.CountError(kind, nil, k)
	}
	if !l.drop(k) {
		return
	}
	l.Count.Closed++
	l.conns[k].state = connClosed
}

// drop ends slot k's connection: the handler resets its state, the socket
// is closed (SO_LINGER 0: RST, no TIME_WAIT) and the connection reset,
// keeping its destination. It reports false when there was no connection.
func (l *Loop) drop(k int) bool {
	l.dirty = true
	c := &l.conns[k]
	switch c.state {
	case connConnecting:
		l.Count.Connecting--
	case connHandshake:
		l.Count.Connected--
	case connReady:
		l.Count.Connected--
		l.removeReady(c)
	default:
		return false
	}
	l.h.Dropped(k)
	if c.fd >= 0 {
		_ = unix.Close(int(c.fd))
	}
	*c = conn{fd: -1, readyPos: -1, dst: c.dst}
	return true
}

// removeReady takes a connection out of the work round robin.
func (l *Loop) removeReady(c *conn) {
	i := c.readyPos
	if i < 0 {
		return
	}
	last := len(l.ready) - 1
	moved := l.ready[last]
	l.ready[i] = moved
	l.conns[moved].readyPos = i
	l.ready = l.ready[:last]
	c.readyPos = -1
	l.Count.Ready--
	l.g.ready.Add(-1)
}

// Reconnect closes slot k's connection and connects again after wait
// seconds to host:port (empty host or zero port: the current one's). A
// host that cannot be resolved is counted as an error ("reconnect: ...")
// and ignored.
func (l *Loop) Reconnect(k int, host []byte, port, wait int, now int64) {
	c := &l.conns[k]
	di, err := l.destFor(host, port, &l.dsts[c.dst])
	if err != nil {
		l.CountError("reconnect: "+err.Error(), nil, k)
		return
	}
	if !l.drop(k) {
		return
	}
	l.Count.Reconnects++
	l.Count.Waiting++
	c.dst = di
	c.state, c.since = connIdle, now+int64(wait)*int64(time.Second)
	l.waitList = append(l.waitList, int32(k))
	d := &l.dsts[di]
	l.logs = append(l.logs, fmt.Sprintf("%s: miner %d: reconnect to %s in %d s",
		l.g.cfg.Name, l.GlobalIndex(k), net.JoinHostPort(d.ip, strconv.Itoa(d.port)), wait))
}

// destFor returns the index of the destination host:port in l.dsts,
// adding it when new. An empty host or a zero port keep cur's.
func (l *Loop) destFor(host []byte, port int, cur *dest) (uint8, error) {
	ipText := cur.ip
	if len(host) > 0 {
		ipText = string(host)
	}
	if port == 0 {
		port = cur.port
	}
	ip := net.ParseIP(ipText)
	if ip == nil {
		ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, ipText)
		cancel()
		if err != nil || len(addrs) == 0 {
			return 0, errUnresolved
		}
		ip = addrs[0].IP
	}
	for i := range l.dsts {
		if d := &l.dsts[i]; d.port == port && net.ParseIP(d.ip).Equal(ip) {
			return uint8(i), nil
		}
	}
	if len(l.dsts) >= maxDests {
		return 0, errTooManyDests
	}
	d := dest{ip: ip.String(), port: port}
	if ip4 := ip.To4(); ip4 != nil {
		d.sa, d.family = &unix.SockaddrInet4{Port: port, Addr: [4]byte(ip4)}, unix.AF_INET
		d.bind = len(l.srcs) > 0 && ip4.IsLoopback()
	} else {
		d.sa, d.family = &unix.SockaddrInet6{Port: port, Addr: [16]byte(ip.To16())}, unix.AF_INET6
	}
	l.dsts = append(l.dsts, d)
	return uint8(len(l.dsts) - 1), nil
}
