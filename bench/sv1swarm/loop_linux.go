//go:build linux

package sv1swarm

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/valyala/fastjson"
	"golang.org/x/sys/unix"

	"forge.lthn.ai/core/go-proxy/bench/internal/hist"
	"forge.lthn.ai/core/go-proxy/stratum"
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
	// queueRetry is how soon a loop whose search was refused by a full
	// queue (the workers are saturated) tries again.
	queueRetry    = 5 * time.Millisecond
	maxErrorKinds = 64
	// maxDests bounds the client.reconnect destinations a loop remembers.
	maxDests = 16
	wakeSlot = -1 // epoll data of the wake eventfd
)

// loopStats is what Stats reads; guarded by loop.mu.
type loopStats struct {
	waiting, connecting, connected, subscribed, authorized, closed int

	reconnects, jobs, diffChanges, e1Changes, maskChanges int64
	rollingGranted, xsubGranted                           int64
	searches, hashes, discarded                           int64
	sent, accepted, rejected                              int64
	kernelTS, fallbackTS                                  int64
	rejectedByCode                                        map[int]int64
	errors                                                map[string]*int64
	loginLat, submitRTT, jobLat                           hist.Recorder
}

// dest is a destination miners connect to. bind says whether sockets to it
// are bound to the configured source addresses.
type dest struct {
	sa     unix.Sockaddr // this loop's own copy
	family int
	ip     string
	port   int
	bind   bool
}

// loop is one event loop and the miners it owns: global indexes idx,
// idx+n, idx+2n, ... Only its goroutine touches miners and buffers. mu is
// held by that goroutine while it handles a batch of events, and by Stats.
// The inbox (finished searches) is guarded by inMu and may be appended to
// by any worker.
type loop struct {
	s      *Swarm
	idx, n int
	epfd   int
	wakefd int
	dsts   []dest                // [0] is Config.ProxyAddr; then client.reconnect targets
	srcs   []*unix.SockaddrInet4 // this loop's copies, per source IP

	miners   []miner
	started  int     // miners[:started] have been started by the ramp
	ready    []int32 // slots of authorized miners, for the search round robin
	cursor   int
	waitList []int32 // slots waiting to reconnect

	events    []unix.EpollEvent
	rbuf      []byte
	rx        receiver
	wbuf      []byte
	scratch   []byte // error kinds
	hexbuf    []byte // submit fields
	parser    fastjson.Parser
	msg       stratum.SV1PoolMessage
	queueFull bool // the search queue refused a task in this pass

	connTokens, shareTokens float64
	lastSched, lastSweep    int64 // Unix ns
	lastNotify              int64
	dirty                   bool

	inMu   sync.Mutex
	inbox  []*task
	inbox2 []*task // the other buffer, swapped with inbox by the loop

	mu   sync.Mutex
	st   loopStats
	jobs jobTable // guarded by mu as well (Stats reads it)
	logs []string // written under mu, emitted after it is released
}

func newLoop(s *Swarm, idx, n int) (*loop, error) {
	count := (s.cfg.Miners - idx + n - 1) / n
	l := &loop{
		s: s, idx: idx, n: n, epfd: -1, wakefd: -1,
		miners:     make([]miner, count),
		ready:      make([]int32, 0, count),
		events:     make([]unix.EpollEvent, maxEvents),
		rbuf:       make([]byte, readBufSize),
		connTokens: 1,
	}
	d, srcs := s.sockaddrs()
	d.bind = len(srcs) > 0
	l.dsts, l.srcs = []dest{d}, srcs
	l.st.waiting = count
	l.st.errors = make(map[string]*int64)
	l.st.rejectedByCode = make(map[int]int64)
	for i := range l.miners {
		l.miners[i] = miner{fd: -1, readyPos: -1}
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

// wake interrupts the loop's epoll wait. Safe from any goroutine until
// release.
func (l *loop) wake() {
	var one [8]byte
	one[0] = 1
	_, _ = unix.Write(l.wakefd, one[:])
}

// post hands a finished search back to the loop (taskSink). Called by
// workers.
func (l *loop) post(t *task) {
	l.inMu.Lock()
	l.inbox = append(l.inbox, t)
	first := len(l.inbox) == 1
	l.inMu.Unlock()
	if first {
		l.wake()
	}
}

// release closes the epoll and eventfd descriptors; after the loop and the
// workers ended.
func (l *loop) release() {
	if l.epfd >= 0 {
		_ = unix.Close(l.epfd)
		l.epfd = -1
	}
	if l.wakefd >= 0 {
		_ = unix.Close(l.wakefd)
		l.wakefd = -1
	}
}

// source returns the bind address of global miner index gi for destination
// d, or nil.
func (l *loop) source(gi int, d *dest) *unix.SockaddrInet4 {
	if len(l.srcs) == 0 || !d.bind {
		return nil
	}
	return l.srcs[gi%len(l.srcs)]
}

// globalIndex returns the swarm-wide index of miner slot k.
func (l *loop) globalIndex(k int) int { return l.idx + k*l.n }

// run is the loop goroutine.
func (l *loop) run() {
	defer l.s.wg.Done()
	defer l.shutdown()
	for {
		n, err := unix.EpollWait(l.epfd, l.events, l.waitMillis())
		if l.s.stop.Load() {
			return
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			l.s.logf("sv1swarm: loop %d: epoll_wait: %v; loop stopped", l.idx, err)
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
			l.onEvent(&l.miners[ev.Fd], int(ev.Fd), ev.Events, now)
		}
		l.drainInbox(now)
		l.schedule(now)
		if n > 0 {
			l.dirty = true
		}
		logs := l.logs
		l.logs = nil
		l.mu.Unlock()
		for _, line := range logs {
			l.s.logf("%s", line)
		}
		if l.dirty && now-l.lastNotify >= int64(notifyInterval) {
			l.dirty = false
			l.lastNotify = now
			l.s.changed.Notify()
		}
	}
}

// waitMillis is how long the next epoll wait may block: until the next
// connect, reconnect or search is due, a pending notification, or the next
// sweep.
func (l *loop) waitMillis() int {
	wait := min(idleWait, l.sweepInterval())
	if l.started < len(l.miners) {
		if l.s.cfg.ConnectRate == 0 {
			return 0
		}
		perLoop := float64(l.s.cfg.ConnectRate) / float64(l.n)
		wait = min(wait, time.Duration((1-l.connTokens)/perLoop*float64(time.Second)))
	}
	if len(l.waitList) > 0 {
		now := time.Now().UnixNano()
		for _, k := range l.waitList {
			wait = min(wait, time.Duration(l.miners[k].since-now))
		}
	}
	if rate := l.loopShareRate(); rate > 0 {
		if l.queueFull {
			wait = min(wait, queueRetry)
		} else {
			wait = min(wait, time.Duration((1-l.shareTokens)/rate*float64(time.Second)))
		}
	}
	if l.dirty {
		wait = min(wait, notifyInterval)
	}
	return max(1, int(math.Ceil(float64(wait)/float64(time.Millisecond))))
}

// loopShareRate is this loop's share of SharesPerSecond: proportional to its
// authorized miners.
func (l *loop) loopShareRate() float64 {
	rate := l.s.cfg.SharesPerSecond
	if rate <= 0 || len(l.ready) == 0 {
		return 0
	}
	total := max(l.s.ready.Load(), int64(len(l.ready)))
	return rate * float64(len(l.ready)) / float64(total)
}

// schedule starts due connects and reconnects, hands out due searches and
// sweeps timeouts. Called with mu held.
func (l *loop) schedule(now int64) {
	dt := float64(now-l.lastSched) / float64(time.Second)
	l.lastSched = now

	if l.started < len(l.miners) {
		if rate := l.s.cfg.ConnectRate; rate > 0 {
			perLoop := float64(rate) / float64(l.n)
			l.connTokens = min(l.connTokens+perLoop*dt, max(1, perLoop/10))
		} else {
			l.connTokens = maxStartsPerPass
		}
		for k := 0; k < maxStartsPerPass && l.connTokens >= 1 && l.started < len(l.miners); k++ {
			l.connTokens--
			l.startMiner(l.started, now)
			l.started++
			l.dirty = true
		}
	}
	for i := 0; i < len(l.waitList); {
		k := l.waitList[i]
		if l.miners[k].since > now {
			i++
			continue
		}
		l.waitList[i] = l.waitList[len(l.waitList)-1]
		l.waitList = l.waitList[:len(l.waitList)-1]
		l.startMiner(int(k), now)
		l.dirty = true
	}

	if rate := l.loopShareRate(); rate > 0 {
		l.shareTokens = min(l.shareTokens+rate*dt, max(2, rate))
		l.queueFull = false
		for l.shareTokens >= 1 && l.startSearch() {
			l.shareTokens--
			l.dirty = true
		}
	} else {
		l.shareTokens = 0
	}

	if now-l.lastSweep >= int64(l.sweepInterval()) {
		l.lastSweep = now
		l.sweep(now)
	}
}

// startSearch hands a search for the next authorized miner (round robin)
// that may search to the workers; false when none may or the queue is
// full.
func (l *loop) startSearch() bool {
	for tries := len(l.ready); tries > 0; tries-- {
		if l.cursor >= len(l.ready) {
			l.cursor = 0
		}
		slot := l.ready[l.cursor]
		l.cursor++
		m := &l.miners[slot]
		if !m.canSearch() {
			continue
		}
		t := &task{
			sink: l, slot: slot, job: m.job,
			e1: m.e1, e1Len: m.e1Len, e2Len: m.e2Size,
			rolled: m.rolling, diff: m.searchDiff(),
		}
		if m.rolling {
			t.mask = m.mask
		}
		t.unit = unitOf(m.searches, int(m.e2Size), t.mask)
		t.ntime = m.job.bin.NTime
		if !l.s.searcher.offer(t) {
			l.queueFull = true
			l.cursor-- // this miner is next again
			return false
		}
		m.searches++
		m.task = t
		return true
	}
	return false
}

// drainInbox takes the finished searches: submits the shares that are
// still valid, drops the others.
func (l *loop) drainInbox(now int64) {
	l.inMu.Lock()
	batch := l.inbox
	l.inbox = l.inbox2[:0]
	l.inMu.Unlock()
	if len(batch) > 0 {
		l.dirty = true
	}
	for i, t := range batch {
		batch[i] = nil
		l.st.searches++
		l.st.hashes += int64(t.hashes)
		m := &l.miners[t.slot]
		if m.task != t {
			continue // voided (and counted) already
		}
		m.task = nil
		if !t.found {
			continue // the whole nonce range without a share: next unit
		}
		if !l.stillValid(m, t) {
			l.st.discarded++
			continue
		}
		l.submit(m, int(t.slot), t, now)
	}
	l.inbox2 = batch[:0]
}

// stillValid reports whether the share of t may be submitted now: the
// miner still mines with the same extranonce1 and extranonce2 size, its
// version bits are inside the current mask, and the hash meets the current
// difficulty too. (Clean jobs void searches when they arrive.)
func (l *loop) stillValid(m *miner, t *task) bool {
	if m.state != stMining || m.e1Len != t.e1Len || m.e1 != t.e1 || m.e2Size != t.e2Len {
		return false
	}
	if t.rolled && (!m.rolling || t.unit.bits&^m.mask != 0) {
		return false
	}
	if d := m.searchDiff(); d > t.diff {
		target, ok := stratum.SV1TargetFromDifficulty(d)
		return ok && target.Meets(&t.hash)
	}
	return true
}

// voidSearch cancels the miner's search in flight, if any: its result will
// be dropped, and the miner may start another one at once.
func (l *loop) voidSearch(m *miner) {
	if m.task != nil {
		m.task.cancel.Store(true)
		m.task = nil
		l.st.discarded++
	}
}

// sweepInterval is how often timeouts are checked.
func (l *loop) sweepInterval() time.Duration {
	return min(maxSweepInterval, max(minSweepInterval, l.s.cfg.Timeout/4))
}

// sweep closes miners whose connect or handshake timed out and forgets
// submits that were never answered.
func (l *loop) sweep(now int64) {
	limit := int64(l.s.cfg.Timeout)
	for k := range l.miners {
		m := &l.miners[k]
		switch m.state {
		case stConnecting:
			if now-m.since > limit {
				l.fail(m, k, "timeout: connect")
			}
		case stConfiguring, stSubscribing, stAuthorizing:
			if now-m.since > limit {
				l.fail(m, k, "timeout: login")
			}
		case stMining:
			for i := range m.pend {
				if p := &m.pend[i]; p.id != 0 && now-p.at > limit {
					*p = pending{}
					l.countError("timeout: submit", nil, k)
				}
			}
		}
	}
}

// countError counts one error of kind prefix+detail (detail is sanitised
// network text, may be nil) for miner slot k.
func (l *loop) countError(prefix string, detail []byte, k int) {
	l.dirty = true
	l.scratch = append(l.scratch[:0], prefix...)
	for i, c := range detail {
		if i == 80 {
			l.scratch = append(l.scratch, "..."...)
			break
		}
		if c < 0x20 || c == 0x7f {
			c = '?'
		}
		l.scratch = append(l.scratch, c)
	}
	if p := l.st.errors[string(l.scratch)]; p != nil {
		*p++
		return
	}
	key := string(l.scratch)
	if len(l.st.errors) >= maxErrorKinds {
		key = "other"
		if p := l.st.errors[key]; p != nil {
			*p++
			return
		}
	}
	one := int64(1)
	l.st.errors[key] = &one
	l.logs = append(l.logs, fmt.Sprintf("sv1swarm: miner %d: %s (first of its kind in loop %d)", l.globalIndex(k), key, l.idx))
}

// shutdown closes every miner socket and voids every search; the loop
// goroutine's last act.
func (l *loop) shutdown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.miners {
		m := &l.miners[k]
		if m.task != nil {
			m.task.cancel.Store(true)
			m.task = nil
		}
		if m.fd >= 0 {
			_ = unix.Close(int(m.fd))
			m.fd = -1
		}
	}
	l.st.waiting, l.st.connecting, l.st.connected, l.st.subscribed, l.st.authorized = 0, 0, 0, 0, 0
	l.ready = l.ready[:0]
	l.waitList = l.waitList[:0]
}
