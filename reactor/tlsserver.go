package reactor

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"time"
)

// TLS binds: gnet has no TLS, so TLS miners are accepted by the bind's
// accept loop (acceptor.go) and each runs as a stream (a reader and a
// writer goroutine) that feeds a shard's loop: same miner code, same nonce
// tables, same counters and the same connection cap as plain miners.

// serveTLS admits one TLS connection, reads a PROXY header when the bind
// requires one, completes the handshake within the login timeout and hands
// the miner to a shard.
func (p *Proxy) serveTLS(nc net.Conn, b *bindInfo) {
	cfg := p.cfg.Load()
	addr := netip.AddrPort{}
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		addr = ta.AddrPort()
	}
	shards := p.shardList()
	if len(shards) == 0 || p.stopping.Load() {
		nc.Close()
		return
	}
	if b.proxyProtocol && !p.trustedProxy(addr.Addr()) {
		nc.Close()
		return
	}
	if p.conns.Add(1) > p.maxConns || p.overBudget() {
		p.conns.Add(-1)
		p.refused.Add(1)
		nc.Close()
		return
	}
	admitted := false
	defer func() {
		if !admitted {
			p.conns.Add(-1)
			nc.Close()
		}
	}()
	if tc, ok := nc.(*net.TCPConn); ok && cfg.SocketSendBuffer > 0 {
		_ = tc.SetWriteBuffer(cfg.SocketSendBuffer)
	}
	deadline := time.Now().Add(cfg.loginTimeout())
	_ = nc.SetDeadline(deadline)
	conn := nc
	checkIP := true
	if b.proxyProtocol {
		src, rest, err := readProxyHeaderConn(nc)
		if err != nil {
			p.badHeaders.Add(1)
			return
		}
		// A header without a client address is the balancer's own health
		// check: no rate limit, no ban (see readProxyHeader).
		checkIP = src.IsValid()
		if src.IsValid() {
			addr = src
		}
		conn = rest
	}
	if checkIP && !p.allowIP(addr.Addr()) {
		return
	}
	tc := tls.Server(conn, p.tlsConfig)
	ctx, cancel := context.WithDeadline(p.ctx, deadline)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		p.tlsFailures.Add(1)
		return
	}
	_ = nc.SetDeadline(time.Time{})
	s := p.pickShard()
	if s == nil {
		return
	}
	st := newStream(tc, s, nil)
	admitted = true
	s.exec(func() {
		m := s.addMiner(connRef{x: st}, addr, b)
		m.state = stateWaitLogin // any PROXY header was read above
		st.ep = m
		st.start()
	})
}

// readProxyHeaderConn reads a PROXY header from the start of nc without
// consuming any byte after it; it returns a conn that replays the rest.
func readProxyHeaderConn(nc net.Conn) (netip.AddrPort, net.Conn, error) {
	var buf []byte
	one := make([]byte, 1)
	for len(buf) < 16+512 {
		// v2 headers say their length after 16 bytes; read exactly.
		want := 1
		if len(buf) >= 16 && buf[0] == '\r' {
			want = 16 + (int(buf[14])<<8 | int(buf[15])) - len(buf)
			if want <= 0 {
				want = 1
			}
		}
		chunk := one
		if want > 1 {
			chunk = make([]byte, want)
		}
		if _, err := ioReadFull(nc, chunk); err != nil {
			return netip.AddrPort{}, nil, err
		}
		buf = append(buf, chunk...)
		src, n, done, err := parseProxyHeader(buf)
		if err != nil {
			return netip.AddrPort{}, nil, err
		}
		if done {
			if n != len(buf) {
				return netip.AddrPort{}, nil, ErrProxyHeader
			}
			return src, nc, nil
		}
	}
	return netip.AddrPort{}, nil, ErrProxyHeader
}

func ioReadFull(nc net.Conn, b []byte) (int, error) { return io.ReadFull(nc, b) }
