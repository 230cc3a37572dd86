package reactor

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"forge.lthn.ai/core/go-proxy/routing"
	"forge.lthn.ai/core/go-proxy/stats"
)

// router is the proxy-wide side of routing (see routes.go): the route
// table in force, every second a snapshot of what the loops published
// (their placement reads it), the rebalancing planner, and the plans of
// SV1 miners asked to reconnect. table and snap are read from any
// goroutine; the planner state belongs to the ticker goroutine.
type router struct {
	table atomic.Pointer[routeTable]
	snap  atomic.Pointer[routeSnapshot]
	plans routePlans
	// reload serialises reloads: each loop gets the remaps in the order
	// the tables were made.
	reload sync.Mutex

	// Ticker goroutine only: the next rebalance of each route (by family
	// and name) and the measured hashrate windows of each target (by key).
	next    map[string]int64
	windows map[string]*targetWindows
}

// targetWindows turns a target's accepted-hashes counter into rates.
type targetWindows struct {
	w    stats.Windows
	last float64
}

// routeSnapshot is the loops' routing figures as of one second:
// immutable once stored.
type routeSnapshot struct {
	table *routeTable
	at    int64
	// shards holds each loop's figures by shard index (nil: the loop had
	// not published for this table yet); total their sums (minRate: the
	// smallest; pool: the first active).
	shards [][]targetLocal
	total  []targetLocal
	// rates are each target's measured hashrate over 60 s and 10 min
	// (from the shares accepted on its sessions), H/s.
	rates [][2]float64
	// complete: every loop published for this table.
	complete bool
}

// maxPlans bounds the plans kept for SV1 miners asked to reconnect.
const maxPlans = 1 << 16

// planTTL is how long a plan waits for its miner, in seconds.
const planTTL = 60

// routePlan is where an SV1 miner asked to reconnect should land (and
// its measured hashrate), by route and target name.
type routePlan struct {
	family        Family
	route, target string
	meter         stats.Meter
	until         int64
}

// routePlans holds plans by key (the miner's session id). Safe for
// concurrent use; bounded (maxPlans) and expiring (planTTL).
type routePlans struct {
	mu sync.Mutex
	m  map[string]routePlan
}

func (ps *routePlans) put(key string, pl routePlan, now int64) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m == nil {
		ps.m = map[string]routePlan{}
	}
	if len(ps.m) >= maxPlans {
		ps.expireLocked(now)
		if len(ps.m) >= maxPlans {
			return
		}
	}
	pl.until = now + planTTL
	ps.m[key] = pl
}

func (ps *routePlans) take(key string, now int64) (routePlan, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	pl, ok := ps.m[key]
	if ok {
		delete(ps.m, key)
	}
	return pl, ok && pl.until >= now
}

func (ps *routePlans) expire(now int64) {
	ps.mu.Lock()
	ps.expireLocked(now)
	ps.mu.Unlock()
}

func (ps *routePlans) expireLocked(now int64) {
	for k, pl := range ps.m {
		if pl.until < now {
			delete(ps.m, k)
		}
	}
}

// rebalanceTolerance is the deviation from the weights (a fraction of the
// route's hashrate) a route is left alone within: the hysteresis that
// keeps miners from moving back and forth on measurement noise.
const rebalanceTolerance = 0.02

// tick runs once a second on the ticker goroutine after the loops'
// sweeps were posted: it adds up what they published into a snapshot,
// then rebalances the routes that are due.
func (rt *router) tick(p *Proxy, now int64) {
	tab := rt.table.Load()
	if tab == nil {
		return
	}
	if now%10 == 0 {
		rt.plans.expire(now)
	}
	shards := p.shardList()
	snap := &routeSnapshot{table: tab, at: now, shards: make([][]targetLocal, len(shards)),
		total: make([]targetLocal, len(tab.targets)), rates: make([][2]float64, len(tab.targets)), complete: true}
	for i := range snap.total {
		snap.total[i].pool = -1
	}
	for i, s := range shards {
		pub := s.pub.Load()
		if pub == nil || pub.table != tab || len(pub.targets) != len(tab.targets) {
			snap.complete = false
			continue
		}
		snap.shards[i] = pub.targets
		for k := range pub.targets {
			a, b := &snap.total[k], &pub.targets[k]
			a.hashrate += b.hashrate
			a.accepted += b.accepted
			a.miners += b.miners
			a.fresh += b.fresh
			a.measured += b.measured
			a.sessions += b.sessions
			a.active += b.active
			a.exhausted += b.exhausted
			if b.minRate > 0 && (a.minRate == 0 || b.minRate < a.minRate) {
				a.minRate = b.minRate
			}
			if a.pool < 0 {
				a.pool = b.pool
			}
			a.down = a.down || b.down
		}
	}
	rt.measure(snap, now)
	rt.snap.Store(snap)
	if snap.complete {
		rt.plan(p, snap, now)
	}
}

// measure turns the targets' accepted hashes into 60 s and 10 min rates.
// Counters are read only from complete snapshots (every loop on the same
// table), so a reload in progress only delays them.
func (rt *router) measure(snap *routeSnapshot, now int64) {
	if rt.windows == nil {
		rt.windows = map[string]*targetWindows{}
	}
	seen := make(map[string]bool, len(snap.table.targets))
	for i, t := range snap.table.targets {
		seen[t.key] = true
		w := rt.windows[t.key]
		sum := snap.total[i].accepted
		if w == nil {
			w = &targetWindows{last: sum}
			rt.windows[t.key] = w
		}
		if snap.complete {
			if sum > w.last {
				w.w.Add(now, sum-w.last)
			}
			w.last = sum
		}
		r := w.w.Rates(now)
		snap.rates[i] = [2]float64{r[stats.Window60s], r[stats.Window600s]}
	}
	for k := range rt.windows {
		if !seen[k] {
			delete(rt.windows, k)
		}
	}
}

// plan starts the rebalance of every route that is due.
func (rt *router) plan(p *Proxy, snap *routeSnapshot, now int64) {
	if rt.next == nil {
		rt.next = map[string]int64{}
	}
	for _, r := range snap.table.routes {
		if len(r.targets) < 2 {
			continue
		}
		key := r.family.String() + "/" + r.name
		next, ok := rt.next[key]
		if !ok || next > now+int64(r.rebalance) {
			rt.next[key] = now + int64(r.rebalance) // new, or its interval shortened
			continue
		}
		if now < next {
			continue
		}
		rt.next[key] = now + int64(r.rebalance)
		rt.rebalance(p, snap, r)
	}
}

// planView is a route's targets as the planner sees them in a snapshot,
// the mean hashrate of a measured miner and the smallest miner's rate.
func planView(snap *routeSnapshot, r *route) (ts []routing.Target, est, minRate float64) {
	ts = make([]routing.Target, len(r.targets))
	var total float64
	var measured int32
	for i, t := range r.targets {
		tot := &snap.total[t.idx]
		up := len(t.pools) > 0 && (tot.active > 0 || tot.exhausted == 0)
		ts[i] = routing.Target{Weight: t.weight, Hashrate: max(tot.hashrate, 0), Fresh: int(max(tot.fresh, 0)), Up: up}
		total += ts[i].Hashrate
		measured += tot.measured
		if tot.minRate > 0 && (minRate == 0 || tot.minRate < minRate) {
			minRate = tot.minRate
		}
	}
	est = 1
	if measured > 0 && total > 0 {
		est = total / float64(measured)
	}
	return ts, est, minRate
}

// rebalance plans a route's moves (routing.Plan on the totals), splits
// each flow over the loops in proportion to their hashrate on the giving
// target (routing.Apportion), and posts one task to each loop that has a
// part; the loops pick the miners (shard.rebalance). The last loop to
// finish logs the outcome.
func (rt *router) rebalance(p *Proxy, snap *routeSnapshot, r *route) {
	ts, est, minRate := planView(snap, r)
	before := routing.Deviation(ts, est)
	flows := routing.Plan(ts, est, rebalanceTolerance, minRate/2, nil)
	if len(flows) == 0 {
		r.rounds.Add(1)
		p.log.Debug("rebalance: nothing to move", "route", r.name, "family", r.family.String(), "deviation", round4(before))
		return
	}
	shards := p.shardList()
	per := make([][]quota, len(shards))
	w := make([]float64, len(shards))
	out := make([]float64, len(shards))
	for fi, f := range flows {
		from, to := r.targets[f.From], r.targets[f.To]
		for i := range shards {
			w[i] = 0
			if i < len(snap.shards) && snap.shards[i] != nil {
				w[i] = snap.shards[i][from.idx].hashrate
			}
		}
		routing.Apportion(f.Hashrate, w, out)
		for i, a := range out {
			if a > 0 {
				per[i] = append(per[i], quota{from: from, to: to, amount: a, flow: fi})
			}
		}
	}
	round := &rebalanceRound{log: p.log, route: r, ts: ts, est: est, before: before, flows: flows}
	for _, q := range per {
		if len(q) > 0 {
			round.pending++
		}
	}
	if round.pending == 0 {
		round.finish()
		return
	}
	for i, s := range shards {
		if q := per[i]; len(q) > 0 {
			s.exec(func() { s.rebalance(snap.table, r, q, round) })
		}
	}
}

// rebalanceRound collects what the loops moved in one rebalance of a
// route, for its log line.
type rebalanceRound struct {
	log    *slog.Logger
	route  *route
	ts     []routing.Target
	est    float64
	before float64
	flows  []routing.Flow

	mu      sync.Mutex
	pending int
	moved   int
	hashes  []float64 // moved per flow
}

// done records one loop's outcome; the last one logs the round.
func (rr *rebalanceRound) done(n int, perFlow []float64) {
	rr.mu.Lock()
	rr.moved += n
	if rr.hashes == nil {
		rr.hashes = make([]float64, len(rr.flows))
	}
	for i, h := range perFlow {
		rr.hashes[i] += h
	}
	rr.pending--
	last := rr.pending == 0
	rr.mu.Unlock()
	if last {
		rr.finish()
	}
}

// finish logs the round: miners moved, the hashrate they carry, and the
// deviation from the weights before and (as measured then) after.
func (rr *rebalanceRound) finish() {
	ts := append([]routing.Target(nil), rr.ts...)
	var total float64
	for i, f := range rr.flows {
		var h float64
		if i < len(rr.hashes) {
			h = rr.hashes[i]
		}
		ts[f.From].Hashrate = max(ts[f.From].Hashrate-h, 0)
		ts[f.To].Hashrate += h
		total += h
	}
	rr.route.rounds.Add(1)
	rr.log.Info("rebalance", "route", rr.route.name, "family", rr.route.family.String(), "moved", rr.moved,
		"hashrate_moved", round4(total), "deviation_before", round4(rr.before), "deviation_after", round4(routing.Deviation(ts, rr.est)))
}

// round4 rounds to four decimals for log lines.
func round4(v float64) float64 { return float64(int64(v*10000+0.5)) / 10000 }

// RouteView is one route as GET /1/routes shows it.
type RouteView struct {
	Name   string
	Family Family
	// Implicit: the route of the miners no configured route takes (all
	// the family's enabled pools, in order).
	Implicit bool
	// Rebalance is its rebalance interval in seconds.
	Rebalance int
	// Hashrate is the work of the shares accepted on its targets'
	// sessions over 60 s and 10 min, H/s (by the pools, or here at a
	// miner's own lower difficulty); Deviation how far the split measured by its miners' meters is
	// from the weights (0 = exact, 1 = all on the wrong targets).
	Hashrate  [2]float64
	Deviation float64
	Miners    int
	// Moves counts the miners moved between its targets since start;
	// Rebalances its rebalance rounds.
	Moves, Rebalances uint64
	Targets           []TargetView
}

// TargetView is one target of a route.
type TargetView struct {
	Name string
	// Pools is the failover chain by pool name, as configured; Pool the
	// pool its sessions use now ("" while none is active).
	Pools []string
	Pool  string
	// Weight is as configured; Goal its share of the route (0..1) among
	// the targets that are up.
	Weight float64
	Goal   float64
	// Hashrate is the work of the shares accepted on its sessions over
	// 60 s and 10 min, H/s (by the pools, or here at a miner's own lower
	// difficulty); Share its part of the route's 60 s hashrate (0..1); Estimate
	// the sum of its miners' meters (what rebalancing works on), H/s.
	Hashrate [2]float64
	Share    float64
	Estimate float64
	Miners   int
	// Up is false while its whole chain is down (its miners are on the
	// route's other targets meanwhile).
	Up bool
}

// Routes returns every route with its targets as of the last second. It
// never waits for an event loop. Safe for concurrent use.
func (p *Proxy) Routes() []RouteView {
	snap := p.router.snap.Load()
	tab := p.router.table.Load()
	if tab == nil {
		return nil
	}
	if snap != nil && snap.table != tab {
		snap = nil // a reload since the last second: figures come next second
	}
	out := make([]RouteView, 0, len(tab.routes))
	for _, r := range tab.routes {
		v := RouteView{Name: r.name, Family: r.family, Implicit: r.implicit, Rebalance: r.rebalance, Moves: r.moves.Load(), Rebalances: r.rounds.Load()}
		var ts []routing.Target
		est := 1.0
		if snap != nil {
			ts, est, _ = planView(snap, r)
			v.Deviation = routing.Deviation(ts, est)
		}
		var upWeight float64
		for i, t := range r.targets {
			if snap == nil || ts[i].Up {
				upWeight += t.weight
			}
		}
		for i, t := range r.targets {
			tv := TargetView{Name: t.name, Pools: append([]string(nil), t.chain...), Weight: t.weight, Up: true}
			if snap != nil {
				tot := &snap.total[t.idx]
				tv.Hashrate, tv.Estimate, tv.Miners, tv.Up = snap.rates[t.idx], tot.hashrate, int(tot.miners), ts[i].Up
				if tot.pool >= 0 && int(tot.pool) < len(t.pools) && tot.active > 0 {
					tv.Pool = t.pools[tot.pool].Key()
				}
			}
			if tv.Up && upWeight > 0 {
				tv.Goal = t.weight / upWeight
			}
			v.Hashrate[0] += tv.Hashrate[0]
			v.Hashrate[1] += tv.Hashrate[1]
			v.Miners += tv.Miners
			v.Targets = append(v.Targets, tv)
		}
		if v.Hashrate[0] > 0 {
			for i := range v.Targets {
				v.Targets[i].Share = v.Targets[i].Hashrate[0] / v.Hashrate[0]
			}
		}
		out = append(out, v)
	}
	return out
}
