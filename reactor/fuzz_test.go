package reactor

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// The fuzz targets drive a running proxy through real sockets, so the
// bytes go through the event engine's own buffers and framing exactly as a
// peer's would: written in one piece, cut at the fuzzer's split point with
// a pause between the pieces, and byte by byte.

var minerSeeds = []string{
	`{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"W+5000","pass":"x","agent":"XMRig/6.22.2","algo":["rx/0"],"rigid":"r"}}` + "\n",
	`{"id":2,"method":"submit","params":{"id":"S","job_id":"job-1","nonce":"000000ff","result":"` + strings.Repeat("0", 64) + `"}}` + "\n",
	`{"id":3,"method":"keepalived","params":{"id":"S"}}` + "\r\n",
	`{"id":4,"method":"mining.subscribe","params":["cpuminer"]}` + "\n" + `{"id":5,"method":"mining.authorize","params":["rig","x"]}` + "\n",
	"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n" + `{"id":1,"method":"login","params":{"login":"W"}}` + "\n",
	"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00\x02",
	"\n\n{}\n",
	`{"id":{"a":[1,2,{"b":null}]},"method":"login"}` + "\n",
	`{"id":1,"method":"login","params":{"login":"` + strings.Repeat("A", 17000),
}

// sendCut writes data to c as the fuzzer asks: mode 0 in one write, 1 cut
// at split with a short pause, 2 byte by byte for the first 64 bytes.
func sendCut(c net.Conn, data []byte, split uint16, mode uint8) {
	_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	switch mode % 3 {
	case 0:
		_, _ = c.Write(data)
	case 1:
		k := int(split) % (len(data) + 1)
		_, _ = c.Write(data[:k])
		time.Sleep(200 * time.Microsecond) // a gap on the wire, not a wait for a result
		_, _ = c.Write(data[k:])
	default:
		k := min(len(data), 64)
		for i := 0; i < k; i++ {
			_, _ = c.Write(data[i : i+1])
		}
		_, _ = c.Write(data[k:])
	}
}

// FuzzMinerInput sends arbitrary bytes from miners: on a fresh connection
// of a plain bind, of a PROXY-protocol bind, and after a CryptoNote login.
// The proxy must never stop, every connection must be released once
// closed, and a fresh miner must still log in and get work.
func FuzzMinerInput(f *testing.F) {
	for _, s := range minerSeeds {
		f.Add([]byte(s), uint16(len(s)/2), uint8(0))
		f.Add([]byte(s), uint16(len(s)/3), uint8(1))
		f.Add([]byte(s), uint16(0), uint8(2))
	}
	pool := startPool(f, mockpool.Config{})
	plainPort, _ := freePort()
	pp, _ := freePort()
	cfg := baseConfig(pool.Addr())
	cfg.Bind = []BindConfig{{Host: "127.0.0.1", Port: plainPort}, {Host: "127.0.0.1", Port: pp, ProxyProtocol: true}}
	p, plain := startProxyDirect(f, cfg)
	proxied := cfg.Bind[1].Address()
	f.Fuzz(func(t *testing.T, data []byte, split uint16, mode uint8) {
		var conns []net.Conn
		for _, addr := range []string{plain, proxied} {
			c, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			conns = append(conns, c)
			sendCut(c, data, split, mode)
		}
		m := testminer.DialCN(t, plain)
		require.Nil(t, m.Login("WALLET").Error)
		sendCut(m.Conn, data, split, mode)
		conns = append(conns, m.Conn)
		for _, c := range conns {
			_ = c.Close()
		}
		select {
		case <-p.Done():
			t.Fatalf("engine stopped: %v", p.Err())
		default:
		}
		testutil.Eventually(t, func() bool { return p.conns.Load() == 0 }, "every closed connection released")
		probe := testminer.DialCN(t, plain)
		require.Nil(t, probe.Login("PROBE").Error, "a fresh miner still logs in")
		_ = probe.Conn.Close()
	})
}

// fuzzPool is a CryptoNote pool whose connections the fuzz body takes
// over after the login: it answers the login with a job, then hands the
// connection out.
type fuzzPool struct {
	ln    net.Listener
	conns chan net.Conn
	once  sync.Once
}

func startFuzzPool(t testing.TB) *fuzzPool {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fp := &fuzzPool{ln: ln, conns: make(chan net.Conn, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go fp.serve(c)
		}
	}()
	return fp
}

func (fp *fuzzPool) serve(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		c.Close()
		return
	}
	var req struct {
		ID json.RawMessage `json:"id"`
	}
	_ = json.Unmarshal([]byte(line), &req)
	reply := `{"id":` + string(req.ID) + `,"jsonrpc":"2.0","error":null,"result":{"id":"S1","job":{"blob":"` +
		strings.Repeat("0", 152) + `","job_id":"j1","target":"b88d0600"},"status":"OK"}}` + "\n"
	if _, err := c.Write([]byte(reply)); err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	fp.conns <- c
}

var poolSeeds = []string{
	`{"jsonrpc":"2.0","method":"job","params":{"blob":"` + strings.Repeat("0", 152) + `","job_id":"j2","target":"b88d0600"}}` + "\n",
	`{"jsonrpc":"2.0","method":"job","params":{"blob":"00","job_id":"","target":"00000000"}}` + "\n",
	`{"id":7,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}` + "\n",
	`{"jsonrpc":"2.0","method":"client.reconnect","params":["evil.example",3333,0]}` + "\n",
	`{"id":"x","error":{"code":-1,"message":"` + strings.Repeat("e", 40000) + `"}}` + "\n",
	"not json at all\n",
}

// FuzzPoolInput sends arbitrary bytes from the pool to a proxy with a
// logged-in miner, after a valid login: the proxy must never stop and the
// miner must stay connected (pool trouble never drops miners).
func FuzzPoolInput(f *testing.F) {
	// One cut per seed: every input costs a pool redial (retry-pause).
	for i, s := range poolSeeds {
		f.Add([]byte(s), uint16(len(s)/2), uint8(i))
	}
	fp := startFuzzPool(f)
	cfg := fastFailover(fp.ln.Addr().String())
	p, addr := startProxyDirect(f, cfg)
	m := testminer.DialCN(f, addr)
	require.Nil(f, m.Login("WALLET").Error, "the miner is in before the pool misbehaves")
	f.Fuzz(func(t *testing.T, data []byte, split uint16, mode uint8) {
		var c net.Conn
		select {
		case c = <-fp.conns:
		case <-time.After(waitTimeout):
			t.Fatal("the proxy did not reconnect to its pool")
		}
		sendCut(c, data, split, mode)
		_ = c.Close()
		select {
		case <-p.Done():
			t.Fatalf("engine stopped: %v", p.Err())
		default:
		}
		require.Equal(t, int64(1), p.conns.Load(), "the miner stays connected")
	})
}
