//go:build linux

package swarm

import (
	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/bench/internal/evloop"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// loop is the XMRig protocol side of one event loop (an evloop.Handler):
// miners[k] is the state of the loop's connection slot k. Every method runs
// on the loop goroutine with the loop lock held.
type loop struct {
	s      *Swarm
	ev     *evloop.Loop
	miners []miner

	wbuf   []byte
	parser fastjson.Parser
	msg    stratum.PoolMessage
	login  stratum.PoolLogin
	algos  [][]byte
	jobs   jobTable // guarded by the loop lock (Stats reads it)
}

func newLoop(s *Swarm, ev *evloop.Loop) *loop {
	return &loop{
		s: s, ev: ev,
		miners: make([]miner, ev.Slots()),
		login: stratum.PoolLogin{
			Login: s.cfg.Login, Pass: s.cfg.Pass, Agent: s.cfg.Agent, Algos: s.cfg.Algos,
		},
	}
}

// Connected sends the login; login latency and timeout count from now.
func (l *loop) Connected(k int, now int64) {
	l.ev.StartClock(k, now)
	l.sendLogin(k)
}

// Line handles one line from the proxy.
func (l *loop) Line(k int, line []byte, ts, _ int64) { l.handleLine(k, line, ts) }

// Work submits one share for the miner's current job, unless its NiceHash
// partition is used up.
func (l *loop) Work(k int, now int64) evloop.Work {
	m := &l.miners[k]
	if nonceExhausted(m.nicehash, m.nonce) {
		return evloop.WorkSkipped
	}
	l.submit(m, k, now)
	return evloop.WorkDone
}

// Dropped forgets the miner's session and job.
func (l *loop) Dropped(k int) { l.miners[k] = miner{} }

// Pass has nothing to do: shares are sent by Work.
func (l *loop) Pass(int64) {}

// Shutdown has nothing to release.
func (l *loop) Shutdown() {}
