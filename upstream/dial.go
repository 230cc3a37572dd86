package upstream

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"
)

// ErrFingerprint means a pool's certificate did not match its pin.
var ErrFingerprint = errors.New("upstream: tls fingerprint mismatch")

// Dialer opens pool connections. The zero value uses a 20 s timeout and the
// system roots. Safe for concurrent use.
type Dialer struct {
	Timeout   time.Duration // connect + TLS handshake; 0 = 20 s
	KeepAlive time.Duration // TCP keepalive; 0 = 60 s
	// RootCAs overrides the system roots for unpinned TLS pools (tests).
	RootCAs *x509.CertPool
}

// Dial connects to the pool. A plain pool yields a *net.TCPConn (which the
// reactor enrolls in its event loop); a TLS pool yields a *tls.Conn whose
// handshake has completed. With a fingerprint the leaf certificate must
// match it and the chain is not otherwise verified (self-signed pool
// certificates are the common case); without one the chain is verified
// against the roots and the host name.
func (d *Dialer) Dial(ctx context.Context, pool *PoolConfig) (net.Conn, error) {
	ep, err := pool.Endpoint()
	if err != nil {
		return nil, err
	}
	pin, err := pool.Fingerprint()
	if err != nil {
		return nil, err
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	ka := d.KeepAlive
	if ka <= 0 {
		ka = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nd := net.Dialer{KeepAlive: ka}
	conn, err := nd.DialContext(ctx, "tcp", ep.Address())
	if err != nil {
		return nil, fmt.Errorf("upstream: dial %s: %w", ep.Address(), err)
	}
	if !ep.TLS {
		return conn, nil
	}
	cfg := &tls.Config{ServerName: ep.Host, RootCAs: d.RootCAs, MinVersion: tls.VersionTLS12}
	if pin != nil {
		cfg.InsecureSkipVerify = true // replaced by the pin check below
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("%w: %s sent no certificate", ErrFingerprint, ep.Address())
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if !bytes.Equal(sum[:], pin) {
				return fmt.Errorf("%w: %s presented %s", ErrFingerprint, ep.Address(), hex.EncodeToString(sum[:]))
			}
			return nil
		}
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("upstream: tls handshake with %s: %w", ep.Address(), err)
	}
	return tc, nil
}

// Fingerprint returns the hex SHA-256 of a DER certificate, the form
// tls-fingerprint takes.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
