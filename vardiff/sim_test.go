package vardiff

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// poisson draws a Poisson count of the given mean (Knuth below 50, a
// rounded normal above).
func poisson(r *rand.Rand, mean float64) int {
	if mean > 50 {
		return max(0, int(math.Round(mean+math.Sqrt(mean)*r.NormFloat64())))
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// simMiner runs one miner of the given rate (difficulty units per second:
// its hashrate / K) for the seconds [from, to) the way a shard drives it:
// the shares found in a second are judged at the difficulty the miner had
// at its start (the job's), an early retarget runs at once, the sweep runs
// at every second. rate may change over time (rateAt). It returns the
// number of changes.
type simMiner struct {
	s      State
	r      *rand.Rand
	rateAt func(now int64) float64
	// shares and changes counted from countFrom on.
	countFrom       int64
	shares, changes int
	inBand, samples int
}

func (m *simMiner) run(c *Config, pool float64, from, to int64) {
	for now := from; now < to; now++ {
		d := m.s.Diff()
		rate := m.rateAt(now)
		for k := poisson(m.r, rate/d); k > 0; k-- {
			if now >= m.countFrom {
				m.shares++
			}
			if m.s.Share(c, d, now) {
				if _, ch := m.s.Retarget(c, pool, now); ch && now >= m.countFrom {
					m.changes++
				}
			}
		}
		if _, ch := m.s.Retarget(c, pool, now+1); ch && now+1 >= m.countFrom {
			m.changes++
		}
		if now+1 >= m.countFrom {
			m.samples++
			if ideal := rate * c.TargetSeconds; math.Abs(m.s.Diff()/ideal-1) <= c.Variance {
				m.inBand++
			}
		}
	}
}

// Miners whose speeds span 1000×, on a pool whose difficulty is 1000×
// above the fastest (10⁶× above the slowest), all started at the pool's
// difficulty (nothing known about them): after N retargets they send a
// share about every target-seconds and stay there. The figures are rates
// over 248 miners (8 seeds × 31 speeds) per configuration: a controller
// driven by Poisson counts moves an unlucky miner now and then (a window
// without shares when it is on target, a noisy estimate), so no bound
// holds for every miner of every seed; these say how rare that is.
func TestSimulation_Settles_Good(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		// settle: retargets after which the difficulty must be within
		// target ± variance.
		settle int64
	}{
		{"target 10 s, retarget 30 s", Config{TargetSeconds: 10, RetargetSeconds: 30, Variance: 0.3, MinDiff: 1}, 40},
		{"target 3 s, retarget 30 s", Config{TargetSeconds: 3, RetargetSeconds: 30, Variance: 0.3, MinDiff: 1}, 20},
		{"target 5 s, retarget 10 s", Config{TargetSeconds: 5, RetargetSeconds: 10, Variance: 0.3, MinDiff: 1}, 60},
		{"target 30 s, retarget 90 s, variance 0.5", Config{TargetSeconds: 30, RetargetSeconds: 90, Variance: 0.5, MinDiff: 1}, 40},
	} {
		c := tc.c
		require.NoError(t, c.Validate())
		const pool = 1e9
		settle := tc.settle * int64(c.RetargetSeconds)
		horizon := settle + 4*3600
		var inBand, samples, changes int
		var bands, offs, moves []float64
		for seed := uint64(1); seed <= 8; seed++ {
			r := rand.New(rand.NewPCG(seed, 13))
			for i := 0; i <= 30; i++ {
				rate := math.Pow(1000, float64(i)/30) * 100 / c.TargetSeconds // ideal difficulty 100..100000
				m := simMiner{r: r, rateAt: func(int64) float64 { return rate }, countFrom: settle}
				require.Equal(t, pool, m.s.Start(&c, pool, 0, 1, 0))
				m.run(&c, pool, 0, horizon)
				inBand += m.inBand
				samples += m.samples
				changes += m.changes
				bands = append(bands, float64(m.inBand)/float64(m.samples))
				// The mean share interval over the 4 hours, off target by.
				interval := float64(horizon-settle) / float64(m.shares)
				offs = append(offs, math.Abs(interval/c.TargetSeconds-1))
				moves = append(moves, float64(m.changes))
			}
		}
		slices.Sort(bands)
		slices.Sort(offs)
		slices.Sort(moves)
		p5 := len(bands) / 20 // the 5 % worst miners start here (from either end)
		perHour := float64(changes) / float64(len(bands)) / 4
		t.Logf("%s: within ±variance %.1f %% of the time after %d retargets (95 %% of miners ≥ %.1f %%, worst %.1f %%); "+
			"mean interval off target by ≤ %.1f %% for 95 %% (worst %.1f %%); changes in 4 h ≤ %.0f for 95 %% (worst %.0f), %.2f per miner-hour",
			tc.name, 100*float64(inBand)/float64(samples), tc.settle, 100*bands[p5], 100*bands[0],
			100*offs[len(offs)-1-p5], 100*offs[len(offs)-1], moves[len(moves)-1-p5], moves[len(moves)-1], perHour)
		require.GreaterOrEqual(t, float64(inBand)/float64(samples), 0.97, tc.name)
		require.GreaterOrEqual(t, bands[p5], 0.9, "%s: 95 %% of miners within ±variance 90 %% of the time", tc.name)
		require.GreaterOrEqual(t, bands[0], 0.5, "%s: every miner within ±variance half the time", tc.name)
		require.LessOrEqual(t, offs[len(offs)-1], c.Variance, "%s: every miner's mean interval within ±variance", tc.name)
		require.LessOrEqual(t, moves[len(moves)-1-p5], 16.0, "%s: 95 %% of miners change at most 16 times in 4 h", tc.name)
		require.LessOrEqual(t, moves[len(moves)-1], 40.0, "%s: every miner at most 40", tc.name)
		require.LessOrEqual(t, perHour, 1.0, tc.name)
	}
}

// The acceptance runs in numbers (1,000 runs each): the share
// interval the difficulty gives, 60, 120 and 300 s after the miner logs
// in, nothing known about it.
//
//   - A CPU miner on an SV1 pool whose difficulty gives it one share per
//     ~30 s, target-seconds 3: a share every 2–5 s.
//   - XMRig (30 H/s) on a CryptoNote pool at 180,000, a hundred times
//     its work per minute, target-seconds 5: a share every 3–8.3 s (the
//     same band, 0.6–1.67 targets).
func TestSimulation_AcceptanceRuns_Good(t *testing.T) {
	for _, tc := range []struct {
		name        string
		c           Config
		pool, rate  float64 // difficulty; difficulty units per second
		lo, hi      float64 // the band, seconds per share
		at60, at120 int     // runs in the band, of 1000, at least
		at300       int
	}{
		{"cpuminer, SV1, pool at 10 targets", Config{TargetSeconds: 3, RetargetSeconds: 30, Variance: 0.3, MinDiff: 0.0001}, 30, 1, 2, 5, 900, 930, 960},
		{"XMRig, CryptoNote, pool at 1200 targets", Config{TargetSeconds: 5, RetargetSeconds: 30, Variance: 0.3, MinDiff: 10}, 180_000, 30, 3, 5 / 0.6, 900, 900, 960},
	} {
		const runs = 1000
		c := tc.c
		require.NoError(t, c.Validate())
		at := map[int64]int{}
		for seed := uint64(0); seed < runs; seed++ {
			m := simMiner{r: rand.New(rand.NewPCG(seed, 7)), rateAt: func(int64) float64 { return tc.rate }}
			m.s.Start(&c, tc.pool, 0, 1, 0)
			prev := int64(0)
			for _, end := range []int64{60, 120, 300} {
				m.run(&c, tc.pool, prev, end)
				prev = end
				if iv := m.s.Diff() / tc.rate; iv >= tc.lo && iv <= tc.hi {
					at[end]++
				}
			}
		}
		t.Logf("%s: a share every %.3g–%.3g s in %.1f %% of runs after 60 s, %.1f %% after 120 s, %.1f %% after 300 s",
			tc.name, tc.lo, tc.hi, 100*float64(at[60])/runs, 100*float64(at[120])/runs, 100*float64(at[300])/runs)
		require.GreaterOrEqual(t, at[60], tc.at60, tc.name)
		require.GreaterOrEqual(t, at[120], tc.at120, tc.name)
		require.GreaterOrEqual(t, at[300], tc.at300, tc.name)
	}
}

// A miner whose speed halves (throttling), then stops, then comes back;
// 100 seeds, as rates (see TestSimulation_Settles_Good).
func TestSimulation_SpeedChanges_Good(t *testing.T) {
	c := Config{TargetSeconds: 10, RetargetSeconds: 30, Variance: 0.3, MinDiff: 1}
	const pool, seeds = 1e9, 100
	var halved, back []int
	settled, dead := 0, 0
	for seed := uint64(1); seed <= seeds; seed++ {
		rate := 100.0 // ideal difficulty 1000
		m := simMiner{r: rand.New(rand.NewPCG(seed, 3)), rateAt: func(int64) float64 { return rate }}
		m.s.Start(&c, pool, 0, 1, 0)
		m.run(&c, pool, 0, 3600)
		if math.Abs(m.s.Diff()/1000-1) <= c.Variance {
			settled++
		}

		// Throttled to half speed: the difficulty follows to 500 ± 30 %
		// (seconds taken; 7200 = not within 2 h).
		rate = 50
		now := int64(3600)
		for ; math.Abs(m.s.Diff()/500-1) > c.Variance && now < 3600+7200; now += 10 {
			m.run(&c, pool, now, now+10)
		}
		halved = append(halved, int(now-3600))

		// Dead: the difficulty backs off to min-diff within 10 minutes.
		rate = 1e-9
		m.run(&c, pool, 20000, 20600)
		if m.s.Diff() == c.MinDiff {
			dead++
		}

		// Back at full speed: searched for again from min-diff, within
		// 50 % of the ideal in seconds (300 = not within 5 minutes).
		rate = 100
		now = 20600
		for ; math.Abs(m.s.Diff()/1000-1) > 0.5 && now < 20600+300; now++ {
			m.run(&c, pool, now, now+1)
		}
		back = append(back, int(now-20600))
	}
	slices.Sort(halved)
	slices.Sort(back)
	// within counts the runs of a sorted list below limit.
	within := func(xs []int, limit int) int { n, _ := slices.BinarySearch(xs, limit); return n }
	t.Logf("settled within ±30 %% after an hour: %d/%d; a halved speed followed in median %d s, within 2 h %d/%d; "+
		"dead at min-diff after 10 min %d/%d; back within 50 %% in median %d s, within 5 min %d/%d",
		settled, seeds, halved[seeds/2], within(halved, 7200), seeds, dead, seeds, back[seeds/2], within(back, 300), seeds)
	require.GreaterOrEqual(t, settled, seeds*95/100)
	require.LessOrEqual(t, halved[seeds/2], 1800)
	require.GreaterOrEqual(t, within(halved, 7200), seeds*95/100)
	require.GreaterOrEqual(t, dead, seeds*95/100)
	require.LessOrEqual(t, back[seeds/2], 60)
	require.GreaterOrEqual(t, within(back, 300), seeds*95/100)
}
