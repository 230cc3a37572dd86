package reactor

import (
	"context"
	"net"
	"os"
	"slices"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Sliced fan-out. A pool job reaches a shared session's miners (NiceHash:
// up to 256, SV1 aggregate: thousands) one write(2) each, and a shard
// holds many sessions that often get a job at the same moment. Written
// in one go, thousands of writes would keep the loop from reading the
// miners' submits for tens of milliseconds. Instead a job only queues its
// session; the shard writes at most fanSliceSize jobs per slice across
// the queued sessions, then yields to the event loop, which serves
// whatever became readable (submits, pool answers) before the next slice.
//
// How the loop is given back: gnet drains its task queue (Execute, Wake)
// to empty within one round, so a slice continued from a task would run
// before any readiness event. Readiness events, though, are served
// between epoll_wait rounds. The shard owns a socketpair whose two ends
// are enrolled in its loop; a slice ends by writing one byte on one end,
// and the other end's OnTraffic, a readiness event of the next round,
// runs the next slice, after the miners that became readable during the
// slice (fanWaker says why the ends alternate;
// TestFanout_SubmitBetweenSlices_Good proves the order).
//
// Rules: the miners of a session are visited from a start slot that
// rotates per job, so no miner is always last; a miner that got the job
// another way (its login answer, a move, vardiff) is skipped by its
// jobMark; a newer job of a session restarts its fan-out (miners still
// waiting get only the newest); a closed session leaves the queue; a
// slice allocates nothing. While a fan-out runs, lines to pools are
// coalesced per pool connection and written at each slice's start
// (poolConn.write), one write per connection per slice instead of one per
// share.

// fanSliceSize is how many job writes a slice makes. Measured with the
// bench (5,000 NiceHash miners, two loops, a job every second, one run
// each on the shared two-core box; a temporary probe timed how long a
// miner read waited behind job writes): slices of 64 / 256 / 1024 writes
// gave a submit p99 of 7.2 / 8.8 / 19.5 ms (26.9 ms unsliced), a median
// wait of 1.3 / 3.5 / 10.5 ms (30 ms unsliced), the same time to the last
// miner (~36 ms) and the same CPU per share within noise. 256 keeps the
// wait near a slice of ~1.5–2 ms of writes with a quarter of 64's
// wake-ups (two syscalls per slice).
const fanSliceSize = 256

// fanout is a shard's fan-out state (loop-only).
type fanout struct {
	// q holds the sessions with a job still to write, oldest first.
	q []*mapper
	// budget is what is left of the current slice's writes; size the
	// writes per slice (fanSliceSize, at least 1; tests lower it).
	budget, size int
	// w is the shard's wake-up pair (nil without an event loop, or until
	// it is set up); kicked: a byte is on its way, the next slice will run.
	w      *fanWaker
	kicked bool
	// running guards against a fan-out started from inside a slice (a
	// miner closed by a failed write); the running slice picks it up.
	running bool
	// manual (tests): slices run only when the test calls fanSlice;
	// onSlice (tests) runs on the loop as each slice begins.
	manual  bool
	onSlice func()
	// flush lists the pool connections holding coalesced output.
	flush []*poolConn
	// stamp numbers the jobs of the shard (miner.jobMark); 0 is never used.
	stamp uint32
}

// fanCursor is a session's place in its fan-out.
type fanCursor struct {
	queued bool
	// clean: SV1 — the job goes out with clean_jobs (it replaced an
	// unfinished fan-out of a clean job, whose miners still waiting must
	// drop their work).
	clean bool
	// first is the slot the fan-out started at; pos how many slots it
	// has visited; n the table's storage when it started (slots added
	// later are logins and moves, which got the job then).
	first, pos, n uint32
}

// fanWaker is the shard's socketpair, both ends enrolled in its loop: a
// byte written on one end makes the other readable in the next epoll
// round. Kicks alternate between the ends: the end that woke the loop is
// written next, so the end woken is one that epoll does not hold in its
// ready list already (level-triggered epoll re-queues a reported socket at
// the tail of that list, ahead of the miners that become readable during
// the slice). The miners ready by the end of a slice are served before
// the next one.
type fanWaker struct {
	s    *shard
	a, b gnet.Conn
	// wr is the end the next kick is written on (nil: a).
	wr   gnet.Conn
	dead bool
}

// fanEnd is the context of one end of the pair.
type fanEnd struct {
	w   *fanWaker
	isB bool
}

var fanByte = []byte{1}

// nextStamp returns a new job stamp, unique in the shard (it wraps after
// 2^32 jobs, far beyond a miner's life on one session).
func (s *shard) nextStamp() uint32 {
	s.fan.stamp++
	if s.fan.stamp == 0 {
		s.fan.stamp = 1
	}
	return s.fan.stamp
}

// fanInit opens the shard's wake-up pair (on the loop, once). Until both
// ends are registered, fan-outs run to the end at once.
func (s *shard) fanInit() {
	if s.el == nil || s.fan.w != nil {
		return
	}
	w := &fanWaker{s: s}
	s.fan.w = w
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		w.dead = true
		s.p.log.Warn("fan-out wake-up pair unavailable; jobs go out in one go", "err", err)
		return
	}
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "fanout")
		nc, err := net.FileConn(f) // dups fd
		_ = f.Close()
		var done <-chan gnet.RegisteredResult
		if err == nil {
			// gnet dups the socket again and closes nc.
			done, err = s.el.Enroll(gnet.NewContext(context.Background(), &fanEnd{w: w, isB: i == 1}), nc)
			if err != nil {
				_ = nc.Close()
			}
		}
		if err != nil {
			for _, rest := range fds[i+1:] {
				_ = unix.Close(rest) // not wrapped yet
			}
			w.dead = true
			s.p.log.Warn("fan-out wake-up pair unavailable; jobs go out in one go", "err", err)
			return
		}
		// Registration ends on the loop; until both ends are open (a
		// failure there leaves one missing for good) jobs go out in one
		// go, which the log says.
		go func() {
			if r := <-done; r.Err != nil {
				s.p.log.Warn("fan-out wake-up pair unavailable; jobs go out in one go", "err", r.Err)
			}
		}()
	}
}

// opened records an end registered by the loop (OnOpen).
func (e *fanEnd) opened(c gnet.Conn) {
	if e.isB {
		e.w.b = c
	} else {
		e.w.a = c
	}
}

// closed records an end gone (engine stop): fan-outs then run at once.
func (e *fanEnd) closed() {
	w := e.w
	w.dead = true
	w.s.fan.kicked = false
	w.s.fanRun()
}

// traffic is an end's OnTraffic: the next slice.
func (e *fanEnd) traffic(c gnet.Conn) {
	_, _ = c.Discard(-1)
	w := e.w
	w.wr = c // the next kick wakes the other end
	w.s.fan.kicked = false
	w.s.fanSlice()
}

// kick makes the loop run the next slice after serving the events ready
// now. It reports false when it cannot (no pair), and the caller goes on.
func (s *shard) kick() bool {
	f := &s.fan
	if f.manual || f.kicked {
		return true
	}
	if f.syncOnly() {
		return false
	}
	w := f.w
	wr := w.wr
	if wr == nil {
		wr = w.a
	}
	if _, err := wr.Write(fanByte); err != nil {
		w.dead = true
		return false
	}
	f.kicked = true
	return true
}

// fanStart queues mp's current job (mp.stamp) for the miners of its
// table, from a start slot rotated per job; it replaces a fan-out of an
// older job still under way. The writes start at the next slice, in the
// loop's next round: never here, where other pool connections of the same
// round may be delivering their jobs too (written here, they would add up
// to one long stretch again). Without a way to yield, everything goes out
// now.
func (mp *mapper) fanStart() {
	s, f, c := mp.s, &mp.s.fan, &mp.fan
	n := uint32(mp.table.Stored())
	if n > 0 {
		// An odd step near n·0.618: never a multiple of n for n > 1, so
		// consecutive jobs start (and end) at different miners.
		step := uint32(uint64(n)*40503>>16) | 1
		c.first = (c.first + step) % n
	} else {
		c.first = 0
	}
	c.pos, c.n = 0, n
	if c.queued || n == 0 {
		return // the running fan-out goes on with this job; or no miners
	}
	c.queued = true
	f.q = append(f.q, mp)
	if !s.kick() {
		f.budget = f.size
		s.fanRun()
	}
}

// fanDrop takes mp out of the fan-out queue (a closed session, or one
// whose jobs were reset).
func (s *shard) fanDrop(mp *mapper) {
	if !mp.fan.queued {
		return
	}
	mp.fan.queued = false
	f := &s.fan
	if i := slices.Index(f.q, mp); i >= 0 {
		f.q = slices.Delete(f.q, i, i+1)
	}
	if len(f.q) == 0 {
		s.fanFlush()
	}
}

// fanSlice runs one slice: the pool lines coalesced since the last one go
// out first, then up to a slice's worth of jobs.
func (s *shard) fanSlice() {
	f := &s.fan
	if f.onSlice != nil {
		f.onSlice()
	}
	s.fanFlush()
	f.budget = f.size
	s.fanRun()
}

// fanRun writes jobs from the queue until the slice's budget is spent,
// then asks for the next slice (or, with no way to yield, goes on).
func (s *shard) fanRun() {
	f := &s.fan
	if f.running {
		return
	}
	f.running = true
	for len(f.q) > 0 {
		for len(f.q) > 0 && f.budget > 0 {
			mp := f.q[0]
			if mp.fanStep(&f.budget) && len(f.q) > 0 && f.q[0] == mp {
				mp.fan.queued = false
				f.q = slices.Delete(f.q, 0, 1)
			}
		}
		if len(f.q) == 0 || s.kick() {
			break
		}
		f.budget = f.size // no way to yield: go on
	}
	f.running = false
	if len(f.q) == 0 {
		s.fanFlush()
	}
}

// fanStep writes mp's job to the next miners of its fan-out, taking one
// from budget per write; it reports whether the fan-out is complete.
func (mp *mapper) fanStep(budget *int) bool {
	c := &mp.fan
	stamp := mp.stamp
	for c.pos < c.n && *budget > 0 {
		if mp.state == mapperClosed || !c.queued || mp.table == nil {
			return true
		}
		slot := c.first + c.pos
		if slot >= c.n {
			slot -= c.n
		}
		c.pos++
		m := mp.table.Owner(slot)
		if m == nil || m.jobMark == stamp {
			continue
		}
		*budget--
		mp.sendJob(slot, m)
		if mp.stamp != stamp {
			return false // a newer job restarted the fan-out
		}
	}
	return c.pos >= c.n
}

// fanBusy reports whether a fan-out is under way: pool lines are then
// coalesced until the next slice.
func (s *shard) fanBusy() bool { return len(s.fan.q) > 0 && !s.fan.syncOnly() }

// syncOnly reports whether the shard cannot yield between slices (no
// event loop, or no wake-up pair): a fan-out then completes at once.
func (f *fanout) syncOnly() bool {
	if f.manual {
		return false
	}
	w := f.w
	return w == nil || w.dead || w.a == nil || w.b == nil
}

// fanFlush writes the pool lines coalesced during the fan-out, one write
// per pool connection.
func (s *shard) fanFlush() {
	f := &s.fan
	for i := 0; i < len(f.flush); i++ {
		pc := f.flush[i]
		f.flush[i] = nil
		pc.flushCoalesced()
	}
	f.flush = f.flush[:0]
}
