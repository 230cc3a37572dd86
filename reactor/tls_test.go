package reactor

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/upstream"
)

func TestTLS_Miner_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	port, err := freePort()
	require.NoError(t, err)
	cfg := baseConfig(pool.Addr())
	plainPort, _ := freePort()
	cfg.Bind = []BindConfig{{Host: "127.0.0.1", Port: plainPort}, {Host: "127.0.0.1", Port: port, TLS: true}}
	p, _ := startProxy(t, cfg)
	// No certificate configured: a self-signed one is generated.
	m := testminer.DialCN(t, testutil.Relay(t, cfg.Bind[1].Address()), testminer.WithTLS(&tls.Config{InsecureSkipVerify: true}))
	r := m.Login("WALLET")
	require.Nil(t, r.Error, r.Raw)
	require.Contains(t, r.Result.Extensions, "nicehash")
	require.Nil(t, m.Submit().Error)
	require.Equal(t, int64(1), pool.Stats().Accepted)
	// A plain miner on the other bind shares the same pool session.
	plain := testminer.DialCN(t, testutil.Relay(t, cfg.Bind[0].Address()))
	require.Nil(t, plain.Login("WALLET").Error)
	require.NotEqual(t, m.FixedByte(), plain.FixedByte())
	require.Equal(t, 1, pool.Stats().Logins)
	miners, err := p.Miners(waitCtx(t))
	require.NoError(t, err)
	require.Len(t, miners, 2)
}

func TestTLS_Miner_Bad(t *testing.T) {
	// A TLS port that gets plain text, or a client that never finishes the
	// handshake, is closed within the login timeout.
	pool := startPool(t, mockpool.Config{})
	port, _ := freePort()
	cfg := baseConfig(pool.Addr())
	cfg.LoginTimeout = 1
	cfg.Bind = []BindConfig{{Host: "127.0.0.1", Port: port, TLS: true}}
	p, _ := startProxy(t, cfg)
	m := testminer.DialCN(t, testutil.Relay(t, cfg.Bind[0].Address()))
	m.Send(`{"id":1,"method":"login","params":{"login":"W"}}`)
	m.ExpectClosed()
	hung := testminer.DialCN(t, testutil.Relay(t, cfg.Bind[0].Address()))
	hung.ExpectClosed()
	testutil.Eventually(t, func() bool { return p.conns.Load() == 0 }, "no connection slot leaked")
}

func TestTLS_PoolPinned_Good(t *testing.T) {
	cert := testminer.SelfSignedCert(t)
	pool := startPool(t, mockpool.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	cfg := fastFailover()
	cfg.Pools = []upstream.PoolConfig{{URL: "stratum+ssl://" + pool.Addr(), User: "W", TLSFingerprint: upstream.Fingerprint(cert.Certificate[0])}}
	_, addr := startProxy(t, cfg)
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	require.Nil(t, m.Submit().Error, "shares flow over the TLS pool connection")
	require.Equal(t, int64(1), pool.Stats().Accepted)
}

func TestTLS_PoolPinned_Bad(t *testing.T) {
	cert := testminer.SelfSignedCert(t)
	pinned := startPool(t, mockpool.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Seed: 1})
	good := startPool(t, mockpool.Config{Seed: 2})
	cfg := fastFailover()
	cfg.Pools = []upstream.PoolConfig{
		{URL: pinned.Addr(), User: "W", TLS: true, TLSFingerprint: upstream.Fingerprint([]byte("another certificate"))},
		{URL: good.Addr(), User: "W"},
	}
	p, addr := startProxy(t, cfg)
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	require.Equal(t, good.CurrentJob().JobID, m.Job.JobID, "a pin mismatch moves on to the next pool")
	require.Zero(t, pinned.Stats().Logins)
	testutil.Eventually(t, func() bool { return p.Summary().Counters.PoolFailures >= 1 }, "pin failure counted")
}

func proxyConfig(t *testing.T, poolAddr string) (*Config, string) {
	port, _ := freePort()
	cfg := baseConfig(poolAddr)
	cfg.LoginTimeout = 2
	cfg.Bind = []BindConfig{{Host: "127.0.0.1", Port: port, ProxyProtocol: true}}
	return cfg, cfg.Bind[0].Address()
}

func TestProxyProtocol_V1_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg, _ := proxyConfig(t, pool.Addr())
	p, addr := startProxy(t, cfg)
	m := testminer.DialCN(t, addr)
	m.Send("PROXY TCP4 203.0.113.7 127.0.0.1 45678 3333\r")
	require.Nil(t, m.Login("WALLET").Error)
	miners, err := p.Miners(waitCtx(t))
	require.NoError(t, err)
	require.Len(t, miners, 1)
	require.Equal(t, netip.MustParseAddrPort("203.0.113.7:45678"), miners[0].Addr)
}

func TestProxyProtocol_V2_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg, _ := proxyConfig(t, pool.Addr())
	p, addr := startProxy(t, cfg)
	m := testminer.DialCN(t, addr)
	hdr := append([]byte{}, proxyV2Sig...)
	hdr = append(hdr, 0x21, 0x21) // v2 PROXY, TCP over IPv6
	hdr = binary.BigEndian.AppendUint16(hdr, 36+5)
	src := netip.MustParseAddr("2001:db8::42").As16()
	dst := netip.MustParseAddr("2001:db8::1").As16()
	hdr = append(hdr, src[:]...)
	hdr = append(hdr, dst[:]...)
	hdr = binary.BigEndian.AppendUint16(hdr, 50505)
	hdr = binary.BigEndian.AppendUint16(hdr, 3333)
	hdr = append(hdr, 0x04, 0x00, 0x02, 'x', 'y') // a TLV, ignored
	_, err := m.Conn.Write(hdr)
	require.NoError(t, err)
	require.Nil(t, m.Login("WALLET").Error)
	miners, err := p.Miners(waitCtx(t))
	require.NoError(t, err)
	require.Equal(t, "[2001:db8::42]:50505", miners[0].Addr.String())
}

func TestProxyProtocol_Missing_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg, _ := proxyConfig(t, pool.Addr())
	_, addr := startProxy(t, cfg)
	m := testminer.DialCN(t, addr)
	m.Send(`{"id":1,"method":"login","params":{"login":"W"}}`)
	m.ExpectClosed()
	m = testminer.DialCN(t, addr)
	m.Send("PROXY TCP4 not-an-ip 127.0.0.1 1 2\r")
	m.ExpectClosed()
}

func TestProxyProtocol_Parse_Ugly(t *testing.T) {
	for in, want := range map[string]string{
		"PROXY TCP4 1.2.3.4 5.6.7.8 10 20\r\n":      "1.2.3.4:10",
		"PROXY TCP6 ::1 ::2 65535 1\r\n":            "[::1]:65535",
		"PROXY UNKNOWN\r\n":                         "invalid AddrPort",
		"PROXY UNKNOWN ff 1 2 3 4 5 6 7 8 9 10\r\n": "invalid AddrPort",
	} {
		src, n, done, err := parseProxyHeader([]byte(in))
		require.NoError(t, err, in)
		require.True(t, done)
		require.Equal(t, len(in), n)
		require.Equal(t, want, src.String())
	}
	for _, in := range []string{
		"PROXY TCP4 1.2.3.4 5.6.7.8 10\r\n", "PROXY TCP4 ::1 5.6.7.8 10 20\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 010 20\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 70000 20\r\n", "PROXY SCTP 1.2.3.4 5.6.7.8 1 2\r\n", "GET / HTTP/1.1\r\n", "{}\n",
		"\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c",
	} {
		_, _, _, err := parseProxyHeader([]byte(in))
		require.ErrorIs(t, err, ErrProxyHeader, "%q", in)
	}
	for _, in := range []string{"PROX", "PROXY TCP4 1.2.3.4", "\r\n\r\n\x00", "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\x01"} {
		_, _, done, err := parseProxyHeader([]byte(in))
		require.NoError(t, err, "%q", in)
		require.False(t, done, "%q is an incomplete prefix", in)
	}
}

func TestSimple_ReuseTimeout_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := fastFailover(pool.Addr())
	cfg.Mode = "simple"
	cfg.ReuseTimeout = 30
	p, addr := startProxy(t, cfg)
	a := testminer.DialCN(t, addr)
	r := a.Login("WALLET")
	require.Nil(t, r.Error)
	require.NotContains(t, r.Result.Extensions, "nicehash", "simple mode: the miner owns the whole nonce")
	require.Nil(t, a.Submit().Error)
	a.Conn.Close()
	require.Equal(t, 1, pool.Stats().Logins)
	testutil.Eventually(t, func() bool { ms, _ := p.Miners(waitCtx(t)); return len(ms) == 0 }, "proxy saw the miner leave")
	// The parked connection is reused only after a fresh job.
	job := pool.BroadcastJob()
	testutil.Eventually(t, func() bool {
		ups, _ := p.Upstreams(waitCtx(t))
		return len(ups) == 1 && ups[0].JobID == job.JobID
	}, "the parked connection got the new job")
	b := testminer.DialCN(t, addr)
	require.Nil(t, b.Login("WALLET").Error)
	require.Equal(t, pool.CurrentJob().JobID, b.Job.JobID)
	require.Nil(t, b.Submit().Error)
	require.Equal(t, 1, pool.Stats().Logins, "the second miner inherited the live pool connection")
	// A third miner while b holds it: a new connection of its own.
	c := testminer.DialCN(t, addr)
	require.Nil(t, c.Login("WALLET").Error)
	require.Equal(t, 2, pool.Stats().Logins)
}

func TestSimple_NoReuse_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := fastFailover(pool.Addr())
	cfg.Mode = "simple"
	_, addr := startProxy(t, cfg)
	a := testminer.DialCN(t, addr)
	require.Nil(t, a.Login("WALLET").Error)
	a.Conn.Close()
	require.NoError(t, pool.WaitFor(waitCtx(t), func(s mockpool.Stats) bool { return s.ActiveConnections == 0 }), "reuse-timeout 0 closes the pool connection")
	b := testminer.DialCN(t, addr)
	require.Nil(t, b.Login("WALLET").Error)
	require.Equal(t, 2, pool.Stats().Logins)
}

// Stop closes TLS miners too, even one that never sends again (its reader
// goroutine would otherwise wait for ever).
func TestTLS_Stop_Ugly(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	plainPort, _ := freePort()
	tlsPort, _ := freePort()
	cfg.Bind = []BindConfig{{Host: "127.0.0.1", Port: plainPort}, {Host: "127.0.0.1", Port: tlsPort, TLS: true}}
	p, _ := startProxy(t, cfg)
	m := testminer.DialCN(t, testutil.Relay(t, cfg.Bind[1].Address()), testminer.WithTLS(&tls.Config{InsecureSkipVerify: true}))
	require.Nil(t, m.Login("WALLET").Error)
	require.NoError(t, p.Stop(waitCtx(t)))
	m.ExpectClosed()
}

// Stop on a proxy whose Start failed early returns at once (an embedder's
// deferred Stop must not hang).
func TestProxy_StopAfterFailedStart_Ugly(t *testing.T) {
	cfg := &Config{SV1Mode: "passthrough"} // no account store: Start refuses
	p, err := New(cfg, WithLogger(testLogger()))
	require.NoError(t, err)
	require.Error(t, p.Start(waitCtx(t)))
	stopped := make(chan error, 1)
	go func() { stopped <- p.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatal("Stop hung after a failed Start")
	}
}
