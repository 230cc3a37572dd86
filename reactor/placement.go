package reactor

import "forge.lthn.ai/core/go-proxy/stratum"

// Placement: which pool session of its shard serves a miner. CryptoNote
// miners take a NiceHash byte on a shared session or a simple-mode session
// of their own; SV1 miners take an extranonce prefix on an aggregate
// session, waiting in a queue while one is connecting.

// routeCN finds the pool session for a CryptoNote miner, opening a new
// one when needed and allowed; nil means the proxy is full.
func (s *shard) routeCN(m *miner) *mapper {
	if s.cnKind() == kindSimple {
		for _, mp := range s.mappers {
			if mp.family == FamilyCryptoNote && mp.kind == kindSimple && mp.reusable() && mp.addMiner(m) {
				return mp
			}
		}
		for _, mp := range s.mappers {
			// The first session of the shard is kept for the first miner.
			if mp.family == FamilyCryptoNote && mp.kind == kindSimple && mp.single == nil && mp.state != mapperIdle && mp.state != mapperClosed && mp.addMiner(m) {
				return mp
			}
		}
	} else {
		// Active sessions first, then ones still connecting.
		for pass := 0; pass < 2; pass++ {
			for _, mp := range s.mappers {
				if mp.family != FamilyCryptoNote || mp.kind != kindNiceHash || mp.state == mapperClosed {
					continue
				}
				if (pass == 0) != (mp.state == mapperActive) {
					continue
				}
				if mp.addMiner(m) {
					return mp
				}
			}
		}
	}
	if len(s.p.enabledPools(s.cfg, FamilyCryptoNote)) == 0 || !s.p.reserveUpstream() {
		return nil
	}
	mp := s.newMapper(FamilyCryptoNote, s.cnKind())
	if !mp.addMiner(m) {
		return nil
	}
	return mp
}

// firstMapper returns the shard's oldest open nicehash session of a
// family (never garbage-collected).
func (s *shard) firstMapper(f Family) *mapper {
	for _, mp := range s.mappers {
		if mp.family == f && (mp.kind == kindNiceHash || mp.kind == kindSV1Agg) && mp.state != mapperClosed {
			return mp
		}
	}
	return nil
}

// addMiner gives m a place on the mapper; false when it is full.
func (mp *mapper) addMiner(m *miner) bool {
	switch mp.kind {
	case kindNiceHash:
		slot, ok := mp.table.Add(m)
		if !ok {
			return false
		}
		m.fixed = slot
	case kindSimple:
		if mp.single != nil {
			return false
		}
		mp.single = m
		if mp.state == mapperIdle {
			mp.state = mapperActive
		}
	}
	m.mp = mp
	return true
}

// removeMiner releases m's place (its fixed byte stays dead until the
// next job).
func (mp *mapper) removeMiner(m *miner) {
	s := mp.s
	switch mp.kind {
	case kindNiceHash:
		mp.table.Remove(m.fixed, m)
		if mp.table.Len() == 0 {
			mp.emptySince = s.now
		}
	case kindSimple:
		if mp.single == m {
			mp.single = nil
			if s.cfg.ReuseTimeout > 0 && mp.state == mapperActive {
				mp.state = mapperIdle
				mp.idleSince = s.now
				mp.idleJob = mp.jobSeq
			} else {
				mp.close()
			}
		}
	case kindSV1Agg:
		if mp.table != nil {
			mp.table.Remove(m.fixed, m)
			if mp.table.Len() == 0 {
				mp.emptySince = s.now
			}
		}
	case kindSV1Pass:
		if mp.table.Remove(m.fixed, m) {
			mp.keepPassthrough(m)
		}
	}
	m.mp = nil
}

// reusable reports whether an idle simple-mode mapper may take a new
// miner: connected, and it received a job after its last miner left.
func (mp *mapper) reusable() bool {
	return mp.state == mapperIdle && mp.canSubmitIdle() && mp.jobSeq > mp.idleJob
}

func (mp *mapper) canSubmitIdle() bool {
	return mp.conn != nil && mp.conn.proto != nil && mp.conn.proto.Ready()
}

// routeSV1 places an SV1 miner on a session with a free prefix. It returns
// false when the miner must wait for a session that is still connecting
// (it is queued and answered when one is ready) and refuses it when the
// proxy is full.
func (s *shard) routeSV1(m *miner) (placed, full bool) {
	for _, mp := range s.mappers {
		if mp.family == FamilySV1 && mp.kind == kindSV1Agg && mp.state == mapperActive && mp.table != nil && mp.sv.hasSession {
			if mp.addSV1Miner(m) {
				return true, false
			}
		}
	}
	s.sv1Wait = append(s.sv1Wait, m)
	m.sv.queued = true
	for _, mp := range s.mappers {
		if mp.family == FamilySV1 && mp.kind == kindSV1Agg && mp.state != mapperActive && mp.state != mapperClosed {
			return false, false // one is connecting: it will take the queue
		}
	}
	if len(s.p.enabledPools(s.cfg, FamilySV1)) == 0 || !s.p.reserveUpstream() {
		s.dequeueSV1(m)
		return false, true
	}
	s.newMapper(FamilySV1, kindSV1Agg)
	return false, false
}

// addSV1Miner gives m a prefix on the session.
func (mp *mapper) addSV1Miner(m *miner) bool {
	slot, ok := mp.table.Add(m)
	if !ok {
		return false
	}
	m.fixed, m.mp = slot, mp
	m.sv1SetExtranonce(mp, slot)
	return true
}

// sv1Drain places queued miners on sessions that have room, opening
// another session when every ready one is full.
func (s *shard) sv1Drain() {
	for len(s.sv1Wait) > 0 {
		m := s.sv1Wait[0]
		placed := false
		for _, mp := range s.mappers {
			if mp.family == FamilySV1 && mp.kind == kindSV1Agg && mp.state == mapperActive && mp.table != nil && mp.addSV1Miner(m) {
				placed = true
				break
			}
		}
		if !placed {
			for _, mp := range s.mappers {
				if mp.family == FamilySV1 && mp.kind == kindSV1Agg && mp.state != mapperActive && mp.state != mapperClosed {
					return // wait for it
				}
			}
			if !s.p.reserveUpstream() {
				for _, w := range s.sv1Wait {
					w.sv.queued = false
					w.sv1Refuse(stratum.MsgProxyFull)
				}
				s.sv1Wait = s.sv1Wait[:0]
				return
			}
			s.newMapper(FamilySV1, kindSV1Agg)
			return
		}
		s.dequeueSV1(m)
		m.sv1Placed()
	}
}

// dequeueSV1 removes m from the wait queue.
func (s *shard) dequeueSV1(m *miner) {
	for i, w := range s.sv1Wait {
		if w == m {
			copy(s.sv1Wait[i:], s.sv1Wait[i+1:])
			s.sv1Wait[len(s.sv1Wait)-1] = nil
			s.sv1Wait = s.sv1Wait[:len(s.sv1Wait)-1]
			break
		}
	}
	m.sv.queued = false
}
