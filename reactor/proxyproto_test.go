package reactor

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// proxyV2Local is a PROXY v2 LOCAL header: a balancer's own health check,
// with no client address.
func proxyV2Local() []byte {
	hdr := append([]byte{}, proxyV2Sig...)
	return append(hdr, 0x20, 0x00, 0x00, 0x00) // v2 LOCAL, UNSPEC, no body
}

// A connection to a PROXY-protocol port that never sends its header is
// closed at the login timeout, counted once, and no longer shows in
// miners.now (it used to stay open for ever, counting a login timeout
// every second).
func TestProxyProtocol_SilentClosed_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg, _ := proxyConfig(t, pool.Addr())
	cfg.LoginTimeout = 1
	p, addr := startProxy(t, cfg)
	m := testminer.DialCN(t, addr)
	testutil.Eventually(t, func() bool { return p.Summary().MinersNow == 1 }, "the silent connection is counted")
	m.ExpectClosed()
	testutil.Eventually(t, func() bool { return p.Summary().MinersNow == 0 }, "the silent connection is gone")
	require.Equal(t, uint64(1), p.Summary().Counters.LoginTimeouts)
	// The slot it held is free: a miner that sends its header logs in.
	ok := testminer.DialCN(t, addr)
	ok.Send("PROXY TCP4 203.0.113.7 127.0.0.1 45678 3333\r")
	require.Nil(t, ok.Login("WALLET").Error)
	require.Equal(t, uint64(1), p.Summary().Counters.LoginTimeouts)
}

// Every internal state before stateClosing is an open connection, and
// /1/miners reports each with its public value.
func TestMinerState_Order_Good(t *testing.T) {
	for s, want := range map[minerState]MinerState{
		stateWaitProxy: StateWaitLogin, stateWaitLogin: StateWaitLogin, stateWaitReady: StateWaitReady,
		stateReady: StateReady, stateClosing: StateClosing, stateClosed: StateClosing,
	} {
		require.Equal(t, want, s.public())
		require.Equal(t, s >= stateClosing, want == StateClosing, "state %d", s)
	}
}

// PROXY v2 LOCAL (a balancer's health check) counts toward neither the
// per-IP rate limit nor bans; headers that carry a client address do.
func TestProxyProtocol_LocalNotLimited_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg, _ := proxyConfig(t, pool.Addr())
	cfg.RateLimit = RateLimit{MaxConnectionsPerMinute: 1, BanDuration: 60}
	p, addr := startProxy(t, cfg)
	for i := 0; i < 4; i++ {
		m := testminer.DialCN(t, addr)
		_, err := m.Conn.Write(proxyV2Local())
		require.NoError(t, err)
		require.Nil(t, m.Login("WALLET").Error, "health check %d", i)
		m.Conn.Close()
	}
	sum := p.Summary().Counters
	require.Zero(t, sum.RateLimited+sum.Banned)
	// A real client's address is limited: one connection a minute.
	first := testminer.DialCN(t, addr)
	first.Send("PROXY TCP4 203.0.113.9 127.0.0.1 40000 3333\r")
	require.Nil(t, first.Login("WALLET").Error)
	second := testminer.DialCN(t, addr)
	second.Send("PROXY TCP4 203.0.113.9 127.0.0.1 40001 3333\r")
	second.ExpectClosed()
	testutil.Eventually(t, func() bool { c := p.Summary().Counters; return c.RateLimited+c.Banned == 1 }, "the second client connection refused")
	// Health checks still pass while the balancer's clients are banned.
	m := testminer.DialCN(t, addr)
	_, err := m.Conn.Write(proxyV2Local())
	require.NoError(t, err)
	require.Nil(t, m.Login("WALLET").Error)
}

// dialFrom connects to addr from a chosen loopback source address.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: waitTimeout}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// PROXY headers are accepted only from proxy-protocol-from: a connection
// from anywhere else on a proxy-protocol bind is closed at accept and
// counted, so a forged header cannot dodge the per-IP limits. Real source
// addresses are needed here, so no relay.
func TestProxyProtocol_UntrustedSource_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg, _ := proxyConfig(t, pool.Addr())
	cfg.ProxyProtocolFrom = []string{"127.0.0.1"}
	p, addr := startProxyDirect(t, cfg)

	forged := testminer.NewCN(t, dialFrom(t, "127.0.0.2", addr))
	forged.Send("PROXY TCP4 198.51.100.1 127.0.0.1 40000 3333\r")
	forged.ExpectClosed()
	testutil.Eventually(t, func() bool { return p.Summary().Counters.ProxyUntrusted == 1 }, "the untrusted connection counted")
	require.Equal(t, uint64(1), p.Summary().Counters.Refused, "and counted as refused")

	trusted := testminer.NewCN(t, dialFrom(t, "127.0.0.1", addr))
	trusted.Send("PROXY TCP4 198.51.100.1 127.0.0.1 40000 3333\r")
	require.Nil(t, trusted.Login("WALLET").Error)
	miners, err := p.Miners(waitCtx(t))
	require.NoError(t, err)
	require.Len(t, miners, 1)
	require.Equal(t, netip.MustParseAddrPort("198.51.100.1:40000"), miners[0].Addr)

	// A reload changes the list at once.
	next := p.Config().Clone()
	next.ProxyProtocolFrom = []string{"127.0.0.0/8"}
	_, err = p.Reload(next)
	require.NoError(t, err)
	now := testminer.NewCN(t, dialFrom(t, "127.0.0.2", addr))
	now.Send("PROXY TCP4 198.51.100.2 127.0.0.1 40000 3333\r")
	require.Nil(t, now.Login("WALLET").Error)
}

// The default trusts loopback and the private ranges only.
func TestProxyProtocolFrom_Default_Good(t *testing.T) {
	cfg := &Config{Pools: baseConfig("pool:3333").Pools}
	cfg.Normalize()
	require.NoError(t, cfg.Validate())
	require.Equal(t, DefaultProxyProtocolFrom, cfg.ProxyProtocolFrom)
	p, err := New(cfg, WithLogger(testLogger()))
	require.NoError(t, err)
	for ip, want := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "172.31.0.1": true, "192.168.7.7": true, "::1": true, "fd00::5": true,
		"::ffff:10.0.0.1": true, "203.0.113.7": false, "172.32.0.1": false, "2001:db8::1": false, "100.64.0.1": false,
	} {
		require.Equal(t, want, p.trustedProxy(netip.MustParseAddr(ip)), ip)
	}
	bad := &Config{Pools: cfg.Pools, ProxyProtocolFrom: []string{"10.0.0.0/8", "nonsense"}}
	bad.Normalize()
	require.ErrorContains(t, bad.Validate(), "proxy-protocol-from[1]")
}

// A TLS bind with proxy-protocol applies the same source rule before it
// reads the header.
func TestProxyProtocol_UntrustedTLS_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	port, _ := freePort()
	cfg.Bind = []BindConfig{{Host: "127.0.0.1", Port: port, TLS: true, ProxyProtocol: true}}
	cfg.ProxyProtocolFrom = []string{"10.0.0.0/8"}
	p, addr := startProxyDirect(t, cfg)
	c := dialFrom(t, "127.0.0.1", addr)
	_, err := c.Write([]byte("PROXY TCP4 198.51.100.1 127.0.0.1 40000 3333\r\n"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(waitTimeout)))
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "closed, not left waiting")
	testutil.Eventually(t, func() bool { return p.Summary().Counters.ProxyUntrusted == 1 }, "counted")
}

// LOCAL parses as a header without a client address.
func TestProxyProtocol_V2Local_Parse_Good(t *testing.T) {
	hdr := proxyV2Local()
	src, n, done, err := parseProxyHeader(hdr)
	require.NoError(t, err)
	require.True(t, done)
	require.Equal(t, len(hdr), n)
	require.False(t, src.IsValid())
}
