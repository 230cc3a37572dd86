// Package haproxytest runs a real HAProxy (the distribution's haproxy
// binary) for tests: a given configuration on loopback ports, stopped when
// the test ends. Nothing outside _test.go files imports it.
//
// Start validates the configuration (haproxy -c), starts haproxy in the
// foreground with it plus an admin socket of its own, and returns once
// haproxy answers there (its listeners are bound by then). Stats reads
// the servers' states through the admin socket ("show stat"), so a test
// can wait for a health check to mark a backend up or down. Without
// haproxy the test is skipped with the reason, or fails under
// GOPROXY_TEST_REQUIRE_SERVICES=1 (see testsvc).
package haproxytest

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"forge.lthn.ai/core/go-proxy/internal/testsvc"
)

// startTimeout bounds haproxy becoming ready (its binds accepting).
const startTimeout = 30 * time.Second

// HAProxy is a running haproxy process. Its methods are safe for
// concurrent use.
type HAProxy struct {
	socket string // admin socket path

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *lockedBuffer
}

// Binary returns the path of the haproxy binary, or an error saying it is
// missing.
func Binary() (string, error) {
	for _, p := range []string{"haproxy", "/usr/sbin/haproxy"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", errors.New("no haproxy binary on PATH or in /usr/sbin; install the haproxy package")
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("haproxytest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Config reads a configuration file (deploy/haproxy.cfg, say) and applies
// the old, new string pairs of replace to it (e.g. the example's server
// addresses for the test's), failing t when an old string is not in the
// file, so a test cannot silently test something else than the file.
func Config(t testing.TB, path string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("haproxytest: %v", err)
	}
	text := string(b)
	if len(replace)%2 != 0 {
		t.Fatal("haproxytest: Config needs old, new pairs")
	}
	for i := 0; i < len(replace); i += 2 {
		if !strings.Contains(text, replace[i]) {
			t.Fatalf("haproxytest: %s does not contain %q", path, replace[i])
		}
		text = strings.ReplaceAll(text, replace[i], replace[i+1])
	}
	return text
}

// Start runs haproxy with config until t ends and returns once its
// listeners are bound. Bind addresses should be loopback ports from
// FreePort. A configuration haproxy refuses fails t with haproxy's
// message.
func Start(t testing.TB, config string) *HAProxy {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		testsvc.Skip(t, "HAProxy", err)
	}
	dir := t.TempDir()
	h := &HAProxy{socket: filepath.Join(dir, "admin.sock"), out: &lockedBuffer{}}
	mainCfg := filepath.Join(dir, "haproxy.cfg")
	// HAProxy merges several global sections: the admin socket is the
	// helper's own, whatever the test's configuration says.
	adminCfg := filepath.Join(dir, "admin.cfg")
	if err := os.WriteFile(mainCfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(adminCfg, []byte("global\n    stats socket "+h.socket+" mode 600 level admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-f", mainCfg, "-f", adminCfg}
	if out, err := exec.Command(bin, append([]string{"-c", "-q"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("haproxytest: haproxy refuses the configuration: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"-db"}, args...)...)
	cmd.Stdout, cmd.Stderr = h.out, h.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("haproxytest: start haproxy: %v", err)
	}
	h.cmd, h.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(h.done) }()
	t.Cleanup(h.Stop)

	// haproxy binds every listener before it serves the admin socket, so
	// an answer there means the binds accept; nothing is sent to them (a
	// probe would reach the backends as an empty connection).
	deadline := time.Now().Add(startTimeout)
	for {
		_, err := h.Stats()
		if err == nil {
			return h
		}
		select {
		case <-h.done:
			t.Fatalf("haproxytest: haproxy exited: %s", h.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxytest: no answer on the admin socket after %s: %v\n%s", startTimeout, err, h.out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling for the socket to appear
	}
}

// Output returns what haproxy printed so far (its log, with -db).
func (h *HAProxy) Output() string { return h.out.String() }

// Stop stops haproxy (hard stop: connections are closed) and waits for it
// to exit; later calls do nothing.
func (h *HAProxy) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd == nil {
		return
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
	}
	h.cmd = nil
}

// Stats returns the rows of "show stat" through the admin socket, one map
// per proxy or server keyed by the CSV header (pxname, svname, status,
// scur, ...).
func (h *HAProxy) Stats() ([]map[string]string, error) {
	c, err := net.DialTimeout("unix", h.socket, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	header, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	cols := strings.Split(strings.TrimSpace(strings.TrimPrefix(header, "# ")), ",")
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	var rows []map[string]string
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		row := make(map[string]string, len(cols))
		for i, v := range rec {
			if i < len(cols) {
				row[cols[i]] = v
			}
		}
		rows = append(rows, row)
	}
}

// Command sends one command to haproxy's admin socket (the runtime API,
// e.g. "set server go-proxy/proxy-a state drain") and returns its answer.
func (h *HAProxy) Command(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", h.socket, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return strings.TrimSpace(string(b)), err
}

// ServerStatus returns the status column ("UP", "DOWN", "UP 1/2", "no
// check", ...) of server in backend.
func (h *HAProxy) ServerStatus(backend, server string) (string, error) {
	rows, err := h.Stats()
	if err != nil {
		return "", err
	}
	for _, r := range rows {
		if r["pxname"] == backend && r["svname"] == server {
			return r["status"], nil
		}
	}
	return "", fmt.Errorf("haproxytest: no server %s/%s", backend, server)
}

// lockedBuffer collects haproxy's output from its pipe goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
