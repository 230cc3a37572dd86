package reactor

import (
	"time"

	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// The CryptoNote side of a mapper: pool lines, jobs to miners, shares to
// the pool and answers back.

// handleLine is the pool's line (loop-only).
func (pc *poolConn) handleLine(line []byte) bool {
	mp := pc.mp
	if pc.dead || mp.state == mapperClosed || pc.proto == nil {
		return false
	}
	if pc.sv != nil {
		return pc.handleLineSV1(line)
	}
	s := mp.s
	var ev upstream.CNEvent[submitTag]
	if err := pc.cn.Handle(&s.parser, line, mono(), &ev); err != nil {
		return pc.handleError(err)
	}
	switch ev.Kind {
	case upstream.CNLogin:
		pc.gotJob = true
		if pc.loggedIn() {
			mp.setJob(&ev.Job, false)
		} else if pc.probe {
			pc.lastJob = ev.Job
		}
	case upstream.CNJob:
		pc.gotJob = true
		if pc == mp.conn {
			mp.setJob(&ev.Job, true)
		} else if pc.probe {
			pc.lastJob = ev.Job
		}
	case upstream.CNResult:
		mp.onResult(&ev)
		pc.closeIfRetired()
		mp.resumeIfDrained()
	case upstream.CNReconnect:
		if pc != mp.conn {
			return true
		}
		pc.reconnectRequested(ev.Host, ev.Port, ev.Wait)
		return false
	}
	return true
}

// setJob installs a new job and sends it to every miner of the mapper.
// sameConn says whether it came on the connection that sent the previous
// job (otherwise the previous job is forgotten).
func (mp *mapper) setJob(j *stratum.Job, sameConn bool) {
	if mp.kind == kindNiceHash && !j.SupportsNiceHash() {
		mp.s.p.warnLimited("job blob too short for nicehash mode; job dropped", "job", j.JobID, "blob_len", len(j.Blob))
		return
	}
	if sameConn {
		mp.prevDiff, mp.prevAlgo = mp.jobDiff, mp.job.Algo
	} else {
		mp.prevDiff, mp.prevAlgo = 0, ""
	}
	if !sameConn || j.JobID != mp.jobs.Current() {
		mp.turnShares(sameConn)
	}
	mp.job = *j
	mp.hasJob = true
	mp.jobDiff = j.Difficulty()
	mp.jobs.Set(j.JobID, sameConn)
	mp.jobSeq++
	mp.stamp = mp.s.nextStamp()
	if mp.state != mapperIdle {
		mp.state = mapperActive
	}
	switch mp.kind {
	case kindNiceHash:
		mp.table.Release()
		mp.fanStart() // in slices (fanout.go)
	case kindSimple:
		if mp.single != nil {
			mp.sendJob(0, mp.single)
		}
	}
}

// sendJob sends the current job to one miner: the login answer for a
// miner still waiting for its first job, a job notification otherwise.
func (mp *mapper) sendJob(_ uint32, m *miner) {
	m.jobMark = mp.stamp
	if m.family == FamilySV1 {
		m.sv1SendJob(mp)
		return
	}
	switch m.state {
	case stateWaitReady:
		id := m.loginID
		if id == nil {
			id = &stratum.NullID
		}
		m.loginID = nil
		mp.sendFirstJob(m, id)
	case stateReady:
		s := mp.s
		s.out = stratum.AppendJobNotify(s.out[:0], &mp.job, m.sessionID(), mp.jobOptions(m))
		m.send(s.out)
	}
}

// sendFirstJob answers a miner's login (request id) with its first job.
func (mp *mapper) sendFirstJob(m *miner, id *stratum.RequestID) {
	s := mp.s
	ext := stratum.ExtKeepalive
	if mp.kind == kindNiceHash {
		ext |= stratum.ExtNiceHash
	}
	if *s.cfg.AlgoExt {
		ext |= stratum.ExtAlgo
	}
	s.out = stratum.AppendLoginReply(s.out[:0], id, m.sessionID(), &mp.job, mp.jobOptions(m), ext)
	m.send(s.out)
	m.jobMark = mp.stamp
	if m.state == stateWaitReady {
		m.state = stateReady
		m.lastSeen = s.now
		s.workerMapper(m, mp)
	}
}

// jobOptions says how miner m sees the current job.
func (mp *mapper) jobOptions(m *miner) stratum.JobOptions {
	o := stratum.JobOptions{FixedByte: -1, Algo: *mp.s.cfg.AlgoExt && m.extAlgo}
	if mp.kind == kindNiceHash {
		o.FixedByte = int(m.fixed)
	}
	m.diff = mp.jobDiff
	if m.customDiff != 0 && m.customDiff < mp.jobDiff {
		o.Target = b2s(stratum.AppendTarget(mp.s.target[:0], m.customDiff))
		m.diff = m.customDiff
	}
	if d := uint64(m.vdJob(mp, float64(m.diff))); d != m.diff { // vardiff.go
		m.diff, o.Target = d, ""
		if d != mp.jobDiff {
			o.Target = b2s(stratum.AppendTarget(mp.s.target[:0], d))
		}
	}
	if m.wk != nil {
		m.wk.Difficulty = float64(m.diff)
	}
	return o
}

// submitCN forwards a validated share to the pool.
func (mp *mapper) submitCN(m *miner, req *stratum.Request, diff, actual uint64, expired bool) {
	s, pc, p := mp.s, mp.conn, &req.Params
	tag := submitTag{m: m, id: req.ID, diff: float64(diff), hashes: float64(diff), actual: actual, expired: expired}
	var evicted upstream.Pending[submitTag]
	var wasEvicted bool
	s.out, evicted, wasEvicted = pc.cn.AppendSubmit(s.out[:0], tag, p.JobID, p.Nonce, p.Result, p.Algo, mono())
	pc.write(s.out)
	if wasEvicted {
		mp.failSubmit(evicted, stratum.MsgPoolTimeout)
	}
}

// onResult routes a pool's answer to the miner that submitted the share.
func (mp *mapper) onResult(ev *upstream.CNEvent[submitTag]) {
	s := mp.s
	t := &ev.Pending.Tag
	m := t.m
	alive := m.state == stateReady
	if ev.Accepted {
		if t.expired {
			s.fc[m.family].Expired++
		}
		lat := time.Duration(mono() - ev.Pending.Sent)
		s.recordAccept(m, t.diff, t.hashes, t.actual, lat)
		s.credit(m, mp, t.hashes)
		if alive {
			s.out = stratum.AppendStatusReply(s.out[:0], &t.id, "OK")
			m.send(s.out)
		}
		if h := s.p.hooks.OnAccept; h != nil {
			e := m.shareEvent()
			e.Diff = uint64(t.diff)
			e.Actual = t.actual
			e.Latency = lat
			e.Expired = t.expired
			h(e)
		}
		return
	}
	s.fc[m.family].Rejected++
	s.workerRejected(m)
	if alive {
		s.out = stratum.AppendErrorReply(s.out[:0], &t.id, b2s(ev.Message))
		m.send(s.out)
	}
	if h := s.p.hooks.OnReject; h != nil {
		e := m.shareEvent()
		e.Diff = uint64(t.diff)
		e.Actual = t.actual
		e.Expired = t.expired
		e.Reason = string(ev.Message)
		h(e)
	}
}

func algoList(a string) []string {
	if a == "" {
		return nil
	}
	return []string{a}
}
