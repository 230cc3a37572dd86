package reactor

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
)

// gcPercentNow reads the collector's target without changing it.
func gcPercentNow() int {
	v := debug.SetGCPercent(100)
	debug.SetGCPercent(v)
	return v
}

// unsetGOGC removes GOGC for the test and restores it after.
func unsetGOGC(t *testing.T) {
	t.Helper()
	if v, ok := os.LookupEnv("GOGC"); ok {
		require.NoError(t, os.Unsetenv("GOGC"))
		t.Cleanup(func() { _ = os.Setenv("GOGC", v) })
	}
	before := gcPercentNow()
	t.Cleanup(func() { debug.SetGCPercent(before) })
}

// Start sets the collector's target from gc-percent (default 10), and a
// reload changes it.
func TestGCPercent_StartReload_Good(t *testing.T) {
	unsetGOGC(t)
	debug.SetGCPercent(100)
	pool := startPool(t, mockpool.Config{})
	p, _ := startProxy(t, baseConfig(pool.Addr()))
	require.Equal(t, defaultGCPercent, p.Config().GCPercent)
	require.Equal(t, defaultGCPercent, gcPercentNow())

	next := p.Config().Clone()
	next.GCPercent = 60
	_, err := p.Reload(next)
	require.NoError(t, err)
	require.Equal(t, 60, gcPercentNow())

	next = p.Config().Clone()
	next.GCPercent = -1 // leave the runtime alone from now on
	_, err = p.Reload(next)
	require.NoError(t, err)
	require.Equal(t, 60, gcPercentNow())
}

// A GOGC environment variable wins over gc-percent.
func TestGCPercent_GOGCWins_Ugly(t *testing.T) {
	unsetGOGC(t)
	t.Setenv("GOGC", "100")
	debug.SetGCPercent(100)
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	cfg.GCPercent = 10
	startProxy(t, cfg)
	require.Equal(t, 100, gcPercentNow())
}

func TestGCPercent_Validate_Bad(t *testing.T) {
	for _, v := range []int{-2, 1001} {
		cfg := baseConfig("pool:3333")
		cfg.GCPercent = v
		cfg.Normalize()
		err := cfg.Validate()
		require.ErrorContains(t, err, "gc-percent", v)
	}
	cfg := baseConfig("pool:3333")
	cfg.GCPercent = -1
	cfg.Normalize()
	require.NoError(t, cfg.Validate())
}
