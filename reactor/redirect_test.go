package reactor

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// A pool's client.reconnect may only take the connection, and the pool
// entry's user and password, to the pool's own host (any port) or to a
// host the entry's redirect-hosts allow. "localhost" stands for another
// host here: it reaches the same loopback relay as 127.0.0.1 but is a
// different name, and nothing is resolved to compare hosts.

// otherHost is the address of a pool as another host name.
func otherHost(t *testing.T, addr string) (host string, port int) {
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	return "localhost", atoi(t, p)
}

// warnLog returns a logger option that keeps warnings in buf.
func warnLog(buf *testutil.SyncBuffer) Option {
	return WithLogger(slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

func TestRedirect_CNOtherHostRefused_Bad(t *testing.T) {
	first := startPool(t, mockpool.Config{Seed: 1})
	other := startPool(t, mockpool.Config{Seed: 2})
	var log testutil.SyncBuffer
	_, addr := startProxy(t, fastFailover(first.Addr()), warnLog(&log))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	host, port := otherHost(t, other.Addr())
	first.SendReconnect(host, port)
	// A plain reconnect to the same pool: its new session's job.
	old := m.Job.Blob
	for m.Job.Blob == old {
		m.Read()
	}
	require.Equal(t, first.CurrentJob().JobID, m.Job.JobID)
	require.Nil(t, m.Submit().Error)
	require.Equal(t, 2, first.Stats().Logins, "reconnected to the pool that asked")
	st := other.Stats()
	require.Zero(t, st.Connections, "the other host never saw a connection, let alone the credentials")
	require.Contains(t, log.String(), "pool redirect refused")
	require.Contains(t, log.String(), "to=localhost:")
}

func TestRedirect_CNSameHostOtherPort_Good(t *testing.T) {
	first := startPool(t, mockpool.Config{Seed: 1})
	second := startPool(t, mockpool.Config{Seed: 2})
	_, addr := startProxy(t, fastFailover(first.Addr()))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	host, port, _ := net.SplitHostPort(second.Addr())
	first.SendReconnect(host, atoi(t, port))
	for m.Job.JobID != second.CurrentJob().JobID {
		m.Read()
	}
	require.Nil(t, m.Submit().Error)
	require.Equal(t, "POOLWALLET", second.Sessions()[0].Login)
}

func TestRedirect_CNAllowedHost_Good(t *testing.T) {
	first := startPool(t, mockpool.Config{Seed: 1})
	other := startPool(t, mockpool.Config{Seed: 2})
	cfg := fastFailover(first.Addr())
	cfg.Pools[0].RedirectHosts = []string{"LOCALHOST."} // any case, trailing dot
	_, addr := startProxy(t, cfg)
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	first.SendReconnect(otherHost(t, other.Addr()))
	for m.Job.JobID != other.CurrentJob().JobID {
		m.Read()
	}
	require.Nil(t, m.Submit().Error)
	require.Equal(t, "POOLWALLET", other.Sessions()[0].Login, "followed with the entry's credentials")
	require.Equal(t, 1, first.Stats().Logins)
}

func TestRedirect_SV1OtherHostRefused_Bad(t *testing.T) {
	first := startSV1Pool(t, sv1pool.Config{Seed: 1})
	other := startSV1Pool(t, sv1pool.Config{Seed: 2})
	var log testutil.SyncBuffer
	_, addr := startProxy(t, sv1Config(first.Addr()), warnLog(&log))
	m := testminer.DialSV1(t, addr)
	m.XSub = true
	m.Login("rig", 0)
	first.SendReconnect(otherHost(t, other.Addr()))
	for {
		if l := m.Read(); l.Method == "mining.set_extranonce" {
			break // a new session of the same pool
		}
	}
	m.WaitJob()
	require.Equal(t, first.CurrentJob().JobID, m.Job.JobID)
	r := m.Submit()
	require.True(t, r.Accepted(), r.Raw)
	require.Equal(t, 2, first.Stats().Authorizes, "reconnected to the pool that asked")
	require.Zero(t, other.Stats().Connections, "the other host never saw a connection, let alone the credentials")
	require.Contains(t, log.String(), "pool redirect refused")
	require.Contains(t, log.String(), "to=localhost:")
}

func TestRedirect_SV1SameHostOtherPort_Good(t *testing.T) {
	first := startSV1Pool(t, sv1pool.Config{Seed: 1})
	second := startSV1Pool(t, sv1pool.Config{Seed: 2})
	_, addr := startProxy(t, sv1Config(first.Addr()))
	m := testminer.DialSV1(t, addr)
	m.XSub = true
	m.Login("rig", 0)
	host, port, _ := net.SplitHostPort(second.Addr())
	first.SendReconnect(host, atoi(t, port))
	for m.Job.JobID != second.CurrentJob().JobID {
		m.Read()
	}
	r := m.Submit()
	require.True(t, r.Accepted(), r.Raw)
	require.Equal(t, "proxyacct", second.Sessions()[0].User)
}

func TestRedirect_SV1AllowedHost_Good(t *testing.T) {
	first := startSV1Pool(t, sv1pool.Config{Seed: 1})
	other := startSV1Pool(t, sv1pool.Config{Seed: 2})
	cfg := sv1Config(first.Addr())
	cfg.Pools[0].RedirectHosts = []string{"localhost"}
	_, addr := startProxy(t, cfg)
	m := testminer.DialSV1(t, addr)
	m.XSub = true
	m.Login("rig", 0)
	first.SendReconnect(otherHost(t, other.Addr()))
	for m.Job.JobID != other.CurrentJob().JobID {
		m.Read()
	}
	r := m.Submit()
	require.True(t, r.Accepted(), r.Raw)
	require.Equal(t, "proxyacct", other.Sessions()[0].User, "followed with the entry's credentials")
	require.Equal(t, 1, first.Stats().Authorizes)
}

// A refused redirect is a plain reconnect to the same pool, and no pool
// makes the session wait longer than maxReconnectWait.
func TestRedirect_RefusedWaitBounded_Bad(t *testing.T) {
	ms := newMemShard(t, &Config{Pools: []upstream.PoolConfig{{URL: "pool.example:3333", User: "W", Pass: "secret"}}})
	pc := ms.mp.conn
	pc.reconnectRequested([]byte("evil.example"), 3333, 3600)
	require.Nil(t, ms.mp.redirect, "the next dial goes to the configured pool")
	require.True(t, pc.reconnect)
	require.Equal(t, maxReconnectWait, ms.mp.waitBeforeReconnect)
	pc.reconnectRequested([]byte("pool.example"), 4444, 5)
	require.Equal(t, "pool.example:4444", ms.mp.redirect.to.URL, "same host, other port: followed")
	require.Equal(t, "pool.example:3333", ms.mp.redirect.entry.URL, "checked against the configured entry next time")
	require.Equal(t, 5*time.Second, ms.mp.waitBeforeReconnect)
}
