package reactor

import (
	"reflect"
	"regexp"
	"slices"
	"sync/atomic"

	"forge.lthn.ai/core/go-proxy/upstream"
)

// Routing adds a layer between miners and pool sessions: a miner matches
// a route (by bind port, worker name, family), the route places it on one
// of its targets (a failover chain of pools with a weight), and the
// miner takes a slot on a pool session (mapper) of that target on its
// own event loop. routing/ decides placement and rebalancing as plain
// arithmetic; this file is the compiled configuration it works on;
// route_shard.go is the loops' side (accounting, placement, moves on a
// rebalance), router.go the proxy-wide side (the totals every second and
// the planner), move.go how a miner changes session without
// disconnecting.

// routeTable is the compiled "routes" of one configuration, with the
// implicit route of each family for the miners no route takes. It is
// immutable and shared by every loop; a reload builds a new one and maps
// the old targets onto it (remap).
type routeTable struct {
	// routes in match order: the configured routes (one per family they
	// have targets of), then the implicit ones.
	routes []*route
	// targets holds every target, by idx.
	targets []*target
}

// route is one configured route for one family (a route with targets of
// both families is two), or the implicit route of a family.
type route struct {
	idx    int
	name   string
	family Family
	// implicit: the route of the miners no configured route takes (all
	// the family's enabled pools, as without routes).
	implicit bool
	ports    []int
	worker   *regexp.Regexp
	// rebalance is the interval of the route's rebalancing, in seconds.
	rebalance int
	targets   []*target
	// moves counts the miners moved between its targets and rounds its
	// rebalances; both live on through reloads (by route name).
	moves, rounds *atomic.Uint64
}

// target is a failover chain with a weight; each loop serves its miners
// through pool sessions (mappers) of its own whose pool list is pools.
type target struct {
	idx    int // in routeTable.targets and the loops' accounting
	route  *route
	name   string
	chain  []string              // pool names as configured
	pools  []upstream.PoolConfig // the enabled pools of the chain, primary first
	weight float64
	// key identifies the target across reloads (route, family, name).
	key string
}

// catchAll reports whether a route takes every miner of its family.
func (r *route) catchAll() bool { return len(r.ports) == 0 && r.worker == nil }

// matches reports whether the route takes a miner that came in on port
// and whose worker name is worker; known is false while the name is not
// known yet (an SV1 miner before mining.authorize): a route that needs
// it does not match then.
func (r *route) matches(port int, worker string, known bool) bool {
	if len(r.ports) > 0 && !slices.Contains(r.ports, port) {
		return false
	}
	if r.worker != nil && (!known || !r.worker.MatchString(worker)) {
		return false
	}
	return true
}

// match returns the route of a miner of family f, or nil when none has a
// target for it (no enabled pool of the family).
func (t *routeTable) match(f Family, port int, worker string, known bool) *route {
	if t == nil {
		return nil
	}
	for _, r := range t.routes {
		if r.family == f && r.matches(port, worker, known) {
			return r
		}
	}
	return nil
}

// find returns the target a route and target name (and family) denote in
// this table, or nil.
func (t *routeTable) find(f Family, routeName, targetName string) *target {
	if t == nil {
		return nil
	}
	for _, r := range t.routes {
		if r.family != f || r.name != routeName {
			continue
		}
		for _, tg := range r.targets {
			if tg.name == targetName {
				return tg
			}
		}
	}
	return nil
}

// implicitTarget returns the implicit route's target of a family, nil
// when there is none.
func (t *routeTable) implicitTarget(f Family) *target {
	if t == nil {
		return nil
	}
	for _, r := range t.routes {
		if r.implicit && r.family == f {
			return r.targets[0]
		}
	}
	return nil
}

// buildRoutes compiles cfg's routes (validated) into a table. prev, the
// table in force (nil at start), lends its move counters to the routes
// that keep their names.
func buildRoutes(cfg *Config, prev *routeTable) *routeTable {
	t := &routeTable{}
	keys := poolsByKey(cfg.Pools)
	counters := func(name string) (moves, rounds *atomic.Uint64) {
		if prev != nil {
			for _, r := range prev.routes {
				if r.name == name {
					return r.moves, r.rounds
				}
			}
		}
		return new(atomic.Uint64), new(atomic.Uint64)
	}
	var catchAll [3]bool
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		var worker *regexp.Regexp
		if rc.Match.Worker != "" {
			worker = regexp.MustCompile(rc.Match.Worker) // validated
		}
		moves, rounds := counters(rc.Name)
		for _, f := range [...]Family{FamilyCryptoNote, FamilySV1} {
			if rc.Match.Family != "" && rc.Match.Family != f.String() {
				continue
			}
			r := &route{name: rc.Name, family: f, ports: slices.Clone([]int(rc.Match.Port)), worker: worker,
				rebalance: rc.rebalanceSeconds(cfg), moves: moves, rounds: rounds}
			for j := range rc.Targets {
				tc := &rc.Targets[j]
				var pools []upstream.PoolConfig
				fam := FamilyUnknown
				for _, name := range tc.Pools {
					p := &cfg.Pools[keys[name]]
					fam = poolFamily(p)
					if p.IsEnabled() {
						pools = append(pools, *p)
					}
				}
				if fam != f {
					continue
				}
				r.targets = append(r.targets, &target{route: r, name: tc.targetName(), chain: slices.Clone(tc.Pools),
					pools: pools, weight: tc.Weight})
			}
			if !hasPools(r.targets) {
				continue // nothing of this family to route to
			}
			if r.catchAll() {
				catchAll[f] = true
			}
			t.routes = append(t.routes, r)
		}
	}
	for _, f := range [...]Family{FamilyCryptoNote, FamilySV1} {
		var pools []upstream.PoolConfig
		var chain []string
		for i := range cfg.Pools {
			if p := &cfg.Pools[i]; p.IsEnabled() && poolFamily(p) == f {
				pools = append(pools, *p)
				chain = append(chain, p.Key())
			}
		}
		if len(pools) == 0 || catchAll[f] {
			continue
		}
		r := &route{name: implicitRoute, family: f, implicit: true, rebalance: cfg.Rebalance}
		r.moves, r.rounds = counters(implicitRoute)
		r.targets = []*target{{route: r, name: implicitRoute, chain: chain, pools: pools, weight: 1}}
		t.routes = append(t.routes, r)
	}
	for i, r := range t.routes {
		r.idx = i
		if r.rebalance <= 0 {
			r.rebalance = defaultRebalance
		}
		for _, tg := range r.targets {
			tg.idx = len(t.targets)
			tg.key = r.family.String() + "/" + r.name + "/" + tg.name
			t.targets = append(t.targets, tg)
		}
	}
	return t
}

func hasPools(ts []*target) bool {
	for _, t := range ts {
		if len(t.pools) > 0 {
			return true
		}
	}
	return false
}

// remap maps each target of old onto the target of next that takes its
// miners and sessions: the one with the same route, family and name
// (weights and chains may change: a changed chain moves its sessions to
// the new pools as a reload always did); then, within a route, the old
// targets left pair in order with the new targets nothing claimed (a
// target renamed, or named by a chain that changed). An old target left
// over maps to nil: its miners are placed again.
func remap(old, next *routeTable) map[*target]*target {
	out := map[*target]*target{}
	if old == nil || next == nil {
		return out
	}
	claimed := map[*target]bool{}
	byKey := map[string]*target{}
	for _, t := range next.targets {
		byKey[t.key] = t
	}
	for _, t := range old.targets {
		if n := byKey[t.key]; n != nil {
			out[t], claimed[n] = n, true
		}
	}
	for _, r := range old.routes {
		var free []*target
		for _, nr := range next.routes {
			if nr.family == r.family && nr.name == r.name {
				for _, n := range nr.targets {
					if !claimed[n] {
						free = append(free, n)
					}
				}
			}
		}
		for _, t := range r.targets {
			if out[t] == nil && len(free) > 0 {
				out[t], claimed[free[0]] = free[0], true
				free = free[1:]
			}
		}
	}
	return out
}

// samePools reports whether two pool lists are the same configuration,
// names aside (renaming a pool does not move its sessions).
func samePools(a, b []upstream.PoolConfig) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.Name, y.Name = "", ""
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}
