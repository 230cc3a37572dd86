package reactor

import (
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
)

func TestReload_SV1Mode_Bad(t *testing.T) {
	// Passthrough needs an account store wired at start: a live switch is
	// kept out, with a warning, and the rest of the reload applies.
	pool := startPool(t, mockpool.Config{})
	p, _ := startProxy(t, baseConfig(pool.Addr()))
	next := p.Config().Clone()
	next.SV1Mode = "passthrough"
	next.CustomDiff = 5000
	warnings, err := p.Reload(next)
	require.NoError(t, err)
	require.Contains(t, warnings, "sv1-mode changes need a restart; keeping aggregate")
	require.Equal(t, "aggregate", p.Config().SV1Mode)
	require.Equal(t, uint64(5000), p.Config().CustomDiff)
}
