package reactor

import (
	"slices"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// Placement: which pool session of its shard serves a miner. CryptoNote
// miners take a NiceHash byte on a shared session or a simple-mode session
// of their own; SV1 miners take an extranonce prefix on an aggregate
// session, waiting in a queue while one is connecting.

// routeCN finds a pool session of target t for a CryptoNote miner,
// opening a new one when needed and allowed; nil means the proxy is full.
// A shard without a route table serves target nil.
func (s *shard) routeCN(m *miner, t *target) *mapper {
	serves := func(mp *mapper) bool { return mp.family == FamilyCryptoNote && mp.tgt == t && !mp.orphan }
	if s.cnKind() == kindSimple {
		for _, mp := range s.mappers {
			if serves(mp) && mp.kind == kindSimple && mp.reusable() && mp.addMiner(m) {
				return mp
			}
		}
		for _, mp := range s.mappers {
			// The first session of the shard is kept for the first miner.
			if serves(mp) && mp.kind == kindSimple && mp.single == nil && mp.state != mapperIdle && mp.state != mapperClosed && mp.addMiner(m) {
				return mp
			}
		}
	} else {
		// Active sessions first, then ones still connecting.
		for pass := 0; pass < 2; pass++ {
			for _, mp := range s.mappers {
				if !serves(mp) || mp.kind != kindNiceHash || mp.state == mapperClosed {
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
	if !s.canOpen(FamilyCryptoNote, t) || !s.p.reserveUpstream() {
		return nil
	}
	mp := s.newMapper(FamilyCryptoNote, s.cnKind(), t)
	if !mp.addMiner(m) {
		return nil
	}
	return mp
}

// canOpen reports whether a session of target t (nil: the family's
// enabled pools) has a pool to dial.
func (s *shard) canOpen(f Family, t *target) bool {
	if t != nil {
		return len(t.pools) > 0
	}
	return len(s.p.enabledPools(s.cfg, f)) > 0
}

// firstMapper returns the shard's oldest open shared session (nicehash,
// SV1 aggregate) of a family and target, which is never
// garbage-collected.
func (s *shard) firstMapper(f Family, t *target) *mapper {
	for _, mp := range s.mappers {
		if mp.family == f && mp.tgt == t && !mp.orphan && (mp.kind == kindNiceHash || mp.kind == kindSV1Agg) && mp.state != mapperClosed {
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
	mp.release(m, m.fixed)
	m.mp = nil
}

// release frees the place m holds on the mapper at slot (its NiceHash
// byte or SV1 prefix); m.mp is the caller's to update.
func (mp *mapper) release(m *miner, slot uint32) {
	s := mp.s
	switch mp.kind {
	case kindNiceHash:
		mp.table.Remove(slot, m)
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
			mp.table.Remove(slot, m)
			if mp.table.Len() == 0 {
				mp.emptySince = s.now
			}
		}
	case kindSV1Pass:
		if mp.table.Remove(slot, m) {
			mp.keepPassthrough(m)
		}
	}
}

// reusable reports whether an idle simple-mode mapper may take a new
// miner: connected, and it received a job after its last miner left.
func (mp *mapper) reusable() bool {
	return mp.state == mapperIdle && mp.canSubmitIdle() && mp.jobSeq > mp.idleJob
}

func (mp *mapper) canSubmitIdle() bool {
	return mp.conn != nil && mp.conn.proto != nil && mp.conn.proto.Ready()
}

// routeSV1 places an SV1 miner on a session of its target (m.tgt) with a
// free prefix. It returns false when the miner must wait for a session
// that is still connecting (it is queued and answered when one is ready)
// and refuses it when the proxy is full.
func (s *shard) routeSV1(m *miner) (placed, full bool) {
	if mp := s.sv1Room(m); mp != nil {
		return true, false
	}
	s.sv1Wait = append(s.sv1Wait, m)
	m.sv.queued = true
	if s.sv1Connecting(m.tgt) {
		return false, false // it will take the queue
	}
	if !s.canOpen(FamilySV1, m.tgt) || !s.p.reserveUpstream() {
		s.dequeueSV1(m)
		return false, true
	}
	s.newMapper(FamilySV1, kindSV1Agg, m.tgt)
	return false, false
}

// sv1Room places m on an active aggregate session of its target that has
// a free prefix, and returns it (nil: none).
func (s *shard) sv1Room(m *miner) *mapper {
	for _, mp := range s.mappers {
		if mp.family == FamilySV1 && mp.kind == kindSV1Agg && mp.tgt == m.tgt && !mp.orphan &&
			mp.state == mapperActive && mp.table != nil && mp.sv.hasSession && mp.addSV1Miner(m) {
			return mp
		}
	}
	return nil
}

// sv1Connecting reports whether an aggregate session of target t is on
// its way (connecting or waiting to retry).
func (s *shard) sv1Connecting(t *target) bool {
	for _, mp := range s.mappers {
		if mp.family == FamilySV1 && mp.kind == kindSV1Agg && mp.tgt == t && !mp.orphan &&
			mp.state != mapperActive && mp.state != mapperClosed {
			return true
		}
	}
	return false
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

// sv1Drain places queued miners on sessions of their targets that have
// room, opening another session of a target when every ready one is
// full and none is connecting.
func (s *shard) sv1Drain() {
	for i := 0; i < len(s.sv1Wait); {
		m := s.sv1Wait[i]
		if s.sv1Room(m) != nil {
			s.dequeueSV1(m) // before answering: an answer may close m
			m.sv1Placed()
			continue
		}
		i++
		if s.sv1Connecting(m.tgt) {
			continue // wait for it
		}
		if !s.canOpen(FamilySV1, m.tgt) || !s.p.reserveUpstream() {
			s.dequeueSV1(m)
			i--
			m.sv1Refuse(stratum.MsgProxyFull)
			continue
		}
		s.newMapper(FamilySV1, kindSV1Agg, m.tgt)
	}
}

// dequeueSV1 removes m from the wait queue.
func (s *shard) dequeueSV1(m *miner) {
	if i := slices.Index(s.sv1Wait, m); i >= 0 {
		s.sv1Wait = slices.Delete(s.sv1Wait, i, i+1)
	}
	m.sv.queued = false
}
