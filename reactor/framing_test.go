package reactor

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/segrelay"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// Real networks deliver a line in as many reads as they like. These tests
// cut lines at chosen places (not at random, as the relay of every other
// integration test does) so each framing path is exercised for sure.

// relayIn puts a relay of one mode in front of target.
func relayIn(t *testing.T, target string, mode segrelay.Mode, pause time.Duration) string {
	t.Helper()
	r, err := segrelay.Start(target, segrelay.Config{Mode: mode, Seed: 11, MaxPause: pause})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r.Addr()
}

// writeSplit writes s in the given pieces, pausing between them the way a
// slow link does (simulated latency, not a wait for a result).
func writeSplit(t *testing.T, c net.Conn, pause time.Duration, pieces ...string) {
	t.Helper()
	for i, p := range pieces {
		if i > 0 {
			time.Sleep(pause)
		}
		_, err := c.Write([]byte(p))
		require.NoError(t, err)
	}
}

func TestFraming_CNLoginTwoSegments_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	_, addr := startProxyDirect(t, baseConfig(pool.Addr()))
	m := testminer.DialCN(t, addr)
	login := `{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"WALLET","pass":"x","agent":"XMRig/6.22.2"}}` + "\n"
	writeSplit(t, m.Conn, 50*time.Millisecond, login[:37], login[37:])
	r := m.Read()
	require.Nil(t, r.Error, r.Raw)
	require.NotNil(t, r.Result.Job, "the login split in two segments is answered with a job")
}

func TestFraming_CNSubmitByteByByte_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	_, addr := startProxyDirect(t, baseConfig(pool.Addr()))
	m := testminer.DialCN(t, relayIn(t, addr, segrelay.ByteByByte, 200*time.Microsecond))
	require.Nil(t, m.Login("WALLET").Error)
	for i := 0; i < 3; i++ {
		r := m.Submit()
		require.Nil(t, r.Error, "a share sent byte by byte is accepted, the miner stays connected: %s", r.Raw)
	}
	require.Equal(t, int64(3), pool.Stats().Accepted)
}

func TestFraming_SV1SubscribeByteByByte_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	_, addr := startProxyDirect(t, sv1Config(pool.Addr()))
	m := testminer.DialSV1(t, relayIn(t, addr, segrelay.ByteByByte, 200*time.Microsecond))
	m.Login("rig1", 0)
	require.True(t, m.Submit().Accepted())
}

func TestFraming_ProxyHeaderByteByByte_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg, _ := proxyConfig(t, pool.Addr())
	p, direct := startProxyDirect(t, cfg)
	m := testminer.DialCN(t, relayIn(t, direct, segrelay.ByteByByte, 200*time.Microsecond))
	m.Send("PROXY TCP4 203.0.113.9 127.0.0.1 41000 3333\r")
	require.Nil(t, m.Login("WALLET").Error)
	miners, err := p.Miners(waitCtx(t))
	require.NoError(t, err)
	require.Len(t, miners, 1)
	require.Equal(t, "203.0.113.9:41000", miners[0].Addr.String())
}

// TestFraming_SV1LongNotify_Good: a PPLNS pool's ~9.5 KB mining.notify,
// sent as 1448-byte segments, reaches the miners (it used to drop the pool
// on every try).
func TestFraming_SV1LongNotify_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{PayoutOutputs: 150, Relay: &segrelay.Config{Mode: segrelay.Segments, Seed: 5, MaxPause: 2 * time.Millisecond}})
	_, addr := startProxyDirect(t, sv1Config(pool.Addr()))
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	_, err = c.Write([]byte(`{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5.1"]}` + "\n" +
		`{"id":2,"method":"mining.authorize","params":["rig","x"]}` + "\n"))
	require.NoError(t, err)
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		line, err := r.ReadString('\n')
		require.NoError(t, err, "waiting for the long notify")
		if strings.Contains(line, `"method":"mining.notify"`) {
			require.Greater(t, len(line), 9000, "the notify carries the long coinbase: %s", line)
			break
		}
	}
	require.Equal(t, 1, pool.Stats().Connections, "one pool connection: never dropped and redialled")
}

// TestFraming_CNPoolLongLine_Good: a CryptoNote pool line between 32 KiB
// (one read of the loop's buffer) and the 64 KiB pool limit is read whole;
// one over the limit drops the pool as a framing error.
func TestFraming_CNPoolLongLine_Good(t *testing.T) {
	for _, tc := range []struct {
		pad  int
		good bool
	}{{40 << 10, true}, {60 << 10, true}, {70 << 10, false}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		served := make(chan struct{}, 4)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					br := bufio.NewReader(c)
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					var req struct {
						ID json.RawMessage `json:"id"`
					}
					_ = json.Unmarshal([]byte(line), &req)
					job := stratum.Job{Blob: strings.Repeat("0", 152), JobID: "long-1", Target: "b88d0600"}
					reply := `{"id":` + string(req.ID) + `,"jsonrpc":"2.0","error":null,"result":{"id":"S1","job":{"blob":"` + job.Blob +
						`","job_id":"long-1","target":"b88d0600","padding":"` + strings.Repeat("p", tc.pad) + `"},"status":"OK"}}` + "\n"
					_, _ = c.Write([]byte(reply))
					served <- struct{}{}
					_, _ = br.ReadString('\n') // hold the connection open
				}()
			}
		}()
		poolAddr := relayIn(t, ln.Addr().String(), segrelay.Segments, time.Millisecond)
		p, addr := startProxyDirect(t, fastFailover(poolAddr))
		m := testminer.DialCN(t, addr)
		if tc.good {
			r := m.Login("WALLET")
			require.Nil(t, r.Error, r.Raw)
			require.Equal(t, "long-1", m.Job.JobID, "a %d-byte pool line is read whole", tc.pad)
			continue
		}
		m.Send(`{"id":1,"method":"login","params":{"login":"W"}}`)
		<-served
		testutil.Eventually(t, func() bool { return p.Summary().Counters.PoolFailures >= 1 }, "a line over 64 KiB drops the pool")
	}
}
