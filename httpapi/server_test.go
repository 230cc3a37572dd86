package httpapi

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// startServer starts the API over a fake source with the given http
// limits (0 = the defaults).
func startServer(t *testing.T, maxConns, headerTimeout, idleTimeout int) (*Server, string) {
	t.Helper()
	src := newFake()
	src.cfg.HTTP.Host = "127.0.0.1"
	src.cfg.HTTP.Port = freePort(t)
	src.cfg.HTTP.MaxConnections = maxConns
	src.cfg.HTTP.ReadHeaderTimeout = headerTimeout
	src.cfg.HTTP.IdleTimeout = idleTimeout
	s := NewServer(src, Options{Logger: quietLogger(), NoRuntimeMetrics: true})
	require.NoError(t, s.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, s.Addr().String()
}

func dialAPI(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// expectClosedByServer reads until the server closes c; a read that only
// times out fails the test.
func expectClosedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(waitTimeout)))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server left the connection open")
		return
	}
}

// summaryStatus asks for /1/summary on a fresh connection.
func summaryStatus(addr string) int {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/1/summary", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Beyond http.max-connections a new API connection is closed at accept;
// once a connection goes away, requests are served again.
func TestServer_MaxConnections_Bad(t *testing.T) {
	_, addr := startServer(t, 2, 60, 60)
	idle := []net.Conn{dialAPI(t, addr), dialAPI(t, addr)}
	// The server accepts in order: the third is over the cap.
	extra := dialAPI(t, addr)
	expectClosedByServer(t, extra)
	require.Zero(t, summaryStatus(addr), "no room while two idle connections hold the cap")
	idle[0].Close()
	testutil.Eventually(t, func() bool { return summaryStatus(addr) == http.StatusOK }, "served again once a connection left")
}

// An unauthenticated request gets its 401 with "Connection: close" and
// the server closes the connection after the answer.
func TestServer_UnauthorizedCloses_Bad(t *testing.T) {
	_, addr := startServer(t, 0, 60, 60)
	c := dialAPI(t, addr)
	_, err := c.Write([]byte("GET /1/summary HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(waitTimeout)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.True(t, resp.Close, "Connection: close")
	expectClosedByServer(t, c)

	// A wrong token (403) too.
	c = dialAPI(t, addr)
	_, err = c.Write([]byte("GET /1/summary HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n\r\n"))
	require.NoError(t, err)
	resp, err = http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	expectClosedByServer(t, c)
}

// A connection that sends nothing is closed after read-header-timeout; a
// kept-alive one after idle-timeout.
func TestServer_IdleTimeouts_Bad(t *testing.T) {
	_, addr := startServer(t, 0, 1, 1)
	silent := dialAPI(t, addr)
	expectClosedByServer(t, silent)

	c := dialAPI(t, addr)
	_, err := c.Write([]byte("GET /1/summary HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(waitTimeout)))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.False(t, resp.Close, "an authenticated client keeps its connection")
	_, err = br.ReadByte()
	require.Error(t, err, "closed once idle")
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "closed by the server, not timed out here")
}
