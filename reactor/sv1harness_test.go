package reactor

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// tinyDiff makes a share cost ~4096 hashes (well under a millisecond).
const tinyDiff = 1.0 / (1 << 20)

func startSV1Pool(t testing.TB, cfg sv1pool.Config) *sv1pool.Pool {
	t.Helper()
	if cfg.Difficulty == 0 {
		cfg.Difficulty = tinyDiff
	}
	if cfg.Relay == nil {
		cfg.Relay = testutil.RelayConfig(t)
	}
	pool, err := sv1pool.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { pool.Close() })
	return pool
}

// sv1Config is a one-loop proxy in front of SV1 pools (aggregate mode).
func sv1Config(pools ...string) *Config {
	cfg := &Config{EventLoops: 1, Retries: 1, RetryPause: 1, PoolTimeout: 3, ConnectTimeout: 2, SubmitTimeout: 2}
	for _, addr := range pools {
		cfg.Pools = append(cfg.Pools, upstream.PoolConfig{URL: addr, User: "proxyacct", Pass: "x", Family: upstream.SV1})
	}
	return cfg
}

func mustHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}
