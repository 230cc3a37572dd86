package reactor

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// fastFailover is a config whose pool timeouts are short enough for tests.
func fastFailover(pools ...string) *Config {
	cfg := baseConfig(pools...)
	cfg.PoolTimeout = 2
	cfg.ConnectTimeout = 2
	cfg.SubmitTimeout = 1
	return cfg
}

// deadAddr returns a loopback address with nothing listening.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestFailover_PrimaryDown_Good(t *testing.T) {
	primary := startPool(t, mockpool.Config{Seed: 1})
	fallback := startPool(t, mockpool.Config{Seed: 2})
	_, addr := startProxy(t, fastFailover(primary.Addr(), fallback.Addr()))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	require.NoError(t, primary.Close())
	// The fallback's login job reaches the miner, over the same connection,
	// within 3 s (RFC §22).
	m.Timeout = 3 * time.Second
	r := m.Read()
	m.Timeout = waitTimeout
	require.Equal(t, "job", r.Method)
	require.Equal(t, fallback.CurrentJob().JobID, m.Job.JobID)
	require.Nil(t, m.Submit().Error)
	require.Equal(t, int64(1), fallback.Stats().Accepted)
}

func TestFailover_AllDown_Bad(t *testing.T) {
	p, addr := startProxy(t, fastFailover(deadAddr(t), deadAddr(t)))
	m := testminer.DialCN(t, addr)
	m.Send(`{"id":1,"method":"login","params":{"login":"WALLET"}}`)
	testutil.Eventually(t, func() bool { return p.Summary().Counters.PoolFailures >= 4 }, "several failed rounds")
	// Still waiting for work, still connected.
	m.Send(`{"id":2,"method":"keepalived","params":{"id":"x"}}`)
	r := m.Read()
	require.Equal(t, "KEEPALIVED", r.Result.Status)
	require.Equal(t, uint64(1), p.Summary().MinersNow)
}

func TestFailover_Recovery_Ugly(t *testing.T) {
	primaryAddr := deadAddr(t)
	fallback := startPool(t, mockpool.Config{Seed: 2})
	_, addr := startProxy(t, fastFailover(primaryAddr, fallback.Addr()))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	require.Equal(t, fallback.CurrentJob().JobID, m.Job.JobID)
	// The primary comes back; the next reconnect goes to it, not to the
	// fallback that is still up.
	primary := startPool(t, mockpool.Config{Addr: primaryAddr, Seed: 1})
	fallback.DropConnections()
	r := m.Read()
	require.Equal(t, "job", r.Method)
	require.Equal(t, primary.CurrentJob().JobID, m.Job.JobID)
	require.Equal(t, 1, primary.Stats().Logins)
	require.Nil(t, m.Submit().Error)
}

func TestFailover_SilentPool_Bad(t *testing.T) {
	// Accepts TCP, never answers the login: dropped after pool-timeout.
	silent := startPool(t, mockpool.Config{Seed: 1})
	silent.SetBehavior(mockpool.Behavior{Silent: true})
	good := startPool(t, mockpool.Config{Seed: 2})
	_, addr := startProxy(t, fastFailover(silent.Addr(), good.Addr()))
	m := testminer.DialCN(t, addr)
	r := m.Login("WALLET")
	require.Nil(t, r.Error)
	require.Equal(t, good.CurrentJob().JobID, m.Job.JobID)
}

func TestFailover_GarbagePool_Bad(t *testing.T) {
	garbage := startPool(t, mockpool.Config{Seed: 1})
	garbage.SetBehavior(mockpool.Behavior{Garbage: true})
	good := startPool(t, mockpool.Config{Seed: 2})
	p, addr := startProxy(t, fastFailover(garbage.Addr(), good.Addr()))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	require.Equal(t, good.CurrentJob().JobID, m.Job.JobID)
	testutil.Eventually(t, func() bool { return p.Summary().Counters.PoolFailures >= 1 }, "garbage counted as a failure")
}

func TestFailover_RefusedLogin_Bad(t *testing.T) {
	refusing := startPool(t, mockpool.Config{Seed: 1})
	refusing.SetBehavior(mockpool.Behavior{RejectLogin: "Invalid payment address provided"})
	good := startPool(t, mockpool.Config{Seed: 2})
	_, addr := startProxy(t, fastFailover(refusing.Addr(), good.Addr()))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	require.Equal(t, good.CurrentJob().JobID, m.Job.JobID)
}

func TestFailover_DropMidSubmit_Ugly(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	p, addr := startProxy(t, fastFailover(pool.Addr()))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	pool.SetBehavior(mockpool.Behavior{DropOnSubmit: true})
	r := m.Submit()
	require.NotNil(t, r.Error, "the miner hears about the lost share")
	require.Equal(t, stratum.MsgBadGateway, r.Error.Message)
	// The proxy reconnects; nothing stays pending.
	pool.SetBehavior(mockpool.Behavior{})
	require.Equal(t, "job", m.Read().Method)
	require.Nil(t, m.Submit().Error)
	require.Zero(t, p.inFlight(waitCtx(t)))
}

func TestFailover_NoSubmitReply_Ugly(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	p, addr := startProxy(t, fastFailover(pool.Addr()))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	pool.SetBehavior(mockpool.Behavior{NoSubmitReply: true})
	r := m.Submit()
	require.NotNil(t, r.Error)
	require.Equal(t, stratum.MsgPoolTimeout, r.Error.Message, "answered after submit-timeout")
	require.Zero(t, p.inFlight(waitCtx(t)), "no pending entry left behind")
	testutil.Eventually(t, func() bool { return p.Summary().Counters.Timeouts == 1 }, "timeout counted")
}

func TestReload_Pools_Good(t *testing.T) {
	first := startPool(t, mockpool.Config{Seed: 1})
	second := startPool(t, mockpool.Config{Seed: 2})
	cfg := fastFailover(first.Addr())
	p, addr := startProxy(t, cfg)
	miners := []*testminer.CN{testminer.DialCN(t, addr), testminer.DialCN(t, addr)}
	for _, m := range miners {
		require.Nil(t, m.Login("WALLET").Error)
	}
	next := p.Config().Clone()
	next.Pools[0].URL = second.Addr()
	warnings, err := p.Reload(next)
	require.NoError(t, err)
	require.Empty(t, warnings)
	for _, m := range miners {
		r := m.Read()
		require.Equal(t, "job", r.Method)
		require.Equal(t, second.CurrentJob().JobID, m.Job.JobID)
		require.Nil(t, m.Submit().Error)
	}
	require.NoError(t, first.WaitFor(waitCtx(t), func(s mockpool.Stats) bool { return s.ActiveConnections == 0 }), "old connection retired")
	testutil.Eventually(t, func() bool { return p.Summary().MinersNow == 2 }, "both miners still connected")
}

func TestReload_Invalid_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	p, _ := startProxy(t, fastFailover(pool.Addr()))
	bad := p.Config().Clone()
	bad.Pools[0].URL = "not a url"
	_, err := p.Reload(bad)
	require.Error(t, err)
	require.Equal(t, pool.Addr(), p.Config().Pools[0].URL, "old config stays")
	moved := p.Config().Clone()
	moved.Bind[0].Port++
	warnings, err := p.Reload(moved)
	require.NoError(t, err)
	require.NotEmpty(t, warnings, "bind changes are reported, not applied")
	require.Equal(t, p.binds[0].port, p.Config().Bind[0].Port)
}
