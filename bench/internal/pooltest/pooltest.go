// Package pooltest holds the test helpers the mock pools' own tests share
// (bench/mockpool, bench/sv1pool): a line-oriented client connection, a
// bounded context for WaitFor and a self-signed TLS configuration. The
// protocol side of a test client (its messages) stays in each package.
package pooltest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// IOTimeout bounds every dial, read and write of a Client, and a WaitCtx;
// a correct pool answers at once.
const IOTimeout = 5 * time.Second

// Client is a line-oriented client connection to a pool. A test failure
// (require) ends the test on any I/O error.
type Client struct {
	T    *testing.T
	Conn net.Conn
	// NextID is the id ID hands out next; 1 after Dial.
	NextID uint64
	r      *bufio.Reader
}

// Dial connects to addr over TCP. The connection is closed when the test
// ends.
func Dial(t *testing.T, addr string) *Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, IOTimeout)
	require.NoError(t, err)
	return newClient(t, conn)
}

// DialTLS connects to addr over TLS, without verifying the certificate.
// The connection is closed when the test ends.
func DialTLS(t *testing.T, addr string) *Client {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: IOTimeout}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test against a self-signed pool
	require.NoError(t, err)
	return newClient(t, conn)
}

func newClient(t *testing.T, conn net.Conn) *Client {
	c := &Client{T: t, Conn: conn, r: bufio.NewReader(conn), NextID: 1}
	t.Cleanup(func() { _ = conn.Close() })
	return c
}

// ID returns NextID and advances it.
func (c *Client) ID() uint64 {
	c.NextID++
	return c.NextID - 1
}

// Send writes line as is.
func (c *Client) Send(line []byte) {
	c.T.Helper()
	_ = c.Conn.SetWriteDeadline(time.Now().Add(IOTimeout))
	_, err := c.Conn.Write(line)
	require.NoError(c.T, err)
}

// ReadLine returns the next line without its newline.
func (c *Client) ReadLine() string {
	c.T.Helper()
	_ = c.Conn.SetReadDeadline(time.Now().Add(IOTimeout))
	line, err := c.r.ReadString('\n')
	require.NoError(c.T, err)
	return line[:len(line)-1]
}

// ExpectEOF asserts that the pool closes the connection (lines before the
// end are skipped).
func (c *Client) ExpectEOF() {
	c.T.Helper()
	_ = c.Conn.SetReadDeadline(time.Now().Add(IOTimeout))
	for {
		_, err := c.r.ReadString('\n')
		if err != nil {
			var ne net.Error
			require.False(c.T, errors.As(err, &ne) && ne.Timeout(), "pool did not close the connection")
			var oe *net.OpError // a reset
			require.True(c.T, errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.As(err, &oe), "%v", err)
			return
		}
	}
}

// WaitCtx returns a context that ends after IOTimeout or with the test.
func WaitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), IOTimeout)
	t.Cleanup(cancel)
	return ctx
}

// SelfSignedTLS returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1, named name.
func SelfSignedTLS(t *testing.T, name string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}
