package reactor

import (
	"time"
)

// Failover and probes, the mapper's side of upstream.Failover: logging a
// move to another pool of the list, reporting the session's health once a
// second, probing the pools before the one in use and moving the session
// back to one that stayed healthy.

// failedOver logs a move of the session to another pool of its list.
func (mp *mapper) failedOver(prev, next int) {
	if prev == next {
		mp.s.p.log.Debug("pool retry", "pool", mp.pools[next].URL, "mapper", mp.id)
		return
	}
	mp.redirect = nil // a redirect belongs to the pool that asked for it
	mp.s.p.log.Warn("pool failed; switching to the next pool", "from", mp.pools[prev].URL, "to", mp.pools[next].URL, "mapper", mp.id)
}

// observe reports the health of the session and of a probe to the
// failover strategy once a second, moves the session to a probe that has
// been healthy for the stability period, and starts a probe when one is
// due.
func (mp *mapper) observe(mn int64) {
	now, limit := time.Duration(mn), mp.s.cfg.submitTimeout()
	if pc := mp.conn; pc != nil && !pc.dead && pc.activeAt != 0 {
		if mp.fo.Observe(now, pc.healthy(mn, limit)) {
			mp.s.p.log.Debug("pool session stable", "pool", pc.pool.URL, "mapper", mp.id)
		}
	}
	switch pc := mp.pending; {
	case pc == nil:
		if mp.state == mapperActive {
			if i, ok := mp.fo.ProbeDue(now); ok {
				mp.dialProbe(i)
			}
		}
	case pc.probe && !pc.dead && pc.activeAt != 0:
		if mp.fo.ProbeObserve(now, pc.healthy(mn, limit)) {
			mp.probeTakeOver(pc)
		}
	}
}

// healthy reports whether the pool is doing its job on pc: logged in, it
// has sent work, and it has not owed an answer (to a submit, the login, a
// keepalived) for longer than limit.
func (pc *poolConn) healthy(mn int64, limit time.Duration) bool {
	return pc.proto != nil && pc.proto.Ready() && pc.gotJob && !pc.proto.Stalled(mn, int64(limit))
}

// dialProbe starts a probe of pool i: a connection of its own that logs in
// while the miners stay on the current pool.
func (mp *mapper) dialProbe(i int) {
	pool := mp.pools[i]
	pc := &poolConn{mp: mp, pool: pool, entry: pool, probe: true}
	mp.pending, mp.pendingIdx = pc, i
	mp.s.p.log.Debug("probing pool", "pool", pool.URL, "mapper", mp.id)
	mp.s.p.dial(mp.s, pc)
}

// probeFailed moves on to the next higher-priority pool to probe, if any.
func (mp *mapper) probeFailed() {
	if i, ok := mp.fo.ProbeFailed(time.Duration(mono())); ok {
		mp.dialProbe(i)
	}
}

// cancelProbe closes a probe in progress (the session it would replace
// failed; failover decides what comes next).
func (mp *mapper) cancelProbe() {
	pc := mp.pending
	if pc == nil || !pc.probe {
		return
	}
	mp.pending = nil
	pc.dead = true
	pc.conn.close()
}

// probeTakeOver moves the session to a probe that stayed healthy for the
// stability period: the miners get its work without reconnecting, and the
// old connection retires once its submits are answered.
func (mp *mapper) probeTakeOver(pc *poolConn) {
	from := ""
	if mp.conn != nil {
		from = mp.conn.pool.URL
	}
	mp.swapTo(pc)
	mp.state = mapperActive
	mp.s.fc[mp.family].PoolConnects++
	mp.s.p.log.Info("pool healthy again; moving the session back to it", "pool", pc.pool.URL, "from", from, "mapper", mp.id, "shard", mp.s.idx)
	if pc.sv != nil {
		sv := pc.sv
		mp.sv1Session(pc, sv.Extranonce1(), sv.Extranonce2Size(), sv.VersionMask(), sv.Difficulty())
		if j, ok := sv.LastJob(); ok {
			j.CleanJobs = true // work from the old session is void
			mp.sv1SetJob(&j)
		}
		return
	}
	mp.setJob(&pc.lastJob, false)
}
