package reactor

import (
	"strings"

	"forge.lthn.ai/core/go-proxy/nonce"
	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// defaultVersionMask is what go-proxy asks SV1 pools for: BIP320's
// general-purpose bits, the widest mask miners use.
const defaultVersionMask = 0x1fffe000

// maxSV1Jobs bounds the jobs an SV1 session keeps valid between clean jobs.
const maxSV1Jobs = 8

// sv1Up is the SV1 part of a mapper: what the pool gave this session and
// how it is split between miners.
type sv1Up struct {
	// hasSession: a pool session has given e1 and n (e1 may be empty).
	hasSession bool
	e1         []byte // the pool's extranonce1
	n          int    // the pool's extranonce2 size
	k          int    // prefix bytes per miner (0: one miner per session)
	mask       uint32 // version-rolling mask granted by the pool (0: none)

	diff   float64 // pool share difficulty in force
	target stratum.SV1Target
	jobs   []*sv1Job // valid jobs, newest last
	// replaced is the newest job before the last clean job: its shares are
	// still forwarded (the pool decides) and counted as expired.
	replaced *sv1Job
	// seen is the duplicate check (duplicate.go): the current window
	// holds the shares of jobs, the previous one those of replaced.
	seen nonce.Seen[sv1ShareKey]
	// line and lineClean are the newest job's mining.notify, with the
	// pool's clean flag and forced clean (for miners joining).
	line, lineClean []byte

	pow     stratum.SV1Algo // the proof of work: the proxy checks shares when Hashable
	algo    string          // algorithm label ("sha256d", "scrypt", ...)
	divider float64         // hashrate divider of the algorithm
}

// sv1Job is one pool job with what a share check needs.
type sv1Job struct {
	job    stratum.SV1Job
	bin    *stratum.SV1JobBinary
	diff   float64 // pool difficulty when the job was issued
	target stratum.SV1Target
	seq    uint32 // the session's job count when it arrived (share keys)
}

// sv1Login is the handshake of an SV1 pool connection.
func (mp *mapper) sv1Login(pc *poolConn) upstream.SV1Login {
	return upstream.SV1Login{
		User: pc.pool.User, Pass: pc.pool.Pass, Agent: mp.s.cfg.UserAgent,
		VersionMask: defaultVersionMask, ExtranonceSubscribe: true,
	}
}

// prefixBytes chooses the extranonce prefix width k for an extranonce2 of n
// bytes: 4 if n ≥ 8, 2 if n ≥ 6, 1 if n ≥ 4, else 0 (no splitting: one
// miner per pool session); miners always keep at least 2 bytes. A
// configured width is used when it leaves them 2 bytes.
func prefixBytes(n, override int) int {
	if override > 0 && n-override >= 2 {
		return override
	}
	switch {
	case n >= 8:
		return 4
	case n >= 6:
		return 2
	case n >= 4:
		return 1
	}
	return 0
}

// algoInfo returns an SV1 pool's proof of work (the proxy checks shares of
// the sha256d and scrypt ones), its label and its hashrate divider (hashes
// per difficulty-1 share = 2^32 / divider).
func algoInfo(algo string) (pow stratum.SV1Algo, label string, divider float64) {
	pow = stratum.ParseSV1Algo(algo)
	label = pow.String()
	if pow == stratum.SV1AlgoOther {
		label = strings.ToLower(algo)
	}
	return pow, label, pow.Divider()
}

// handleLineSV1 is an SV1 pool's line (loop-only).
func (pc *poolConn) handleLineSV1(line []byte) bool {
	mp, s := pc.mp, pc.mp.s
	var ev upstream.SV1Event[submitTag]
	if err := pc.sv.Handle(&s.parser, line, mono(), &ev); err != nil {
		return pc.handleError(err)
	}
	switch ev.Kind {
	case upstream.SV1Ready:
		pc.gotJob = pc.gotJob || ev.HasJob
		if pc.loggedIn() {
			mp.sv1Session(pc, ev.Extranonce1, ev.Size, ev.VersionMask, ev.Difficulty)
			if ev.HasJob {
				mp.sv1SetJob(&ev.Job)
			}
		}
	case upstream.SV1Job:
		pc.gotJob = true
		if pc == mp.conn {
			mp.sv1SetJob(&ev.Job)
		}
	case upstream.SV1Difficulty:
		if pc == mp.conn {
			mp.sv1SetDifficulty(ev.Difficulty)
		}
	case upstream.SV1Extranonce:
		if pc == mp.conn {
			mp.sv1Session(pc, ev.Extranonce1, ev.Size, pc.sv.VersionMask(), mp.sv.diff)
		}
	case upstream.SV1VersionMask:
		if pc == mp.conn {
			mp.sv1SetMask(ev.VersionMask)
		}
	case upstream.SV1Result:
		mp.onResultSV1(&ev)
		pc.closeIfRetired()
		mp.resumeIfDrained()
	case upstream.SV1Reconnect:
		if pc != mp.conn {
			return true
		}
		pc.reconnectRequested(ev.Host, ev.Port, ev.Wait)
		return false
	}
	return true
}

// sv1Session installs the extranonce of a (new) pool session. Miners keep
// their prefixes when the width allows; those that subscribed to
// extranonce updates are told their new extranonce1, the others are asked
// to reconnect — nobody keeps mining on a dead extranonce.
func (mp *mapper) sv1Session(pc *poolConn, e1 []byte, n int, mask uint32, diff float64) {
	s, sv := mp.s, mp.sv
	k := prefixBytes(n, s.cfg.SV1PrefixBytes)
	if mp.kind == kindSV1Pass {
		k = 0
	}
	widthChanged := sv.hasSession && k != sv.k
	sv.e1 = append(sv.e1[:0], e1...)
	sv.hasSession = true
	sv.n, sv.k = n, k
	sv.jobs = sv.jobs[:0]
	sv.replaced = nil
	mp.turnShares(false)
	sv.line, sv.lineClean = sv.line[:0], sv.lineClean[:0]
	s.fanDrop(mp) // its job is gone: the session's next job starts anew
	if widthChanged || mp.table == nil {
		old := mp.table
		mp.table = nonce.NewTable[miner](uint64(1) << (8 * uint(k)))
		if old != nil {
			old.Each(func(_ uint32, m *miner) { m.sv1Reconnect() })
		}
	}
	mp.state = mapperActive
	mp.sv1SetDifficulty(diff)
	mp.sv1SetMask(mask)
	if !widthChanged {
		mp.table.Each(func(slot uint32, m *miner) { m.sv1Align(mp, slot) })
	}
	s.sv1Drain()
}

// sv1SetDifficulty records the pool's difficulty; miners get it with the
// next job.
func (mp *mapper) sv1SetDifficulty(d float64) {
	sv := mp.sv
	if d <= 0 || d == sv.diff {
		return
	}
	t, ok := sv.pow.TargetFromDifficulty(d)
	if !ok {
		return
	}
	sv.diff, sv.target = d, t
}

// sv1SetMask relays a changed version-rolling mask to the miners.
func (mp *mapper) sv1SetMask(mask uint32) {
	if mask == mp.sv.mask {
		return
	}
	mp.sv.mask = mask
	if mp.table != nil {
		mp.table.Each(func(_ uint32, m *miner) { m.sv1MaskChanged(mask) })
	}
}

// sv1SetJob installs a pool job and sends it to every miner of the session.
func (mp *mapper) sv1SetJob(j *stratum.SV1Job) {
	s, sv := mp.s, mp.sv
	bin, err := j.Binary()
	if err != nil {
		s.p.warnLimited("unusable job from pool", "err", err)
		return
	}
	e := &sv1Job{job: *j, bin: bin, diff: sv.diff, target: sv.target, seq: uint32(mp.jobSeq + 1)}
	if j.CleanJobs {
		sv.replaced = nil
		if n := len(sv.jobs); n > 0 {
			sv.replaced = sv.jobs[n-1]
		}
		mp.turnShares(true)
		clear(sv.jobs)
		sv.jobs = sv.jobs[:0]
		if mp.table != nil {
			mp.table.Release()
		}
	} else if len(sv.jobs) >= maxSV1Jobs {
		copy(sv.jobs, sv.jobs[1:])
		sv.jobs = sv.jobs[:len(sv.jobs)-1]
	}
	sv.jobs = append(sv.jobs, e)
	sv.line = stratum.AppendSV1Notify(sv.line[:0], j, j.CleanJobs)
	sv.lineClean = stratum.AppendSV1Notify(sv.lineClean[:0], j, true)
	mp.hasJob = true
	mp.jobSeq++
	mp.stamp = s.nextStamp()
	mp.job.Algo = sv.algo
	// Miners still waiting for an unfinished fan-out of a clean job must
	// drop their work: the newest job goes out clean then.
	mp.fan.clean = j.CleanJobs || (mp.fan.queued && mp.fan.clean)
	if mp.table != nil {
		mp.fanStart() // in slices (fanout.go)
	}
}

// sv1FindJob returns the job a share names, or nil: one of the jobs since
// the last clean job, or (expired) the job that clean job replaced, which
// the pool may still accept.
func (mp *mapper) sv1FindJob(id []byte) (job *sv1Job, expired bool) {
	for i := len(mp.sv.jobs) - 1; i >= 0; i-- {
		if mp.sv.jobs[i].job.JobID == string(id) {
			return mp.sv.jobs[i], false
		}
	}
	if r := mp.sv.replaced; r != nil && r.job.JobID == string(id) {
		return r, true
	}
	return nil, false
}

// onResultSV1 routes an SV1 pool's answer to the miner.
func (mp *mapper) onResultSV1(ev *upstream.SV1Event[submitTag]) {
	s := mp.s
	t := &ev.Pending.Tag
	m := t.m
	alive := m.state == stateReady
	if ev.Accepted {
		if t.expired {
			s.fc[m.family].Expired++
		}
		lat := mono() - ev.Pending.Sent
		s.recordAccept(m, t.diff, t.hashes, t.actual, durationNs(lat))
		s.credit(m, mp, t.hashes)
		if alive {
			s.out = stratum.AppendSV1BoolReply(s.out[:0], &t.id, true)
			m.send(s.out)
		}
		if h := s.p.hooks.OnAccept; h != nil {
			e := m.shareEvent()
			e.Diff = uint64(t.diff)
			e.Actual = t.actual
			e.Latency = durationNs(lat)
			e.Expired = t.expired
			h(e)
		}
		return
	}
	s.fc[m.family].Rejected++
	s.workerRejected(m)
	if alive {
		code := ev.Code
		if code == 0 {
			code = stratum.SV1CodeOther
		}
		s.out = stratum.AppendSV1ErrorReply(s.out[:0], &t.id, &stratum.SV1Error{Code: code, Message: b2s(ev.Message)})
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
