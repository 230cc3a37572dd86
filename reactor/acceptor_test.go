package reactor

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// Accepted miner sockets carry what gnet's listener used to give them:
// TCP keepalive (60 s idle, 12 s interval, 5 probes), TCP_NODELAY and the
// configured send buffer.
func TestAcceptor_SocketOptions_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	cfg.SocketSendBuffer = 32768
	p, addr := startProxyDirect(t, cfg)
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	s := p.shardList()[0]
	opts, err := onLoop(waitCtx(t), s, func() map[string]int {
		out := map[string]int{}
		for _, mn := range s.miners {
			if mn == nil || mn.conn.g == nil {
				continue
			}
			fd := mn.conn.g.Fd()
			get := func(name string, level, opt int) {
				v, err := unix.GetsockoptInt(fd, level, opt)
				if err == nil {
					out[name] = v
				}
			}
			get("keepalive", unix.SOL_SOCKET, unix.SO_KEEPALIVE)
			get("idle", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
			get("intvl", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
			get("cnt", unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
			get("nodelay", unix.IPPROTO_TCP, unix.TCP_NODELAY)
			get("sndbuf", unix.SOL_SOCKET, unix.SO_SNDBUF)
		}
		return out
	})
	require.NoError(t, err)
	require.Equal(t, 1, opts["keepalive"])
	require.Equal(t, 60, opts["idle"])
	require.Equal(t, 12, opts["intvl"])
	require.Equal(t, 5, opts["cnt"])
	require.NotZero(t, opts["nodelay"])
	require.GreaterOrEqual(t, opts["sndbuf"], 32768, "the kernel doubles what it was given")
	require.Less(t, opts["sndbuf"], 4<<20, "not autotuned")
}

// Two processes (here two proxies) can serve one port: the listeners use
// SO_REUSEPORT and the kernel spreads new connections between them.
func TestAcceptor_ReusePort_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	a, addr := startProxyDirect(t, cfg)
	cfg2 := baseConfig(pool.Addr())
	cfg2.Bind = cfg.Bind
	b, _ := startProxyDirect(t, cfg2)
	for i := 0; i < 64 && (a.Summary().Counters.Connections == 0 || b.Summary().Counters.Connections == 0); i++ {
		m := testminer.DialCN(t, addr)
		require.Nil(t, m.Login("WALLET").Error)
		m.Conn.Close()
		testutil.Eventually(t, func() bool {
			return a.Summary().Counters.Connections+b.Summary().Counters.Connections == uint64(i+1)
		}, "the login is counted by one of the two")
	}
	require.NotZero(t, a.Summary().Counters.Connections, "the first proxy got miners")
	require.NotZero(t, b.Summary().Counters.Connections, "the second proxy got miners")
}

// gnet's own listener is a Unix socket whose path is gone once the proxy
// runs: nothing can connect to it (an accept there could hit gnet's EMFILE
// hazard), and the private directory goes with Stop.
func TestAcceptor_InnerListenerUnreachable_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	p, _ := startProxy(t, baseConfig(pool.Addr()))
	require.NotEmpty(t, p.inner.dir, "a Unix socket in a private directory")
	sock := filepath.Join(p.inner.dir, "loops.sock")
	_, err := os.Stat(sock)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = net.Dial("unix", sock)
	require.Error(t, err)
	require.NoError(t, p.Stop(waitCtx(t)))
	_, err = os.Stat(p.inner.dir)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// At the connection cap a new miner is closed at accept and counted as
// refused; a miner that leaves makes room for the next.
func TestAcceptor_Cap_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	cfg.MaxConnections = 2
	p, addr := startProxy(t, cfg)
	first, second := testminer.DialCN(t, addr), testminer.DialCN(t, addr)
	require.Nil(t, first.Login("WALLET").Error)
	require.Nil(t, second.Login("WALLET").Error)
	third := testminer.DialCN(t, addr)
	third.ExpectClosed()
	testutil.Eventually(t, func() bool { return p.Summary().Counters.Refused == 1 }, "refused at accept")
	first.Conn.Close()
	testutil.Eventually(t, func() bool { return p.conns.Load() == 1 }, "the place is free")
	fourth := testminer.DialCN(t, addr)
	require.Nil(t, fourth.Login("WALLET").Error)
	require.Nil(t, fourth.Submit().Error)
}

// The budget's reserve grows with what the configuration opens: event
// loops, binds, the API and its connection cap.
func TestPlanDescriptors_Good(t *testing.T) {
	cfg := &Config{Bind: []BindConfig{{Host: "0.0.0.0", Port: 3333}}}
	pl := planDescriptors(cfg, 20000, 2)
	require.Equal(t, fdBase+2*fdPerLoop+2+enrollBacklog+enrollReapers, pl.Reserved)
	require.Equal(t, 20000-pl.Reserved, pl.Shared)
	require.Equal(t, pl.Shared-200, pl.Miners)
	require.GreaterOrEqual(t, pl.Miners, 19000, "DESIGN: 19,000 miners at 20,000 open files")

	cfg.HTTP = HTTPConfig{Enabled: true, MaxConnections: 64}
	api := planDescriptors(cfg, 20000, 2)
	require.Equal(t, pl.Reserved+66, api.Reserved, "the API's listener, its cap and one being refused")
	require.GreaterOrEqual(t, api.Miners, 19000)

	cfg.MaxConnections = 500
	require.Equal(t, 500, planDescriptors(cfg, 20000, 2).Miners)
	tiny := planDescriptors(cfg, 64, 2)
	require.Equal(t, 1, tiny.Miners, "a limit below the reserve still serves one miner")
	require.Equal(t, 1, tiny.Shared)
}

// The API's connection cap and timeouts are part of the budget split at
// start: a reload keeps them and says a restart is needed.
func TestReload_HTTPLimitsNeedRestart_Ugly(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	cfg.HTTP = HTTPConfig{Enabled: true, Port: 8080}
	p, _ := startProxy(t, cfg)
	next := p.Config().Clone()
	next.HTTP.MaxConnections, next.HTTP.IdleTimeout = 1000, 60
	warnings, err := p.Reload(next)
	require.NoError(t, err)
	require.Contains(t, strings.Join(warnings, "\n"), "http.max-connections")
	require.Equal(t, 64, p.Config().HTTP.MaxConnections)
	require.Equal(t, 5, p.Config().HTTP.IdleTimeout)
}
