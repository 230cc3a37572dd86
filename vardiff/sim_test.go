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
// difficulty (nothing known about them): after N retargets every one sends
// a share about every target-seconds and stays there.
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
		var inBand, samples, changes, miners int
		worstBand := 1.0
		for seed := uint64(1); seed <= 4; seed++ {
			r := rand.New(rand.NewPCG(seed, 13))
			for i := 0; i <= 30; i++ {
				rate := math.Pow(1000, float64(i)/30) * 100 / c.TargetSeconds // ideal difficulty 100..100000
				m := simMiner{r: r, rateAt: func(int64) float64 { return rate }, countFrom: settle}
				require.Equal(t, pool, m.s.Start(&c, pool, 0, 1, 0))
				m.run(&c, pool, 0, horizon)
				inBand += m.inBand
				samples += m.samples
				changes += m.changes
				miners++
				band := float64(m.inBand) / float64(m.samples)
				worstBand = min(worstBand, band)
				// The share interval over the 4 hours.
				interval := float64(horizon-settle) / float64(m.shares)
				require.InDelta(t, c.TargetSeconds, interval, c.TargetSeconds*c.Variance,
					"%s: miner %d (seed %d): mean share interval", tc.name, i, seed)
				require.LessOrEqual(t, m.changes, 16, "%s: miner %d (seed %d): changes in 4 h", tc.name, i, seed)
			}
		}
		perHour := float64(changes) / float64(miners) / 4
		t.Logf("%s: within ±variance %.1f %% of the time after %d retargets (worst miner %.1f %%), %.2f changes per miner-hour",
			tc.name, 100*float64(inBand)/float64(samples), tc.settle, 100*worstBand, perHour)
		require.GreaterOrEqual(t, float64(inBand)/float64(samples), 0.97, tc.name)
		require.GreaterOrEqual(t, worstBand, 0.7, tc.name)
		require.LessOrEqual(t, perHour, 1.0, tc.name)
	}
}

// The acceptance run in numbers: a CPU miner on an SV1 pool whose
// difficulty gives it one share per ~30 s, target-seconds 3: within a
// minute most runs send a share every 2–5 s, within two minutes nearly all.
func TestSimulation_TenfoldAbove_Good(t *testing.T) {
	c := Config{TargetSeconds: 3, RetargetSeconds: 30, Variance: 0.3, MinDiff: 0.0001}
	const pool, rate, runs = 30.0, 1.0, 1000
	at := map[int64]int{}
	for seed := uint64(0); seed < runs; seed++ {
		m := simMiner{r: rand.New(rand.NewPCG(seed, 7)), rateAt: func(int64) float64 { return rate }}
		m.s.Start(&c, pool, 0, 1, 0)
		prev := int64(0)
		for _, end := range []int64{60, 120, 300} {
			m.run(&c, pool, prev, end)
			prev = end
			if iv := m.s.Diff() / rate; iv >= 2 && iv <= 5 {
				at[end]++
			}
		}
	}
	t.Logf("share every 2–5 s: %.1f %% of runs after 60 s, %.1f %% after 120 s, %.1f %% after 300 s",
		100*float64(at[60])/runs, 100*float64(at[120])/runs, 100*float64(at[300])/runs)
	require.GreaterOrEqual(t, at[60], runs*80/100)
	require.GreaterOrEqual(t, at[120], runs*92/100)
	require.GreaterOrEqual(t, at[300], runs*96/100)
}

// A miner whose speed halves (throttling), then stops, then comes back.
func TestSimulation_SpeedChanges_Good(t *testing.T) {
	c := Config{TargetSeconds: 10, RetargetSeconds: 30, Variance: 0.3, MinDiff: 1}
	const pool = 1e9
	var halved, back []int
	for seed := uint64(1); seed <= 20; seed++ {
		rate := 100.0 // ideal difficulty 1000
		m := simMiner{r: rand.New(rand.NewPCG(seed, 3)), rateAt: func(int64) float64 { return rate }}
		m.s.Start(&c, pool, 0, 1, 0)
		m.run(&c, pool, 0, 3600)
		require.InDelta(t, 1000, m.s.Diff(), 300, "seed %d settled", seed)

		// Throttled to half speed: the difficulty follows to 500 ± 30 %.
		rate = 50
		now := int64(3600)
		for ; math.Abs(m.s.Diff()/500-1) > c.Variance; now += 10 {
			require.Less(t, now, int64(3600+7200), "seed %d: not following a halved speed after 2 h", seed)
			m.run(&c, pool, now, now+10)
		}
		halved = append(halved, int(now-3600))

		// Dead: the difficulty backs off to min-diff within 10 minutes.
		rate = 1e-9
		m.run(&c, pool, 20000, 20600)
		require.Equal(t, c.MinDiff, m.s.Diff(), "seed %d: a dead miner backs off to min-diff", seed)

		// Back at full speed: early retargets climb ×8 per step at once,
		// within 50 % of the ideal in seconds.
		rate = 100
		now = 20600
		for ; math.Abs(m.s.Diff()/1000-1) > 0.5; now++ {
			require.Less(t, now, int64(20600+300), "seed %d: not back within 50 %% after 5 min", seed)
			m.run(&c, pool, now, now+1)
		}
		back = append(back, int(now-20600))
	}
	slices.Sort(halved)
	slices.Sort(back)
	t.Logf("seconds to follow a halved speed: median %d, worst %d; back from min-diff within 50 %%: median %d, worst %d",
		halved[len(halved)/2], halved[len(halved)-1], back[len(back)/2], back[len(back)-1])
	require.LessOrEqual(t, halved[len(halved)/2], 1800)
	require.LessOrEqual(t, back[len(back)/2], 60)
}
