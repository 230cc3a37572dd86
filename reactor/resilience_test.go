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
	cfg.MaxOutbound = 4096
	p, addr := startProxy(t, cfg)

	slow := dialSlowMiner(t, addr)
	_, err := slow.Write([]byte(`{"id":1,"method":"login","params":{"login":"SLOW"}}` + "\n"))
	require.NoError(t, err)

	good := testminer.DialCN(t, addr)
	require.Nil(t, good.Login("WALLET").Error)
	received := make(chan string, 1024)
	go func() {
		for {
			line, err := good.ReadLineBy(time.Now().Add(waitTimeout))
			if err != nil {
				close(received)
				return
			}
			received <- line
		}
	}()
	// Push jobs until the proxy gives up on the miner that does not read.
	var last stratum.Job
	for i := 0; i < 20000 && p.Summary().Counters.SlowClosed == 0; i++ {
		last = pool.BroadcastJob()
		if i%50 == 0 {
			eventuallyDrained(t, received)
		}
	}
	eventually(t, func() bool { return p.Summary().Counters.SlowClosed == 1 }, "slow reader closed")
	// The good miner got every job, including the last one.
	for line := range received {
		if len(line) > 0 && containsJob(line, last.JobID) {
			return
		}
	}
	t.Fatal("good miner did not receive the last job")
}

func eventuallyDrained(t *testing.T, ch chan string) {
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatal("good miner disconnected")
			}
		default:
			return
		}
	}
}

func containsJob(line, id string) bool {
	return len(id) > 0 && len(line) > 0 && strings.Contains(line, `"job_id":"`+id+`"`)
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
	eventually(t, func() bool { return p.Summary().Upstreams.Active == 0 }, "upstream lost")
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
