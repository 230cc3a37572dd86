//go:build linux

package sv1swarm

import (
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/bench/internal/evloop"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// queueRetry is how soon a loop whose search was refused by a full queue
// (the workers are saturated) tries again.
const queueRetry = 5 * time.Millisecond

// loopStats is what Stats reads beyond evloop.Tally; guarded by the loop
// lock.
type loopStats struct {
	subscribed int

	diffChanges, e1Changes, maskChanges int64
	rollingGranted, xsubGranted         int64
	searches, hashes, discarded         int64
	rejectedByCode                      map[int]int64
}

// loop is the stratum v1 protocol side of one event loop (an
// evloop.Handler): miners[k] is the state of the loop's connection slot k.
// Its Handler methods run on the loop goroutine with the loop lock held.
// The inbox (finished searches) is guarded by inMu and may be appended to
// by any worker.
type loop struct {
	s      *Swarm
	ev     *evloop.Loop
	miners []miner

	wbuf   []byte
	hexbuf []byte // submit fields
	parser fastjson.Parser
	msg    stratum.SV1PoolMessage

	inMu   sync.Mutex
	inbox  []*task
	inbox2 []*task // the other buffer, swapped with inbox by the loop

	st   loopStats // guarded by the loop lock
	jobs jobTable  // likewise (Stats reads it)
}

func newLoop(s *Swarm, ev *evloop.Loop) *loop {
	return &loop{
		s: s, ev: ev,
		miners: make([]miner, ev.Slots()),
		st:     loopStats{rejectedByCode: make(map[int]int64)},
	}
}

// post hands a finished search back to the loop (taskSink). Called by
// workers.
func (l *loop) post(t *task) {
	l.inMu.Lock()
	l.inbox = append(l.inbox, t)
	first := len(l.inbox) == 1
	l.inMu.Unlock()
	if first {
		l.ev.Wake()
	}
}

// Connected starts the handshake: mining.configure when version rolling
// is wanted, else mining.subscribe. Login latency and timeout count from
// the start of the connect.
func (l *loop) Connected(k int, _ int64) {
	m := &l.miners[k]
	cfg := &l.s.cfg
	if cfg.VersionRolling {
		m.state = stConfiguring
		l.wbuf = stratum.AppendSV1PoolConfigure(l.wbuf[:0], idConfigure, cfg.VersionMask, versionMinBitCount)
		l.ev.Write(k, l.wbuf)
		return
	}
	l.sendSubscribe(m, k)
}

// Line handles one line from the upstream.
func (l *loop) Line(k int, line []byte, ts, now int64) { l.handleLine(k, line, ts, now) }

// Work hands a search for the miner to the workers.
func (l *loop) Work(k int, _ int64) evloop.Work {
	m := &l.miners[k]
	if !m.canSearch() {
		return evloop.WorkSkipped
	}
	t := &task{
		sink: l, slot: int32(k), job: m.job,
		e1: m.e1, e1Len: m.e1Len, e2Len: m.e2Size,
		rolled: m.rolling, diff: m.searchDiff(),
	}
	if m.rolling {
		t.mask = m.mask
	}
	t.unit = unitOf(m.searches, int(m.e2Size), t.mask)
	t.ntime = m.job.bin.NTime
	if !l.s.searcher.offer(t) {
		return evloop.WorkBusy
	}
	m.searches++
	m.task = t
	return evloop.WorkDone
}

// Dropped voids the miner's search and resets it, keeping its search
// counter.
func (l *loop) Dropped(k int) {
	m := &l.miners[k]
	if m.state == stAuthorizing || m.state == stMining {
		l.st.subscribed--
	}
	l.voidSearch(m)
	*m = miner{searches: m.searches}
}

// Pass takes the finished searches.
func (l *loop) Pass(now int64) { l.drainInbox(now) }

// Shutdown cancels every search.
func (l *loop) Shutdown() {
	for k := range l.miners {
		if m := &l.miners[k]; m.task != nil {
			m.task.cancel.Store(true)
			m.task = nil
		}
	}
	l.st.subscribed = 0
}

// drainInbox takes the finished searches: submits the shares that are
// still valid, drops the others.
func (l *loop) drainInbox(now int64) {
	l.inMu.Lock()
	batch := l.inbox
	l.inbox = l.inbox2[:0]
	l.inMu.Unlock()
	if len(batch) > 0 {
		l.ev.MarkDirty()
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
		l.submit(int(t.slot), t, now)
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
