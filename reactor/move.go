package reactor

import (
	"encoding/binary"

	"forge.lthn.ai/core/go-proxy/nonce"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// Moving a miner to another routing target never disconnects it (but an
// SV1 miner that cannot be told a new extranonce, which is asked to
// reconnect and lands on its planned target when it comes back).
//
// CryptoNote: the miner takes a slot on a session of the new target and
// gets that session's job with its new NiceHash byte (its old byte stays
// dead on the old session until that session's next job, as when a miner
// leaves). A share it found for the old job and sends after the move goes
// to the old session's pool, which answers it, as long as that session
// lives and the job is in its window; once it is gone, the share is
// answered here as an invalid job (counted). Never lost, never unanswered.
//
// SV1 aggregate: a miner that subscribed to extranonce changes gets
// mining.set_extranonce with its prefix on the new session, the
// difficulty and that session's newest job as a clean job; a share for
// the old session's job still in flight goes to the old session. The
// others get client.reconnect; their plan (route, target and measured
// hashrate) is kept for a minute under their session id, which the
// resubscribe of cgminer-based firmware carries.

// moveMiner moves m to target t. It reports whether m moved (or was
// asked to reconnect to land there); false when no session of t has room
// now (one is opened for next time when allowed).
func (s *shard) moveMiner(m *miner, t *target) bool {
	if m.family == FamilySV1 {
		return s.moveSV1(m, t)
	}
	return s.moveCN(m, t)
}

// moveCN moves a CryptoNote miner to a session of t.
func (s *shard) moveCN(m *miner, t *target) bool {
	old, oldSlot := m.mp, m.fixed
	if old == nil || m.held {
		return false
	}
	mp := s.routeCN(m, t) // on success m.mp and m.fixed are the new place
	if mp == nil {
		return false
	}
	old.release(m, oldSlot)
	m.prev, m.prevFixed = old, oldSlot
	s.setTarget(m, t)
	m.movedAt = uint32(s.now)
	if mp.hasJob && mp.state == mapperActive {
		mp.sendJob(m.fixed, m)
		if m.state == stateReady {
			s.workerMapper(m, mp)
		}
	}
	// Otherwise the session's first job reaches m with everyone else's.
	return true
}

// moveSV1 moves an aggregate SV1 miner to a session of t.
func (s *shard) moveSV1(m *miner, t *target) bool {
	sv := m.sv
	if sv.queued {
		s.setTarget(m, t) // not placed yet: it waits for t instead
		m.movedAt = uint32(s.now)
		s.sv1Drain()
		return true
	}
	old := m.mp
	if old == nil || old.kind != kindSV1Agg || m.held {
		return false
	}
	if !sv.xsub {
		s.p.router.plans.put(planKey(m.sessionID()), routePlan{family: FamilySV1, route: t.route.name, target: t.name, meter: m.meter}, s.now)
		s.setTarget(m, t)
		m.movedAt = uint32(s.now)
		m.sv1Reconnect()
		return true
	}
	oldSlot, oldTgt := m.fixed, m.tgt
	m.tgt = t // sv1Room looks for a session of m's target
	mp := s.sv1Room(m)
	m.tgt = oldTgt
	if mp == nil {
		if !s.sv1Connecting(t) && s.canOpen(FamilySV1, t) && s.p.reserveUpstream() {
			s.newMapper(FamilySV1, kindSV1Agg, t) // ready for the next round
		}
		return false
	}
	// sv1Room put m on mp (m.mp, m.fixed) and set its extranonce.
	old.release(m, oldSlot)
	m.prev, m.prevFixed = old, oldSlot
	s.setTarget(m, t)
	m.movedAt = uint32(s.now)
	s.out = stratum.AppendSV1SetExtranonce(s.out[:0], sv.e1[:sv.e1n], sv.e2size)
	m.send(s.out)
	if m.state == stateReady && len(mp.sv.jobs) > 0 {
		sv.diff = m.sv1Difficulty(mp)
		s.out = stratum.AppendSV1SetDifficulty(s.out[:0], sv.diff)
		m.send(s.out)
		m.send(mp.sv.lineClean)
		m.jobMark = mp.stamp
		s.workerMapper(m, mp)
	} else if m.state == stateReady {
		m.state = stateWaitReady // its next job comes with the session's first
		m.deadline = s.now + int64(s.cfg.IdleTimeout)
	} else if m.state == stateWaitReady && sv.authorized {
		m.sv1Start() // now, if the new session has a job
	}
	return true
}

// cnShareSession picks the session a CryptoNote share belongs to: the
// miner's, or the one it left at its last move when the share is for that
// session's job (its job id is not the current session's, or its nonce
// carries the old NiceHash byte). It returns the session, the miner's
// slot there and the job's place in that session's window.
func (m *miner) cnShareSession(jobID, nonceHex []byte) (mp *mapper, slot uint32, js nonce.JobState) {
	mp, slot = m.mp, m.fixed
	js = mp.jobs.Check(jobID)
	p := m.prev
	if p == nil || p.state == mapperClosed {
		return mp, slot, js
	}
	pjs := p.jobs.Check(jobID)
	if pjs != nonce.JobCurrent && pjs != nonce.JobPrevious {
		return mp, slot, js
	}
	known := js == nonce.JobCurrent || js == nonce.JobPrevious
	oldByte := p.kind == kindNiceHash && stratum.NonceFixedByte(nonceHex) == byte(m.prevFixed) &&
		(mp.kind != kindNiceHash || stratum.NonceFixedByte(nonceHex) != byte(m.fixed))
	if !known || oldByte {
		return p, m.prevFixed, pjs
	}
	return mp, slot, js
}

// sv1ShareSession picks the session an SV1 share belongs to: the miner's,
// or the one it left at its last move when only that one knows the job.
// On each, a job id the session does not know is also looked up among the
// variants (the job re-sent with the miner's vardiff difficulty, which
// rewrites sub.JobID to its base). It returns the session, the job, whether
// it is the job a clean job replaced, the variant, and the miner's
// extranonce1 and extranonce2 size there (e1 in shard scratch, valid for
// the current share).
func (m *miner) sv1ShareSession(sub *stratum.SV1Submit) (mp *mapper, job *sv1Job, expired bool, variant uint8, e1 []byte, e2size int) {
	sv := m.sv
	mp = m.mp
	job, expired = mp.sv1FindJob(sub.JobID)
	if job == nil && m.vd != nil {
		job, expired, variant = m.vdFindJobSV1(mp, sub)
	}
	if job != nil || m.prev == nil || m.prev.state == mapperClosed || m.prev.sv == nil || !m.prev.sv.hasSession {
		return mp, job, expired, variant, sv.e1[:sv.e1n], sv.e2size
	}
	p := m.prev
	pj, pexp := p.sv1FindJob(sub.JobID)
	if pj == nil && m.vd != nil {
		pj, pexp, variant = m.vdFindJobSV1(p, sub)
	}
	if pj == nil {
		return mp, nil, false, 0, sv.e1[:sv.e1n], sv.e2size
	}
	up := p.sv
	b := append(m.s.rt.e1[:0], up.e1...)
	var pre [4]byte
	binary.BigEndian.PutUint32(pre[:], m.prevFixed)
	b = append(b, pre[4-up.k:]...)
	return p, pj, pexp, variant, b, up.n - up.k
}

// planKey is the key of a session's plan. The control character keeps it
// apart from the reroute markers (a miner's session id is a token, which
// has none).
func planKey(session []byte) string { return "s\x00" + string(session) }

// sv1Planned returns the target planned for a miner that resubscribes
// with the session id a rebalance gave it before asking it to reconnect
// (nil: none), and gives it back its measured hashrate.
func (s *shard) sv1Planned(m *miner, session []byte) *target {
	if len(session) == 0 {
		return nil
	}
	pl, ok := s.p.router.plans.take(planKey(session), s.now)
	if !ok {
		return nil
	}
	t := s.table.find(FamilySV1, pl.route, pl.target)
	if t != nil {
		m.meter = pl.meter
	}
	return t
}

// sv1Reroute runs at mining.authorize, once the worker name is known: a
// miner placed by its port on a route that a worker pattern says is not
// its own moves to its route (a miner without extranonce updates is asked
// to reconnect, at most once a minute per address and worker name: one
// whose resubscribe does not carry its session id stays where its port
// put it).
func (m *miner) sv1Reroute() {
	s, sv := m.s, m.sv
	if m.tgt == nil {
		return
	}
	r := s.table.match(FamilySV1, m.bind.port, m.routeWorker(sv.worker), true)
	if r == nil || r == m.tgt.route {
		return
	}
	dest := s.place(r)
	if dest == nil {
		return
	}
	if !sv.xsub && !sv.queued {
		key := "w\x00" + m.addr.Addr().String() + "\x00" + m.routeWorker(sv.worker)
		if _, again := s.p.router.plans.take(key, s.now); again {
			return
		}
		s.p.router.plans.put(key, routePlan{}, s.now)
	}
	if s.moveMiner(m, dest) {
		r.moves.Add(1)
		return
	}
	// No session of dest has room yet (one is opening): the sweep moves m
	// once there is.
	s.setTarget(m, dest)
	s.rt.fix = true
}
