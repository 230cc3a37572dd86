//go:build linux

package evloop

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"forge.lthn.ai/core/go-proxy/bench/internal/hist"
	"forge.lthn.ai/core/go-proxy/bench/internal/rawsock"
)

// Loop tuning.
const (
	readBufSize = 64 << 10
	maxEvents   = 256
	// maxStartsPerPass bounds connects started between two epoll waits so
	// that a fast ramp does not starve reads.
	maxStartsPerPass = 256
	// notifyInterval is the shortest gap between two change notifications
	// from one loop (WaitFor re-evaluations).
	notifyInterval = 5 * time.Millisecond
	// maxSweepInterval is the longest gap between timeout sweeps; shorter
	// Timeouts sweep at a quarter of the timeout (but not under minSweep).
	maxSweepInterval = time.Second
	minSweepInterval = 10 * time.Millisecond
	idleWait         = time.Second
	maxErrorKinds    = 64
	// maxErrorDetail bounds the network text kept in an error kind.
	maxErrorDetail = 80
	// maxDests bounds the Reconnect destinations a loop remembers.
	maxDests = 16
	wakeSlot = -1 // epoll data of the wake eventfd
)

// Work is what Handler.Work did with the connection it was offered.
type Work uint8

const (
	// WorkSkipped: the connection may not work now; the schedule tries the
	// next ready one for the same token.
	WorkSkipped Work = iota
	// WorkDone: work was started or sent; it used one token.
	WorkDone
	// WorkBusy: the handler cannot take work now (a full queue); the
	// schedule stops, offers this connection first next time, and retries
	// within Config.BusyRetry.
	WorkBusy
)

// Handler is the protocol side of a Loop: one per loop, with per-slot state
// in a slice parallel to the loop's connections. Every method is called on
// the loop goroutine with the loop lock held, and may call the Loop's
// methods for slot k (Write, Fail, MarkReady, ...).
type Handler interface {
	// Connected is called when slot k's connect completed: send the first
	// request. The handshake clock runs from the start of the connect
	// unless the handler restarts it (StartClock).
	Connected(k int, now int64)
	// Line handles one complete, non-empty line received on slot k (without
	// its newline; valid only during the call) at kernel receive time ts.
	// If the handler ends the connection (Fail, Reconnect), the rest of the
	// data read is dropped.
	Line(k int, line []byte, ts, now int64)
	// Work is offered a ready connection, with no write pending and a free
	// request slot, when the work schedule has a token for it.
	Work(k int, now int64) Work
	// Dropped is called when slot k's connection ends (Fail, Reconnect),
	// before its socket is closed: reset the slot's per-connection state.
	Dropped(k int)
	// Pass is called once per loop pass, after the events and before the
	// schedule (connects, work, timeouts).
	Pass(now int64)
	// Shutdown is called when the loop ends, before every socket is closed
	// and the gauges are zeroed (Dropped is not called then).
	Shutdown()
}

// Loop is one event loop and the connections it owns: global indexes idx,
// idx+n, idx+2n, ... Only its goroutine touches connections and buffers.
// Its lock is held by that goroutine while it handles a batch of events
// (and so in every Handler call), and by Group.Stats.
type Loop struct {
	// Count and the latency recorders are guarded by the loop lock; the
	// handler records LoginLat through MarkReady and SubmitRTT through
	// ResolveSubmit, and JobLat itself.
	Count                       Tally
	LoginLat, SubmitRTT, JobLat hist.Recorder

	g      *Group
	h      Handler
	idx, n int
	epfd   int
	wakefd int
	dsts   []dest                // [0] is Config.ProxyAddr; then Reconnect targets
	srcs   []*unix.SockaddrInet4 // this loop's copies, per source IP

	conns    []conn
	started  int     // conns[:started] have been started by the ramp
	ready    []int32 // slots of ready connections, for the work round robin
	cursor   int
	waitList []int32 // slots waiting to reconnect

	events  []unix.EpollEvent
	rbuf    []byte
	rx      rawsock.Receiver
	scratch []byte // error kinds
	busy    bool   // Handler.Work answered WorkBusy in this pass

	connTokens, workTokens float64
	lastSched, lastSweep   int64 // Unix ns
	lastNotify             int64
	dirty                  bool

	mu     sync.Mutex
	errors map[string]*int64 // guarded by mu
	logs   []string          // written under mu, emitted after it is released
}

func newLoop(g *Group, idx, n int) (*Loop, error) {
	count := (g.cfg.Miners - idx + n - 1) / n
	l := &Loop{
		g: g, idx: idx, n: n, epfd: -1, wakefd: -1,
		conns:      make([]conn, count),
		ready:      make([]int32, 0, count),
		events:     make([]unix.EpollEvent, maxEvents),
		rbuf:       make([]byte, readBufSize),
		errors:     make(map[string]*int64),
		connTokens: 1,
	}
	d, srcs := g.sockaddrs()
	l.dsts, l.srcs = []dest{d}, srcs
	l.Count.Waiting = count
	for i := range l.conns {
		l.conns[i] = conn{fd: -1, readyPos: -1}
	}
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if l.wakefd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		l.release()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeSlot}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.wakefd, &ev); err != nil {
		l.release()
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	now := time.Now().UnixNano()
	l.lastSched, l.lastSweep = now, now
	return l, nil
}

// Slots returns the number of connections the loop owns.
func (l *Loop) Slots() int { return len(l.conns) }

// GlobalIndex returns the swarm-wide index of slot k.
func (l *Loop) GlobalIndex(k int) int { return l.idx + k*l.n }

// Wake interrupts the loop's epoll wait. Safe from any goroutine until the
// group's Close has called Config.Stopped.
func (l *Loop) Wake() {
	var one [8]byte
	one[0] = 1
	_, _ = unix.Write(l.wakefd, one[:])
}

// MarkDirty makes the loop report a change (Group.Changed) soon.
func (l *Loop) MarkDirty() { l.dirty = true }

// release closes the epoll and eventfd descriptors; after the loop ended.
func (l *Loop) release() {
	if l.epfd >= 0 {
		_ = unix.Close(l.epfd)
		l.epfd = -1
	}
	if l.wakefd >= 0 {
		_ = unix.Close(l.wakefd)
		l.wakefd = -1
	}
}

// run is the loop goroutine.
func (l *Loop) run() {
	defer l.g.wg.Done()
	defer l.shutdown()
	for {
		n, err := unix.EpollWait(l.epfd, l.events, l.waitMillis())
		if l.g.stop.Load() {
			return
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			l.g.Logf("%s: loop %d: epoll_wait: %v; loop stopped", l.g.cfg.Name, l.idx, err)
			return
		}
		now := time.Now().UnixNano()
		l.mu.Lock()
		for i := 0; i < n; i++ {
			ev := &l.events[i]
			if ev.Fd == wakeSlot {
				var b [8]byte
				_, _ = unix.Read(l.wakefd, b[:])
				continue
			}
			l.onEvent(int(ev.Fd), ev.Events, now)
		}
		l.h.Pass(now)
		l.schedule(now)
		if n > 0 {
			l.dirty = true
		}
		logs := l.logs
		l.logs = nil
		l.mu.Unlock()
		for _, line := range logs {
			l.g.Logf("%s", line)
		}
		if l.dirty && now-l.lastNotify >= int64(notifyInterval) {
			l.dirty = false
			l.lastNotify = now
			l.g.changed.Notify()
		}
	}
}

// waitMillis is how long the next epoll wait may block: until the next
// connect, reconnect or work is due, a pending notification, or the next
// sweep.
func (l *Loop) waitMillis() int {
	cfg := &l.g.cfg
	wait := min(idleWait, l.sweepInterval())
	if l.started < len(l.conns) {
		if cfg.ConnectRate == 0 {
			return 0
		}
		perLoop := float64(cfg.ConnectRate) / float64(l.n)
		wait = min(wait, time.Duration((1-l.connTokens)/perLoop*float64(time.Second)))
	}
	if len(l.waitList) > 0 {
		now := time.Now().UnixNano()
		for _, k := range l.waitList {
			wait = min(wait, time.Duration(l.conns[k].since-now))
		}
	}
	if rate := l.workRate(); rate > 0 {
		if l.busy {
			wait = min(wait, cfg.BusyRetry)
		} else {
			wait = min(wait, time.Duration((1-l.workTokens)/rate*float64(time.Second)))
		}
	}
	if l.dirty {
		wait = min(wait, notifyInterval)
	}
	return max(1, int(math.Ceil(float64(wait)/float64(time.Millisecond))))
}

// workRate is this loop's share of Config.WorkRate: proportional to its
// ready connections.
func (l *Loop) workRate() float64 {
	rate := l.g.cfg.WorkRate
	if rate <= 0 || len(l.ready) == 0 {
		return 0
	}
	total := max(l.g.ready.Load(), int64(len(l.ready)))
	return rate * float64(len(l.ready)) / float64(total)
}

// schedule starts due connects and reconnects, offers due work and sweeps
// timeouts. Called with mu held.
func (l *Loop) schedule(now int64) {
	dt := float64(now-l.lastSched) / float64(time.Second)
	l.lastSched = now

	if l.started < len(l.conns) {
		if rate := l.g.cfg.ConnectRate; rate > 0 {
			perLoop := float64(rate) / float64(l.n)
			l.connTokens = min(l.connTokens+perLoop*dt, max(1, perLoop/10))
		} else {
			l.connTokens = maxStartsPerPass
		}
		for k := 0; k < maxStartsPerPass && l.connTokens >= 1 && l.started < len(l.conns); k++ {
			l.connTokens--
			l.startConn(l.started, now)
			l.started++
			l.dirty = true
		}
	}
	for i := 0; i < len(l.waitList); {
		k := l.waitList[i]
		if l.conns[k].since > now {
			i++
			continue
		}
		l.waitList[i] = l.waitList[len(l.waitList)-1]
		l.waitList = l.waitList[:len(l.waitList)-1]
		l.startConn(int(k), now)
		l.dirty = true
	}

	if rate := l.workRate(); rate > 0 {
		l.workTokens = min(l.workTokens+rate*dt, max(2, rate))
		l.busy = false
		for l.workTokens >= 1 && l.work(now) {
			l.workTokens--
			l.dirty = true
		}
	} else {
		l.workTokens = 0
	}

	if now-l.lastSweep >= int64(l.sweepInterval()) {
		l.lastSweep = now
		l.sweep(now)
	}
}

// work offers one token of work to the next ready connection (round robin)
// that may take it; false when none did or the handler is busy.
func (l *Loop) work(now int64) bool {
	for tries := len(l.ready); tries > 0; tries-- {
		if l.cursor >= len(l.ready) {
			l.cursor = 0
		}
		k := l.ready[l.cursor]
		l.cursor++
		c := &l.conns[k]
		if c.writing() {
			continue // the peer is not reading; do not pile up
		}
		if !c.reqs.free() {
			continue
		}
		switch l.h.Work(int(k), now) {
		case WorkDone:
			return true
		case WorkBusy:
			l.busy = true
			l.cursor-- // this connection is next again
			return false
		}
	}
	return false
}

// sweepInterval is how often timeouts are checked.
func (l *Loop) sweepInterval() time.Duration {
	return min(maxSweepInterval, max(minSweepInterval, l.g.cfg.Timeout/4))
}

// sweep closes connections whose connect or handshake timed out and
// forgets requests that were never answered.
func (l *Loop) sweep(now int64) {
	limit := int64(l.g.cfg.Timeout)
	for k := 0; k < l.started; k++ {
		c := &l.conns[k]
		switch c.state {
		case connConnecting:
			if now-c.since > limit {
				l.Fail(k, "timeout: connect")
			}
		case connHandshake:
			if now-c.since > limit {
				l.Fail(k, "timeout: login")
			}
		case connReady:
			for range c.reqs.expire(now, limit) {
				l.CountError("timeout: submit", nil, k)
			}
		}
	}
}

// CountError counts one error of kind prefix+detail for slot k. detail is
// network text (may be nil): control characters become '?' and it is cut
// after maxErrorDetail bytes. The first error of each kind is logged.
func (l *Loop) CountError(prefix string, detail []byte, k int) {
	l.dirty = true
	l.scratch = append(l.scratch[:0], prefix...)
	for i, c := range detail {
		if i == maxErrorDetail {
			l.scratch = append(l.scratch, "..."...)
			break
		}
		if c < 0x20 || c == 0x7f {
			c = '?'
		}
		l.scratch = append(l.scratch, c)
	}
	if p := l.errors[string(l.scratch)]; p != nil {
		*p++
		return
	}
	key := string(l.scratch)
	if len(l.errors) >= maxErrorKinds {
		key = "other"
		if p := l.errors[key]; p != nil {
			*p++
			return
		}
	}
	one := int64(1)
	l.errors[key] = &one
	l.logs = append(l.logs, fmt.Sprintf("%s: miner %d: %s (first of its kind in loop %d)",
		l.g.cfg.Name, l.GlobalIndex(k), key, l.idx))
}

// shutdown closes every socket; the loop goroutine's last act.
func (l *Loop) shutdown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.h.Shutdown()
	for k := range l.conns {
		if c := &l.conns[k]; c.fd >= 0 {
			_ = unix.Close(int(c.fd))
			c.fd = -1
		}
	}
	l.Count.Waiting, l.Count.Connecting, l.Count.Connected, l.Count.Ready = 0, 0, 0, 0
	l.ready = l.ready[:0]
	l.waitList = l.waitList[:0]
}
