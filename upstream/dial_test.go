package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/testminer"
)

// tlsListener serves TLS with a fresh self-signed certificate for
// 127.0.0.1 and returns its address and certificate.
func tlsListener(t *testing.T) (string, *x509.Certificate) {
	t.Helper()
	pair := testminer.SelfSignedCert(t)
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	require.NoError(t, err)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.(*tls.Conn).Handshake()
				buf := make([]byte, 1)
				_, _ = c.Read(buf)
				c.Close()
			}()
		}
	}()
	return ln.Addr().String(), cert
}

func TestDialer_Dial_Good(t *testing.T) {
	addr, cert := tlsListener(t)
	var d Dialer
	conn, err := d.Dial(context.Background(), &PoolConfig{URL: "stratum+ssl://" + addr, TLSFingerprint: Fingerprint(cert.Raw)})
	require.NoError(t, err)
	_, isTLS := conn.(*tls.Conn)
	require.True(t, isTLS)
	conn.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	conn, err = d.Dial(context.Background(), &PoolConfig{URL: ln.Addr().String()})
	require.NoError(t, err)
	_, isTCP := conn.(*net.TCPConn)
	require.True(t, isTCP, "plain pools give a TCP conn the reactor can enroll")
	conn.Close()
}

func TestDialer_Dial_Bad(t *testing.T) {
	addr, _ := tlsListener(t)
	var d Dialer
	wrong := "00" + Fingerprint([]byte("something else"))[2:]
	_, err := d.Dial(context.Background(), &PoolConfig{URL: addr, TLS: true, TLSFingerprint: wrong})
	require.ErrorIs(t, err, ErrFingerprint)
	// Without a pin a self-signed certificate does not verify.
	_, err = d.Dial(context.Background(), &PoolConfig{URL: "stratum+tls://" + addr})
	require.Error(t, err)
}

func TestDialer_Dial_Ugly(t *testing.T) {
	// Nothing listening: a fast, wrapped error. A blackholed address: bounded by Timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	d := Dialer{Timeout: 2 * time.Second}
	_, err = d.Dial(context.Background(), &PoolConfig{URL: addr})
	require.ErrorContains(t, err, "dial "+addr)
	// A TLS pool that never completes the handshake is cut at the timeout.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer hung.Close()
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	d.Timeout = 300 * time.Millisecond
	_, err = d.Dial(context.Background(), &PoolConfig{URL: "stratum+ssl://" + hung.Addr().String()})
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "cut by the timeout, not by a reset: %v", err)
}
