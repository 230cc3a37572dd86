package haproxytest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/internal/testsvc"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testsvc.Main(m)) }

var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// readProxyV2 reads a PROXY protocol v2 header and returns the source
// address it carries.
func readProxyV2(r io.Reader) (netip.AddrPort, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return netip.AddrPort{}, err
	}
	if !bytes.Equal(hdr[:12], proxyV2Sig) {
		return netip.AddrPort{}, fmt.Errorf("not a PROXY v2 header: %q", hdr[:])
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[14:16]))
	if _, err := io.ReadFull(r, body); err != nil {
		return netip.AddrPort{}, err
	}
	if hdr[13]>>4 != 1 || len(body) < 12 { // AF_INET
		return netip.AddrPort{}, fmt.Errorf("not an IPv4 PROXY header (family %#x)", hdr[13])
	}
	src := netip.AddrFrom4([4]byte(body[0:4]))
	return netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[8:10])), nil
}

// A real haproxy relays a connection to its backend with a PROXY v2
// header carrying the client's address, both ways; its health check
// marks the backend up, then down when the checked port goes away.
func TestHAProxy_RelaysWithProxyV2(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer backend.Close()
	check, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() {
		for {
			c, err := check.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	sources := make(chan netip.AddrPort, 1)
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				src, err := readProxyV2(r)
				if err != nil {
					t.Error(err)
					return
				}
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				sources <- src
				_, _ = io.WriteString(c, "echo "+line)
			}()
		}
	}()

	front := FreePort(t)
	h := Start(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 5s
    timeout client 1m
    timeout server 1m
frontend stratum
    bind 127.0.0.1:%d
    default_backend proxies
backend proxies
    server a %s send-proxy-v2 check port %d inter 100ms fall 1 rise 1
`, front, backend.Addr(), check.Addr().(*net.TCPAddr).Port))

	testutil.Eventually(t, func() bool { s, err := h.ServerStatus("proxies", "a"); return err == nil && s == "UP" }, "health check marks the backend up")

	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", front), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "hello\n")
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(testutil.WaitTimeout)))
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err, h.Output())
	require.Equal(t, "echo hello\n", line)
	select {
	case src := <-sources:
		require.Equal(t, c.LocalAddr().String(), src.String(), "the backend sees the client's address")
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("the backend got no connection")
	}

	check.Close()
	testutil.Eventually(t, func() bool { s, err := h.ServerStatus("proxies", "a"); return err == nil && s == "DOWN" }, "health check marks the backend down")

	info, err := h.Command("show info")
	require.NoError(t, err)
	require.Contains(t, info, "Name: HAProxy")
	out, err := h.Command("set server proxies/a state maint")
	require.NoError(t, err)
	require.Empty(t, out)
	s, err := h.ServerStatus("proxies", "a")
	require.NoError(t, err)
	require.Equal(t, "MAINT", s)
}

// Config applies old, new pairs to a configuration file.
func TestConfig_Replaces(t *testing.T) {
	path := t.TempDir() + "/x.cfg"
	require.NoError(t, os.WriteFile(path, []byte("server a 10.0.0.1:3333\n"), 0o600))
	require.Equal(t, "server a 127.0.0.1:4444\n", Config(t, path, "10.0.0.1:3333", "127.0.0.1:4444"))
}
