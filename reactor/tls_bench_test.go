package reactor

import (
	"crypto/tls"
	"net"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
)

// The cost of a TLS miner against a plain one, on the proxy side: memory
// per logged-in connection and the round trip of one share. Run with
//
//	go test -run XXX -bench 'Conn|Share' -benchtime 2000x ./reactor/
//
// Memory is measured in-process: the clients' own cost is measured the
// same way against a bare listener and subtracted.

const connBenchMiners = 500

func BenchmarkConnMemory_Plain(b *testing.B) { benchConnMemory(b, false) }
func BenchmarkConnMemory_TLS(b *testing.B)   { benchConnMemory(b, true) }

func benchConnMemory(b *testing.B, useTLS bool) {
	pool := startPool(b, mockpool.Config{})
	cfg, addr := benchProxyConfig(b, pool.Addr(), useTLS)
	startProxy(b, cfg)
	b.ResetTimer()
	for b.Loop() {
		total := heapAndStacks()
		conns := dialMany(b, addr, useTLS, true)
		withProxy := heapAndStacks() - total
		closeAll(conns)

		bare := bareListener(b, useTLS)
		base := heapAndStacks()
		clientOnly := dialMany(b, bare, useTLS, false)
		clients := heapAndStacks() - base
		closeAll(clientOnly)
		b.ReportMetric(float64(withProxy-clients)/connBenchMiners, "proxy-bytes/conn")
	}
}

func heapAndStacks() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}

func benchProxyConfig(b *testing.B, pool string, useTLS bool) (*Config, string) {
	port, err := freePort()
	require.NoError(b, err)
	cfg := baseConfig(pool)
	cfg.Bind = []BindConfig{{Host: "127.0.0.1", Port: port, TLS: useTLS}}
	if useTLS {
		plain, _ := freePort()
		cfg.Bind = append(cfg.Bind, BindConfig{Host: "127.0.0.1", Port: plain})
	}
	return cfg, cfg.Bind[0].Address()
}

func dialMany(b *testing.B, addr string, useTLS, login bool) []net.Conn {
	conns := make([]net.Conn, 0, connBenchMiners)
	for i := 0; i < connBenchMiners; i++ {
		var c net.Conn
		var err error
		if useTLS {
			c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		} else {
			c, err = net.Dial("tcp", addr)
		}
		require.NoError(b, err)
		if login {
			m := testminer.NewCN(b, c, testminer.WithReadBuffer(512))
			require.Nil(b, m.Login("WALLET").Error)
		}
		conns = append(conns, c)
	}
	return conns
}

func closeAll(cs []net.Conn) {
	for _, c := range cs {
		c.Close()
	}
}

// bareListener accepts connections (completing TLS handshakes) and holds
// them, so the clients' own memory can be measured.
func bareListener(b *testing.B, useTLS bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	if useTLS {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{testminer.SelfSignedCert(b)}})
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				closeAll(held)
				return
			}
			if tc, ok := c.(*tls.Conn); ok {
				go tc.Handshake()
			}
			held = append(held, c)
		}
	}()
	return ln.Addr().String()
}

func BenchmarkShare_Plain(b *testing.B) { benchShare(b, false) }
func BenchmarkShare_TLS(b *testing.B)   { benchShare(b, true) }

// benchShare measures one share's round trip, miner → proxy → pool →
// proxy → miner, sequentially.
func benchShare(b *testing.B, useTLS bool) {
	pool := startPool(b, mockpool.Config{})
	cfg, addr := benchProxyConfig(b, pool.Addr(), useTLS)
	startProxy(b, cfg)
	conns := dialMany(b, addr, useTLS, false)[:1]
	m := testminer.NewCN(b, conns[0], testminer.WithReadBuffer(4096))
	require.Nil(b, m.Login("WALLET").Error)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := m.Submit(); r.Error != nil {
			b.Fatal(r.Error.Message)
		}
	}
}
