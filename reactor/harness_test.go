package reactor

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// waitTimeout bounds every wait in these tests; nothing sleeps.
const waitTimeout = testutil.WaitTimeout

func testLogger() *slog.Logger {
	if os.Getenv("GOPROXY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startPool starts a CryptoNote mock pool behind a segmenting relay
// (unless cfg.Relay is set): the proxy reads its lines cut as a real
// network cuts them.
func startPool(t testing.TB, cfg mockpool.Config) *mockpool.Pool {
	t.Helper()
	if cfg.Relay == nil {
		cfg.Relay = testutil.RelayConfig(t)
	}
	pool, err := mockpool.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { pool.Close() })
	return pool
}

// baseConfig is a one-loop nicehash proxy in front of the given pools,
// with fast retries.
func baseConfig(pools ...string) *Config {
	cfg := &Config{EventLoops: 1, Retries: 1, RetryPause: 1}
	for _, addr := range pools {
		cfg.Pools = append(cfg.Pools, upstream.PoolConfig{URL: addr, User: "POOLWALLET", Pass: "x"})
	}
	return cfg
}

// startProxy starts a proxy on a free loopback port and returns it with
// the address miners dial: a segmenting relay in front of the first bind,
// so every miner's lines reach the proxy cut at random places, coalesced
// or byte by byte (startProxyDirect skips the relay).
func startProxy(t testing.TB, cfg *Config, opts ...Option) (*Proxy, string) {
	t.Helper()
	p, addr := startProxyDirect(t, cfg, opts...)
	return p, testutil.Relay(t, addr)
}

// startProxyDirect is startProxy without the relay: for tests that need
// the miner's own source address or exact segment boundaries.
func startProxyDirect(t testing.TB, cfg *Config, opts ...Option) (*Proxy, string) {
	t.Helper()
	port, err := freePort()
	require.NoError(t, err)
	if len(cfg.Bind) == 0 {
		cfg.Bind = []BindConfig{{Host: "127.0.0.1", Port: port}}
	}
	p, err := New(cfg, append([]Option{WithLogger(testLogger())}, opts...)...)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, p.Start(ctx))
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	return p, cfg.Bind[0].Address()
}

func waitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func deadlineIn(seconds int) time.Time { return time.Now().Add(time.Duration(seconds) * time.Second) }

func atoi(t testing.TB, s string) int {
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}
