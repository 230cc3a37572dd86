// Package routing decides how a route's miners are spread over its
// targets so that each target gets its weight's share of the route's
// hashrate.
//
// A route is an ordered list of targets; a target is a failover chain of
// pools with a weight. Miners are whole, so the split is reached by
// placing each newly logged-in miner on the target furthest below its
// goal (Place) and, every rebalance interval, by moving miners from
// targets above their goal to targets below it (Plan, then Pick on each
// event loop), never when the route is already within tolerance: a miner
// does not ping-pong between targets.
//
// A target that is down (its whole chain failed) has a goal of zero: its
// miners flow to the route's other targets, and flow back once it is up
// again and has a goal.
//
// Everything here is plain arithmetic on the values given: no I/O, no
// clock, no locks; callers pass the slices results go to.
package routing

import "slices"

// Target is one target of a route as the planner sees it.
type Target struct {
	// Weight is the target's share of the route, relative to the other
	// targets' weights (≥ 0).
	Weight float64
	// Hashrate is what its miners' accepted shares measure, in H/s.
	Hashrate float64
	// Fresh counts its miners that have no measured hashrate yet (just
	// logged in); each counts as the estimate passed to Place and Plan.
	Fresh int
	// Up is false when the target's whole chain is down: it gets no new
	// miners and gives away the ones it has.
	Up bool
}

// load is the hashrate a target carries, counting each fresh miner as est.
func (t *Target) load(est float64) float64 { return t.Hashrate + float64(t.Fresh)*est }

// goals fills goal[i] with target i's fair share of total: its weight's
// part of the up targets' weights (0 for down targets). It reports false
// when no up target has a weight.
func goals(ts []Target, total float64, goal []float64) bool {
	var w float64
	for i := range ts {
		if ts[i].Up && ts[i].Weight > 0 {
			w += ts[i].Weight
		}
	}
	for i := range ts {
		goal[i] = 0
		if w > 0 && ts[i].Up && ts[i].Weight > 0 {
			goal[i] = total * ts[i].Weight / w
		}
	}
	return w > 0
}

// MaxTargets bounds the targets of one route (Place and Plan work on
// fixed-size scratch arrays).
const MaxTargets = 64

// Place returns the target a newly logged-in miner should join: the up
// target furthest below its goal once the miner (counted as est H/s) is
// added, the first of equals on a tie. est is the route's mean hashrate
// per miner, or 1 while nothing has been measured (then miners are spread
// by count). It returns -1 when no target is up with a weight.
func Place(ts []Target, est float64) int {
	if len(ts) == 0 || len(ts) > MaxTargets {
		return -1
	}
	if est <= 0 {
		est = 1
	}
	var total float64
	for i := range ts {
		total += ts[i].load(est)
	}
	var goal [MaxTargets]float64
	if !goals(ts, total+est, goal[:len(ts)]) {
		return -1
	}
	best, bestGap := -1, 0.0
	for i := range ts {
		if goal[i] <= 0 {
			continue
		}
		gap := goal[i] - ts[i].load(est)
		if best < 0 || gap > bestGap {
			best, bestGap = i, gap
		}
	}
	return best
}

// Deviation is how far a route is from its weights: half the sum over
// targets of |load − goal|, as a fraction of the route's load (0 = exact,
// 1 = everything on the wrong targets). A route without load is exact.
func Deviation(ts []Target, est float64) float64 {
	if len(ts) == 0 || len(ts) > MaxTargets {
		return 0
	}
	var total float64
	for i := range ts {
		total += ts[i].load(est)
	}
	if total <= 0 {
		return 0
	}
	var goal [MaxTargets]float64
	if !goals(ts, total, goal[:len(ts)]) {
		return 0
	}
	var d float64
	for i := range ts {
		x := ts[i].load(est) - goal[i]
		if x < 0 {
			x = -x
		}
		d += x
	}
	return d / 2 / total
}

// Flow is hashrate to move from one target to another.
type Flow struct {
	From, To int
	Hashrate float64
}

// Plan appends to flows the moves that bring the route back to its
// weights, and returns them. Nothing moves while the route's deviation is
// within tolerance (a fraction of its load, e.g. 0.02) — the hysteresis
// that keeps miners from ping-ponging — except the load of down targets,
// which always moves when an up target can take it. Flows pair the
// target furthest above its goal with the one furthest below, largest
// first; none is smaller than minFlow H/s (typically the smallest miner's
// rate: a smaller flow could only be met by moving nothing or too much).
func Plan(ts []Target, est, tolerance, minFlow float64, flows []Flow) []Flow {
	if len(ts) < 2 || len(ts) > MaxTargets {
		return flows
	}
	var total float64
	for i := range ts {
		total += ts[i].load(est)
	}
	var goal, over [MaxTargets]float64
	if total <= 0 || !goals(ts, total, goal[:len(ts)]) {
		return flows
	}
	down := false
	for i := range ts {
		over[i] = ts[i].load(est) - goal[i]
		if !ts[i].Up && ts[i].load(est) > 0 {
			down = true
		}
	}
	if !down && Deviation(ts, est) <= tolerance {
		return flows
	}
	for {
		from, to := -1, -1
		for i := range ts {
			if over[i] > 0 && (from < 0 || over[i] > over[from]) {
				from = i
			}
			if over[i] < 0 && goal[i] > 0 && (to < 0 || over[i] < over[to]) {
				to = i
			}
		}
		if from < 0 || to < 0 {
			return flows
		}
		amount := min(over[from], -over[to])
		if amount < minFlow || amount <= 0 {
			return flows
		}
		flows = append(flows, Flow{From: from, To: to, Hashrate: amount})
		over[from] -= amount
		over[to] += amount
	}
}

// Pick chooses miners to move about amount H/s. order holds the indices
// into rates to choose from (the caller leaves out miners it must not
// move, such as those moved in the last interval). Largest first, Pick
// keeps every miner that fits in what remains to move; then, if some
// amount is left, the smallest other miner whose move still brings it
// closer to zero (its rate is under twice what remains). The kept indices
// end up at the front of order; Pick returns how many there are and the
// hashrate they carry. Miners with no measured rate are never picked.
func Pick(rates []float64, amount float64, order []int) (n int, moved float64) {
	slices.SortFunc(order, func(a, b int) int {
		switch ra, rb := rates[a], rates[b]; {
		case ra > rb:
			return -1
		case ra < rb:
			return 1
		}
		return a - b
	})
	remaining := amount
	for i, idx := range order {
		if r := rates[idx]; r > 0 && r <= remaining {
			order[n], order[i] = order[i], order[n]
			n++
			remaining -= r
			moved += r
		}
	}
	if remaining <= 0 {
		return n, moved
	}
	best := -1
	for i := n; i < len(order); i++ {
		if r := rates[order[i]]; r > 0 && r < 2*remaining && (best < 0 || r < rates[order[best]]) {
			best = i
		}
	}
	if best >= 0 {
		order[n], order[best] = order[best], order[n]
		return n + 1, moved + rates[order[n]]
	}
	return n, moved
}

// Apportion splits amount over parts in proportion to weights (each
// loop's share of a target's hashrate), writing part i to out[i]. With no
// weight at all it writes zeros.
func Apportion(amount float64, weights, out []float64) {
	var w float64
	for _, x := range weights {
		if x > 0 {
			w += x
		}
	}
	for i, x := range weights {
		out[i] = 0
		if w > 0 && x > 0 {
			out[i] = amount * x / w
		}
	}
}
