package reactor

import (
	"context"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// dialSlowMiner connects with a tiny receive buffer and never reads.
func dialSlowMiner(t *testing.T, addr string) net.Conn {
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestMiner_SlowReader_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	// A bounded kernel send buffer makes the backlog of a miner that does
	// not read reach the proxy's own outbound cap (default 64 KiB)
	// quickly; with autotuning the kernel would absorb up to 4 MiB first.
	cfg.SocketSendBuffer = 16384
	p, addr := startProxyDirect(t, cfg) // the relay would buffer what the miner does not read

	slow := dialSlowMiner(t, addr)
	_, err := slow.Write([]byte(`{"id":1,"method":"login","params":{"login":"SLOW"}}` + "\n"))
	require.NoError(t, err)

	good := testminer.DialCN(t, addr)
	require.Nil(t, good.Login("WALLET").Error)
	// The good miner reads everything and reports each job id it sees.
	seen := make(chan string, 64)
	go func() {
		defer close(seen)
		for {
			line, err := good.ReadLineBy(time.Now().Add(waitTimeout))
			if err != nil {
				return
			}
			if i := strings.Index(line, `"job_id":"`); i >= 0 {
				rest := line[i+len(`"job_id":"`):]
				seen <- rest[:strings.IndexByte(rest, '"')]
			}
		}
	}()
	// Push jobs, each one only once the good miner has the previous one,
	// until the proxy gives up on the miner that does not read.
	for i := 0; i < 5000 && p.Summary().Counters.SlowClosed == 0; i++ {
		job := pool.BroadcastJob()
		for id := range seen {
			if id == job.JobID {
				break
			}
		}
	}
	testutil.Eventually(t, func() bool { return p.Summary().Counters.SlowClosed == 1 }, "slow reader closed")
	// The good miner is still connected and still gets jobs.
	job := pool.BroadcastJob()
	for id := range seen {
		if id == job.JobID {
			return
		}
	}
	t.Fatal("good miner disconnected")
}

func TestFailover_PoolVanishes_Ugly(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	addrPool := pool.Addr()
	p, addr := startProxy(t, baseConfig(addrPool))
	miners := []*testminer.CN{testminer.DialCN(t, addr), testminer.DialCN(t, addr)}
	for _, m := range miners {
		require.Nil(t, m.Login("WALLET").Error)
	}
	require.NoError(t, pool.Close())
	testutil.Eventually(t, func() bool { return p.Summary().Upstreams.Active == 0 }, "upstream lost")
	for _, m := range miners {
		// Still connected: keepalived answered, shares refused politely.
		m.Send(`{"id":50,"method":"keepalived","params":{"id":"` + m.Session + `"}}`)
		require.Equal(t, "KEEPALIVED", m.ReadReply().Result.Status)
		r := m.Submit()
		require.NotNil(t, r.Error)
		require.Equal(t, stratum.MsgBadGateway, r.Error.Message)
	}
	// The pool comes back on the same address: the proxy reconnects and
	// the miners get the new connection's job without reconnecting.
	pool2 := startPool(t, mockpool.Config{Addr: addrPool, Seed: 2})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, pool2.WaitFor(ctx, func(s mockpool.Stats) bool { return s.Logins == 1 }))
	for _, m := range miners {
		r := m.Read()
		require.Equal(t, "job", r.Method)
		require.Equal(t, pool2.CurrentJob().JobID, m.Job.JobID)
		require.Nil(t, m.Submit().Error)
	}
	require.Equal(t, int64(2), pool2.Stats().Accepted)
}
