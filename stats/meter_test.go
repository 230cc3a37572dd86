package stats

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestMeter_Rate_Good(t *testing.T) {
	var m Meter
	_, ok := m.Rate()
	require.False(t, ok, "nothing observed")
	d := MeterDecay(1, 60)
	// A steady 1000 H/s reads 1000 H/s from the first second on: the
	// average is judged over the time observed, not the whole window.
	for i := 1; i <= 120; i++ {
		m.Add(1000)
		m.Fold(d, 1)
		hs, ok := m.Rate()
		require.InDelta(t, 1000, hs, 0.5, "second %d", i)
		require.Equal(t, i >= 30, ok, "warm after half the window (second %d)", i)
	}
	// A two-second sweep gap counts its work over two seconds.
	m.Add(2000)
	m.Fold(MeterDecay(2, 60), 2)
	hs, _ := m.Rate()
	require.InDelta(t, 1000, hs, 0.5)
	// Mining stops: the estimate decays with the window, it does not drop.
	for i := 0; i < 60; i++ {
		m.Fold(d, 1)
	}
	hs, _ = m.Rate()
	require.Greater(t, hs, 300.0)
	require.Less(t, hs, 1000/math.E)
}

// Shares arrive as a Poisson process of fixed-difficulty shares (what a
// pool's target gives): the estimate is within ±20 % of the true rate
// most of the time once the window has a few dozen shares.
func TestMeter_Poisson_Ugly(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const rate, diff, tau = 4000.0, 1000.0, 20.0 // 4 shares/s
	d := MeterDecay(1, tau)
	var m Meter
	within, samples := 0, 0
	for sec := 0; sec < 2000; sec++ {
		// Poisson arrivals in one second.
		for x := rng.ExpFloat64(); x < rate/diff; x += rng.ExpFloat64() {
			m.Add(diff)
		}
		m.Fold(d, 1)
		if sec >= int(tau) {
			hs, ok := m.Rate()
			require.True(t, ok)
			samples++
			if math.Abs(hs-rate) <= 0.2*rate {
				within++
			}
		}
	}
	require.Greater(t, float64(within)/float64(samples), 0.9)
}

func TestMeter_Bad(t *testing.T) {
	var m Meter
	m.Add(500)
	m.Fold(0.5, 0) // no time passed: nothing folds
	_, ok := m.Rate()
	require.False(t, ok)
	require.Zero(t, MeterDecay(1, 0))
	require.Zero(t, MeterDecay(0, 10))
	require.Equal(t, uintptr(16), unsafe.Sizeof(m), "a meter per miner stays small")
}
