package reactor

import (
	"forge.lthn.ai/core/go-proxy/routing"
	"forge.lthn.ai/core/go-proxy/stats"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// The loops' side of routing (see routes.go): each shard keeps, per
// target, what its own miners measure and how its pool sessions of the
// target are doing; it places new miners with routing.Place on that plus
// the other loops' totals of the last second (router.go), moves the
// miners of a target whose sessions here are down, and carries out its
// share of a rebalance. Everything here is loop-only.

// targetLocal is one loop's side of a target, recounted by every sweep
// and kept current between sweeps as miners are placed and leave.
// Published every second.
type targetLocal struct {
	hashrate float64 // its measured miners' rates, H/s
	minRate  float64 // the smallest of them (0: none)
	// accepted counts the hashes of the shares accepted on its sessions
	// since start (the router turns it into 60 s and 10 min rates).
	accepted float64
	miners   int32
	fresh    int32 // miners without a measured rate yet
	measured int32
	// The sessions of the target here: open, active, and those whose
	// whole chain failed since their last login.
	sessions, active, exhausted int16
	// pool is the index in the chain's enabled pools of the first active
	// session's pool (-1: none).
	pool int16
	// down: sessions here, none active, one failed its whole chain.
	down bool
}

// routeScratch is the memory placement and rebalancing reuse on a loop.
type routeScratch struct {
	ts    [routing.MaxTargets]routing.Target
	rates []float64
	order []int
	cands []*miner
	// e1 holds a miner's extranonce1 on the session it left, for a share
	// still in flight for that session (move.go).
	e1 [2 * stratum.MaxSV1ExtranonceSize]byte
	// lastFold is the unix second of the last meter fold; fix says some
	// miner must be placed again (a reload removed its target or route).
	lastFold int64
	fix      bool
}

// Routing constants.
const (
	// prevKeep is how long a moved miner's previous session is kept for
	// its shares still in flight.
	prevKeep = 60
	// meterDefaultWindow is the meter window of miners that are not routed.
	meterDefaultWindow = 120
)

// meterWindow is the time constant, in seconds, of the hashrate meters of
// a route's miners: twice its rebalance interval, within 20 s … 10 min
// (a window of a few seconds would be mostly noise).
func meterWindow(r *route) float64 {
	if r == nil {
		return meterDefaultWindow
	}
	return float64(min(max(2*r.rebalance, 20), 600))
}

// setTable installs a route table (a new shard, a reload) with fresh
// accounting; the sweep recounts it.
func (s *shard) setTable(t *routeTable) {
	s.table = t
	n := 0
	if t != nil {
		n = len(t.targets)
	}
	s.tl = make([]targetLocal, n)
	for i := range s.tl {
		s.tl[i].pool = -1
	}
}

// local returns the loop's side of t, nil for a target of another table.
func (s *shard) local(t *target) *targetLocal {
	if t == nil || s.table == nil || t.idx >= len(s.tl) || s.table.targets[t.idx] != t {
		return nil
	}
	return &s.tl[t.idx]
}

// setTarget moves m's accounting from its target to t (either may be nil).
func (s *shard) setTarget(m *miner, t *target) {
	hs, ok := m.meter.Rate()
	if st := s.local(m.tgt); st != nil {
		st.miners--
		if ok {
			st.hashrate -= hs
			st.measured--
		} else {
			st.fresh--
		}
	}
	m.tgt = t
	if st := s.local(t); st != nil {
		st.miners++
		if ok {
			st.hashrate += hs
			st.measured++
		} else {
			st.fresh++
		}
	}
}

// targetUp reports whether t may take miners: it has pools, and its
// sessions here are not down, nor are they everywhere (no loop has an
// active session and one failed its whole chain).
func (s *shard) targetUp(t *target) bool {
	if len(t.pools) == 0 {
		return false
	}
	st := s.local(t)
	if st == nil {
		return true
	}
	if st.active > 0 {
		return true
	}
	if st.down {
		return false
	}
	if snap := s.p.router.snap.Load(); snap != nil && snap.table == s.table {
		if tot := &snap.total[t.idx]; tot.active == 0 && tot.exhausted > 0 {
			return false
		}
	}
	return true
}

// routeView fills ts with the route's targets as placement sees them from
// this loop: the other loops' totals of the last second plus this loop's
// own figures now. It returns the mean hashrate of a measured miner (1
// before any is measured: miners are then spread by count).
func (s *shard) routeView(r *route, ts []routing.Target) (est float64) {
	snap := s.p.router.snap.Load()
	var mine []targetLocal
	if snap != nil && snap.table == s.table {
		if s.idx < len(snap.shards) {
			mine = snap.shards[s.idx]
		}
	} else {
		snap = nil
	}
	var total float64
	var measured int32
	for i, t := range r.targets {
		st := &s.tl[t.idx]
		hs, fresh, n := st.hashrate, st.fresh, st.measured
		if snap != nil {
			tot := &snap.total[t.idx]
			hs, fresh, n = hs+tot.hashrate, fresh+tot.fresh, n+tot.measured
			if mine != nil {
				hs, fresh, n = hs-mine[t.idx].hashrate, fresh-mine[t.idx].fresh, n-mine[t.idx].measured
			}
		}
		hs, fresh, n = max(hs, 0), max(fresh, 0), max(n, 0)
		ts[i] = routing.Target{Weight: t.weight, Hashrate: hs, Fresh: int(fresh), Up: s.targetUp(t)}
		total += hs
		measured += n
	}
	if measured > 0 && total > 0 {
		return total / float64(measured)
	}
	return 1
}

// place picks the target of route r for a miner joining it: the one
// furthest below its weight (routing.Place). When no target is up, the
// one the weights pick among all that have pools: the miner waits there
// for failover, as it would without routes.
func (s *shard) place(r *route) *target {
	if r == nil || len(r.targets) > routing.MaxTargets {
		return nil
	}
	ts := s.rt.ts[:len(r.targets)]
	est := s.routeView(r, ts)
	i := routing.Place(ts, est)
	if i < 0 {
		for k := range ts {
			ts[k].Up = len(r.targets[k].pools) > 0
		}
		if i = routing.Place(ts, est); i < 0 {
			return nil
		}
	}
	return r.targets[i]
}

// routeWorker is the worker name routes match: the name the proxy gives
// the miner's worker, else (workers off, or the table full) its rig id,
// else its login.
func (m *miner) routeWorker(worker string) string {
	switch {
	case worker != "":
		return worker
	case m.wk != nil:
		return m.wk.Name
	case m.rigID != "":
		return m.rigID
	}
	return m.userName()
}

// routeFor returns the target a miner of family f joins: its route's
// target furthest below its weight (nil: no route has pools of the
// family; a shard without a route table serves target nil).
func (s *shard) routeFor(m *miner, f Family, worker string, known bool) *target {
	return s.place(s.table.match(f, m.bind.port, worker, known))
}

// routable reports whether m is on (or waiting for) a session routing may
// move it from: a logged-in CryptoNote miner or an aggregate SV1 miner.
func (m *miner) routable() bool {
	if m.state >= stateClosing {
		return false
	}
	if m.sv != nil && m.sv.queued {
		return true
	}
	mp := m.mp
	return mp != nil && (mp.kind == kindNiceHash || mp.kind == kindSimple || mp.kind == kindSV1Agg)
}

// routesTick is the routing part of the 1 Hz sweep: fold the miners'
// meters, forget previous sessions kept too long, recount each target's
// figures and sessions, and move the miners that cannot stay where they
// are.
func (s *shard) routesTick() {
	dt := s.now - s.rt.lastFold
	if s.rt.lastFold == 0 {
		dt = 1
	}
	if dt > 0 {
		s.rt.lastFold = s.now
		var decay [maxRoutes*2 + 2]float64
		if s.table != nil {
			for i, r := range s.table.routes {
				if i < len(decay) {
					decay[i] = stats.MeterDecay(float64(dt), meterWindow(r))
				}
			}
		}
		defDecay := stats.MeterDecay(float64(dt), meterDefaultWindow)
		for _, m := range s.miners {
			if m == nil {
				continue
			}
			d := defDecay
			if s.local(m.tgt) != nil && m.tgt.route.idx < len(decay) {
				d = decay[m.tgt.route.idx]
			}
			m.meter.Fold(d, float64(dt))
			if m.prev != nil && (s.now-int64(m.movedAt) > prevKeep || m.prev.state == mapperClosed) {
				m.prev = nil
			}
		}
	}
	misplaced := s.recountTargets() || s.rt.fix
	if misplaced {
		s.rt.fix = false
		s.replaceMiners()
	}
}

// recountTargets recounts every target's figures from the miners and
// sessions of the loop. It reports whether a target that is down has
// miners here.
func (s *shard) recountTargets() (downWithMiners bool) {
	for i := range s.tl {
		s.tl[i] = targetLocal{accepted: s.tl[i].accepted, pool: -1}
	}
	for _, m := range s.miners {
		if m == nil {
			continue
		}
		st := s.local(m.tgt)
		if st == nil {
			continue
		}
		st.miners++
		if hs, ok := m.meter.Rate(); ok {
			st.hashrate += hs
			st.measured++
			if hs > 0 && (st.minRate == 0 || hs < st.minRate) {
				st.minRate = hs
			}
		} else {
			st.fresh++
		}
	}
	for _, mp := range s.mappers {
		st := s.local(mp.tgt)
		if st == nil || mp.orphan || mp.state == mapperClosed {
			continue
		}
		st.sessions++
		if mp.state == mapperActive {
			if st.active == 0 {
				st.pool = int16(mp.fo.Current())
			}
			st.active++
		}
		if mp.fo.Exhausted() {
			st.exhausted++
		}
	}
	if s.table == nil {
		return false
	}
	for i, t := range s.table.targets {
		st := &s.tl[i]
		st.down = len(t.pools) == 0 || st.sessions > 0 && st.active == 0 && st.exhausted > 0
		if st.miners > 0 && !s.targetUp(t) {
			downWithMiners = true
		}
	}
	return downWithMiners
}

// replaceMiners moves the miners that cannot stay where they are: on a
// target that is down (its whole chain failed), on a session a reload
// left without a target, in a route that no longer takes them, or
// assigned a target whose session had no room when they were (a worker
// route decided at authorize). A move that finds no room is tried again
// at the next sweep.
func (s *shard) replaceMiners() {
	for _, m := range s.miners {
		if m == nil || !m.routable() {
			continue
		}
		t := m.tgt
		orphan := m.mp != nil && m.mp.orphan
		var dest *target
		switch {
		case t == nil || orphan:
			r := s.table.match(m.family, m.bind.port, m.routeWorker(""), m.family != FamilySV1 || m.sv.authorized)
			if dest = s.place(r); dest == t && !orphan {
				continue
			}
		case !s.targetUp(t):
			// Only to a target that is up: with the whole route down,
			// placement falls back to every target, and moving between
			// dead ones would only churn (and reconnect SV1 miners).
			if dest = s.place(t.route); dest == t || dest == nil || !s.targetUp(dest) {
				continue
			}
		case m.mp != nil && m.mp.tgt != t:
			dest = t
		default:
			continue
		}
		if dest == nil {
			continue
		}
		if s.moveMiner(m, dest) {
			dest.route.moves.Add(1)
		} else {
			s.rt.fix = true
		}
	}
}

// quota is a loop's part of one flow of a rebalance: hashrate to move
// from one target to another.
type quota struct {
	from, to *target
	amount   float64
	flow     int // index in the round's flows
}

// rebalance carries out this loop's quotas of a route's rebalance: for
// each, routing.Pick chooses among the miners of the giving target that
// are mining, measured and were not moved within the route's interval,
// and they move. A reload since the plan was made voids it.
func (s *shard) rebalance(table *routeTable, r *route, quotas []quota, round *rebalanceRound) {
	moved := make([]float64, len(round.flows))
	n := 0
	if table == s.table {
		for _, q := range quotas {
			cands, rates, order := s.rt.cands[:0], s.rt.rates[:0], s.rt.order[:0]
			for _, m := range s.miners {
				if m == nil || m.tgt != q.from || m.state != stateReady || m.held || !m.routable() ||
					(m.movedAt != 0 && s.now-int64(m.movedAt) < int64(r.rebalance)) {
					continue
				}
				hs, ok := m.meter.Rate()
				if !ok || hs <= 0 {
					continue
				}
				order = append(order, len(cands))
				cands = append(cands, m)
				rates = append(rates, hs)
			}
			k, _ := routing.Pick(rates, q.amount, order)
			for _, i := range order[:k] {
				if s.moveMiner(cands[i], q.to) {
					r.moves.Add(1)
					moved[q.flow] += rates[i]
					n++
				}
			}
			clear(cands)
			s.rt.cands, s.rt.rates, s.rt.order = cands[:0], rates[:0], order[:0]
		}
	}
	round.done(n, moved)
}

// credit records the work of an accepted share (pool-accepted, or
// answered here at a custom difficulty) for routing: the miner's meter,
// and the accepted hashes of the target of the session that took it.
// Share path: no allocation.
func (s *shard) credit(m *miner, mp *mapper, hashes float64) {
	m.meter.Add(hashes)
	if st := s.local(mp.tgt); st != nil {
		st.accepted += hashes
	}
}
