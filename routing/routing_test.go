package routing

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlace_Good(t *testing.T) {
	cases := []struct {
		name string
		ts   []Target
		est  float64
		want int
	}{
		{"empty route starts at the heaviest weight", []Target{{Weight: 70, Up: true}, {Weight: 30, Up: true}}, 1, 0},
		{"70/30 by count: 7 and 2 miners, the next goes to the second", []Target{{Weight: 70, Fresh: 7, Up: true}, {Weight: 30, Fresh: 2, Up: true}}, 1, 1},
		{"70/30 by count: 6 and 3, the next goes to the first", []Target{{Weight: 70, Fresh: 6, Up: true}, {Weight: 30, Fresh: 3, Up: true}}, 1, 0},
		{"by hashrate, not by count", []Target{{Weight: 1, Hashrate: 100, Up: true}, {Weight: 1, Hashrate: 20, Fresh: 5, Up: true}}, 10, 1},
		{"a down target gets nobody", []Target{{Weight: 1, Up: false}, {Weight: 1, Hashrate: 1e6, Up: true}}, 1, 1},
		{"zero weight gets nobody", []Target{{Weight: 0, Up: true}, {Weight: 1, Hashrate: 1e6, Up: true}}, 1, 1},
	}
	for _, c := range cases {
		require.Equal(t, c.want, Place(c.ts, c.est), c.name)
	}
}

func TestPlace_Bad(t *testing.T) {
	require.Equal(t, -1, Place(nil, 1))
	require.Equal(t, -1, Place([]Target{{Weight: 1}, {Weight: 2}}, 1), "all down")
	require.Equal(t, -1, Place([]Target{{Up: true}}, 1), "no weight")
	require.Equal(t, -1, Place(make([]Target, MaxTargets+1), 1))
}

func TestDeviation_Good(t *testing.T) {
	ts := []Target{{Weight: 70, Hashrate: 70, Up: true}, {Weight: 30, Hashrate: 30, Up: true}}
	require.InDelta(t, 0, Deviation(ts, 1), 1e-12)
	ts[0].Hashrate, ts[1].Hashrate = 50, 50
	require.InDelta(t, 0.2, Deviation(ts, 1), 1e-12)
	ts[0].Up = false
	require.InDelta(t, 0.5, Deviation(ts, 1), 1e-12, "a down target's load is all misplaced")
	require.Zero(t, Deviation([]Target{{Weight: 1, Up: true}}, 1), "no load")
}

func TestPlan_Good(t *testing.T) {
	ts := []Target{{Weight: 70, Hashrate: 50, Up: true}, {Weight: 30, Hashrate: 50, Up: true}}
	flows := Plan(ts, 1, 0.02, 1, nil)
	require.Equal(t, []Flow{{From: 1, To: 0, Hashrate: 20}}, flows)

	within := []Target{{Weight: 70, Hashrate: 71, Up: true}, {Weight: 30, Hashrate: 29, Up: true}}
	require.Empty(t, Plan(within, 1, 0.02, 1, nil), "within tolerance nothing moves")

	down := []Target{{Weight: 70, Hashrate: 1, Up: false}, {Weight: 30, Hashrate: 99, Up: true}}
	require.Equal(t, []Flow{{From: 0, To: 1, Hashrate: 1}}, Plan(down, 1, 0.02, 0.5, nil), "a down target's miners always leave")

	three := []Target{{Weight: 1, Hashrate: 90, Up: true}, {Weight: 1, Hashrate: 0, Up: true}, {Weight: 1, Hashrate: 0, Up: true}}
	flows = Plan(three, 1, 0.02, 1, nil)
	require.Len(t, flows, 2)
	for _, f := range flows {
		require.Equal(t, 0, f.From)
		require.InDelta(t, 30, f.Hashrate, 1e-9)
	}

	require.Empty(t, Plan(ts, 1, 0.02, 25, nil), "a flow under minFlow is not worth a move")
	require.Empty(t, Plan([]Target{{Weight: 1, Hashrate: 5, Up: false}, {Weight: 1, Up: false}}, 1, 0, 0, nil), "nowhere to go")
}

func TestPick_Good(t *testing.T) {
	rates := []float64{40, 10, 10, 25, 0, 5}
	order := []int{0, 1, 2, 3, 4, 5}
	n, moved := Pick(rates, 30, order)
	require.Equal(t, 2, n)
	require.Equal(t, []int{3, 5}, order[:n], "25 then 5: 40 would overshoot by more than it helps")
	require.InDelta(t, 30, moved, 1e-9)

	order = []int{1, 2}
	n, moved = Pick(rates, 4, order)
	require.Zero(t, n, "moving a 10 to fill 4 would make it worse")
	require.Zero(t, moved)

	order = []int{4}
	n, _ = Pick(rates, 100, order)
	require.Zero(t, n, "unmeasured miners are never picked")
}

func TestApportion_Good(t *testing.T) {
	out := make([]float64, 3)
	Apportion(90, []float64{1, 2, 0}, out)
	require.Equal(t, []float64{30, 60, 0}, out)
	Apportion(90, []float64{0, 0, 0}, out)
	require.Equal(t, []float64{0, 0, 0}, out)
}

// simRoute places miners of random speeds on a route and rebalances it
// like the proxy does: Plan on the totals, Pick among the miners of the
// giving target that were not moved in this interval.
type simRoute struct {
	ts      []Target
	on      []int     // target of each miner
	rate    []float64 // each miner's hashrate
	movedAt []int     // round a miner last moved (-1 never)
	moves   int
}

func (r *simRoute) totals() {
	for i := range r.ts {
		r.ts[i].Hashrate, r.ts[i].Fresh = 0, 0
	}
	for m, t := range r.on {
		r.ts[t].Hashrate += r.rate[m]
	}
}

func (r *simRoute) rebalance(t *testing.T, round int, tol float64) {
	r.totals()
	minRate := math.Inf(1)
	for _, x := range r.rate {
		minRate = min(minRate, x)
	}
	for _, f := range Plan(r.ts, 1, tol, minRate/2, nil) {
		var order []int
		for m, tgt := range r.on {
			if tgt == f.From && r.movedAt[m] != round {
				order = append(order, m)
			}
		}
		n, _ := Pick(r.rate, f.Hashrate, order)
		for _, m := range order[:n] {
			require.NotEqual(t, round, r.movedAt[m], "moved twice in one interval")
			r.on[m], r.movedAt[m] = f.To, round
			r.moves++
		}
	}
	r.totals()
}

func (r *simRoute) share(i int) float64 {
	var total float64
	for _, tt := range r.ts {
		total += tt.Hashrate
	}
	return r.ts[i].Hashrate / total
}

// TestRebalance_Ugly: 200 miners of two speeds (1:4) on a 70/30 route, in
// random order of arrival, placed by count (no rate measured yet), then
// rebalanced on measured rates: within ±5 points after one interval, no
// move at all once the weights are met, and a change to 50/50 converges
// in two intervals.
func TestRebalance_Ugly(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		r := &simRoute{ts: []Target{{Weight: 70, Up: true}, {Weight: 30, Up: true}}}
		for i := 0; i < 200; i++ {
			rate := 1000.0
			if rng.IntN(2) == 0 {
				rate = 4000
			}
			rate *= 0.9 + 0.2*rng.Float64()
			// Placement before any measurement: fresh miners count as 1.
			for k := range r.ts {
				r.ts[k].Hashrate, r.ts[k].Fresh = 0, 0
			}
			for _, tgt := range r.on {
				r.ts[tgt].Fresh++
			}
			tgt := Place(r.ts, 1)
			require.GreaterOrEqual(t, tgt, 0)
			r.on = append(r.on, tgt)
			r.rate = append(r.rate, rate)
			r.movedAt = append(r.movedAt, -1)
		}
		r.rebalance(t, 1, 0.02)
		require.InDelta(t, 0.70, r.share(0), 0.05, "seed %d after one interval", seed)
		before := r.moves
		r.rebalance(t, 2, 0.02)
		r.rebalance(t, 3, 0.02)
		require.InDelta(t, 0.70, r.share(0), 0.05, "seed %d", seed)
		if Deviation(r.ts, 1) <= 0.02 {
			require.Equal(t, before, r.moves, "seed %d: weights met, nobody moves", seed)
		}

		r.ts[0].Weight, r.ts[1].Weight = 50, 50
		r.rebalance(t, 4, 0.02)
		r.rebalance(t, 5, 0.02)
		require.InDelta(t, 0.50, r.share(0), 0.05, "seed %d: converged to 50/50 in two intervals", seed)

		// The first target dies: everything moves to the second; it comes
		// back: the weights are restored.
		r.ts[0].Up = false
		r.rebalance(t, 6, 0.02)
		require.InDelta(t, 0, r.share(0), 1e-9, "seed %d: a down target keeps no miner", seed)
		r.ts[0].Up = true
		r.rebalance(t, 7, 0.02)
		r.rebalance(t, 8, 0.02)
		require.InDelta(t, 0.50, r.share(0), 0.05, "seed %d: back to its weight", seed)
	}
}

func FuzzPlan(f *testing.F) {
	f.Add(70.0, 30.0, 10.0, 90.0, true, true, 0.02)
	f.Add(1.0, 0.0, 5.0, 0.0, false, true, 0.0)
	f.Fuzz(func(t *testing.T, w0, w1, h0, h1 float64, up0, up1 bool, tol float64) {
		for _, x := range []float64{w0, w1, h0, h1, tol} {
			if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 || x > 1e18 {
				return
			}
		}
		ts := []Target{{Weight: w0, Hashrate: h0, Up: up0}, {Weight: w1, Hashrate: h1, Up: up1}}
		before := Deviation(ts, 1)
		flows := Plan(ts, 1, tol, 0, nil)
		for _, fl := range flows {
			require.NotEqual(t, fl.From, fl.To)
			require.Greater(t, fl.Hashrate, 0.0)
			ts[fl.From].Hashrate -= fl.Hashrate
			ts[fl.To].Hashrate += fl.Hashrate
			require.GreaterOrEqual(t, ts[fl.From].Hashrate, -1e-6*max(h0, h1, 1))
		}
		if len(flows) > 0 {
			require.LessOrEqual(t, Deviation(ts, 1), before+1e-9, "a plan never makes the split worse")
		}
		_ = Place(ts, 1)
	})
}

// TestRebalance_Noisy_Ugly: three targets (50/30/20), 300 miners of
// random speeds (1 to 16), rebalanced on estimates that are off by up to
// ±20 % per miner and per round (what a meter over a few dozen shares
// gives). The true split reaches each weight within 5 points after two
// rounds and stays there; no miner moves twice in one round, and later
// rounds move few miners (the hysteresis holds against the noise).
func TestRebalance_Noisy_Ugly(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		const n = 300
		truth := make([]float64, n)
		on := make([]int, n)
		ts := []Target{{Weight: 50, Up: true}, {Weight: 30, Up: true}, {Weight: 20, Up: true}}
		for i := range truth {
			truth[i] = 1 + 15*rng.Float64()
			for k := range ts {
				ts[k].Fresh = 0
			}
			for _, tg := range on[:i] {
				ts[tg].Fresh++
			}
			on[i] = Place(ts, 1)
		}
		share := func(k int) float64 {
			var a, all float64
			for i, tg := range on {
				all += truth[i]
				if tg == k {
					a += truth[i]
				}
			}
			return a / all
		}
		moves := 0
		for round := 1; round <= 8; round++ {
			est := make([]float64, n)
			for k := range ts {
				ts[k].Hashrate, ts[k].Fresh = 0, 0
			}
			for i := range est {
				est[i] = truth[i] * (0.8 + 0.4*rng.Float64())
				ts[on[i]].Hashrate += est[i]
			}
			moved := map[int]bool{}
			roundMoves := 0
			for _, f := range Plan(ts, 1, 0.02, 0.5, nil) {
				var order []int
				for i, tg := range on {
					if tg == f.From && !moved[i] {
						order = append(order, i)
					}
				}
				k, _ := Pick(est, f.Hashrate, order)
				for _, i := range order[:k] {
					require.False(t, moved[i], "seed %d: moved twice in one round", seed)
					moved[i], on[i] = true, f.To
					roundMoves++
				}
			}
			if round >= 2 {
				for k, w := range []float64{0.5, 0.3, 0.2} {
					require.InDelta(t, w, share(k), 0.05, "seed %d round %d target %d", seed, round, k)
				}
			}
			if round >= 4 {
				moves += roundMoves
			}
		}
		require.LessOrEqual(t, moves, n/30, "seed %d: rounds 4-8 moved %d miners: churn on noise", seed, moves)
	}
}
