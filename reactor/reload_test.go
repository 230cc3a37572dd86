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

func TestReload_HTTPSection_Ugly(t *testing.T) {
	// The API server does not move on a reload: a config without an http
	// section keeps the running one (token and restricted included), and
	// one with the same host and port applies its token at once.
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	cfg.HTTP = HTTPConfig{Enabled: true, Port: 18080, AccessToken: "T"}
	p, _ := startProxy(t, cfg)
	next := p.Config().Clone()
	next.HTTP = HTTPConfig{}
	warnings, err := p.Reload(next)
	require.NoError(t, err)
	require.NotEmpty(t, warnings)
	require.Equal(t, "T", p.Config().HTTP.AccessToken)
	require.True(t, p.Config().HTTP.Enabled)
	next = p.Config().Clone()
	next.HTTP.AccessToken = "U"
	warnings, err = p.Reload(next)
	require.NoError(t, err)
	require.Empty(t, warnings)
	require.Equal(t, "U", p.Config().HTTP.AccessToken)
}

// xmrig-proxy's stock file says "tls": {"enabled": true}: reloading the
// same file again is not a TLS change (Enabled is a pointer; the values
// are compared, not the pointers).
func TestReload_TLSEnabled_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	on := true
	cfg.TLS.Enabled = &on
	p, _ := startProxy(t, cfg)
	next := p.Config().Clone()
	warnings, err := p.Reload(next)
	require.NoError(t, err)
	require.Empty(t, warnings)
}
