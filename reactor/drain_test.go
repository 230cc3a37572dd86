package reactor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/registry"
)

// drain runs p.Drain over a second and fails t if it does not end with
// every miner gone.
func drain(t *testing.T, p *Proxy) {
	t.Helper()
	require.NoError(t, p.Drain(waitCtx(t), time.Second))
	require.Zero(t, p.conns.Load(), "no miner connection left")
}

// TestDrain_Good: Drain asks every stratum v1 miner to reconnect and
// closes the CryptoNote ones (their protocol has no such request), then
// returns with no miner left; the proxy still takes miners afterwards.
func TestDrain_Good(t *testing.T) {
	t.Run("sv1", func(t *testing.T) {
		pool := startSV1Pool(t, sv1pool.Config{})
		p, addr := startProxy(t, sv1Config(pool.Addr()))
		var ms []*testminer.SV1
		for range 3 {
			m := testminer.DialSV1(t, addr)
			m.Login("w", 0)
			ms = append(ms, m)
		}
		half := testminer.DialSV1(t, addr) // connected, never logged in
		testutil.Eventually(t, func() bool { return p.Summary().MinersNow == 4 }, "all connected")
		drain(t, p)
		for _, m := range ms {
			readUntil(m, "client.reconnect")
			m.ExpectClosed()
		}
		half.ExpectClosed()
		m := testminer.DialSV1(t, addr)
		m.Login("w", 0)
		require.Equal(t, "true", string(m.Submit().Result), "still serving")
	})
	t.Run("cryptonote", func(t *testing.T) {
		pool := startPool(t, mockpool.Config{})
		p, addr := startProxy(t, baseConfig(pool.Addr()))
		var ms []*testminer.CN
		for range 3 {
			m := testminer.DialCN(t, addr)
			require.Nil(t, m.Login("WALLET").Error)
			ms = append(ms, m)
		}
		drain(t, p)
		for _, m := range ms {
			m.ExpectClosed()
		}
	})
}

// TestDrain_Passthrough_Good: a drained passthrough miner that takes
// extranonce updates is asked to reconnect and resumes its session; one
// that already had its reconnect within the window (a cpuminer-style
// miner that just logged in) is closed without a second one.
func TestDrain_Passthrough_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	accts := &memAccounts{touched: map[string]int{}, byName: map[string]registry.Credentials{"acct1": account(pool, "u1"), "acct2": account(pool, "u2")}}
	p, addr := startProxy(t, passthroughConfig(60), WithAccounts(accts))

	xs := testminer.DialSV1(t, addr)
	sub, _, _ := subscribeReply(t, xs, "")
	xs.Reply(xs.Send(`"method":"mining.extranonce.subscribe","params":[]}`))
	require.Equal(t, "true", string(xs.Reply(xs.Send(`"method":"mining.authorize","params":["acct1","x"]}`)).Result))
	xs.WaitJob()

	cpu := testminer.DialSV1(t, addr)
	cpuSub, _, _ := subscribeReply(t, cpu, "")
	require.Equal(t, "true", string(cpu.Reply(cpu.Send(`"method":"mining.authorize","params":["acct2","x"]}`)).Result))
	readUntil(cpu, "client.reconnect")
	cpu.ExpectClosed()
	cpu = testminer.DialSV1(t, addr)
	_, e1, size := subscribeReply(t, cpu, cpuSub)
	cpu.E1, cpu.E2Size = mustHex(t, e1), size
	require.Equal(t, "true", string(cpu.Reply(cpu.Send(`"method":"mining.authorize","params":["acct2","x"]}`)).Result))
	cpu.WaitJob()

	drain(t, p)
	readUntil(xs, "client.reconnect")
	xs.ExpectClosed()
	var methods []string
	for {
		line, err := cpu.ReadLineBy(time.Now().Add(testutil.WaitTimeout))
		if err != nil {
			break
		}
		methods = append(methods, line)
	}
	for _, l := range methods {
		require.NotContains(t, l, "client.reconnect", "a second reconnect within the window")
	}

	xs = testminer.DialSV1(t, addr)
	_, e1, size = subscribeReply(t, xs, sub)
	require.NotEmpty(t, e1, "the drained miner resumes its session")
	xs.E1, xs.E2Size = mustHex(t, e1), size
	require.Equal(t, "true", string(xs.Reply(xs.Send(`"method":"mining.authorize","params":["acct1","x"]}`)).Result))
	xs.WaitJob()
	require.Equal(t, "true", string(xs.Submit().Result))
}
