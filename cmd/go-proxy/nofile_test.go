package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// Environment of a child go-proxy (see TestMain): its configuration file;
// the open-files limit it sets on itself (soft and hard); and how
// many descriptors it opens and keeps before starting, standing for a leak
// or a library outside the budget.
const (
	childConfigEnv = "GOPROXY_TEST_CHILD_CONFIG"
	childNofileEnv = "GOPROXY_TEST_CHILD_NOFILE"
	childHoldEnv   = "GOPROXY_TEST_CHILD_HOLD"
)

// TestMain runs this test binary as go-proxy itself when the child
// environment is set, so the descriptor tests get a real proxy process
// with its own open-files limit (the test process's limit is never
// lowered).
func childMain(args []string) int {
	if n, err := strconv.Atoi(os.Getenv(childNofileEnv)); err == nil && n > 0 {
		// Both limits: the Go runtime (and go-proxy) raise the soft limit
		// to the hard one.
		rl := syscall.Rlimit{Cur: uint64(n), Max: uint64(n)}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			fmt.Fprintln(os.Stderr, "setrlimit:", err)
			return 3
		}
	}
	hold, _ := strconv.Atoi(os.Getenv(childHoldEnv))
	var held []*os.File
	for range hold {
		f, err := os.Open(os.DevNull)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hold:", err)
			return 3
		}
		held = append(held, f)
	}
	code := run(args, os.Stdout, os.Stderr)
	for _, f := range held {
		f.Close()
	}
	return code
}

// child is a go-proxy process under test.
type child struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *testutil.SyncBuffer
	exited chan struct{}
	api    string
	miners string
}

// startChild runs go-proxy in a child process with the given open-files
// limit and held descriptors, a one-loop config in front of pool, the API
// capped at apiConns connections.
func startChild(t *testing.T, nofile, hold, apiConns int, pool string) *child {
	t.Helper()
	minerPort, apiPort := testPort(t), testPort(t)
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	cfg := fmt.Sprintf(`{"bind":[{"host":"127.0.0.1","port":%d}],"event-loops":1,"retries":1,"retry-pause":1,
		"login-timeout":120,"pools":[{"url":%q,"user":"W","pass":"x"}],
		"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok","max-connections":%d,
		        "read-header-timeout":120,"idle-timeout":1}}`, minerPort, pool, apiPort, apiConns)
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	c := &child{t: t, out: &testutil.SyncBuffer{}, exited: make(chan struct{}),
		api: fmt.Sprintf("127.0.0.1:%d", apiPort), miners: fmt.Sprintf("127.0.0.1:%d", minerPort)}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), childConfigEnv+"="+cfgPath,
		childNofileEnv+"="+strconv.Itoa(nofile), childHoldEnv+"="+strconv.Itoa(hold))
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	require.NoError(t, c.cmd.Start())
	go func() { _ = c.cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(waitTimeout):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		if t.Failed() {
			t.Logf("child output:\n%s", c.out.String())
		}
	})
	testutil.Eventually(t, func() bool { c.requireAlive(); _, ok := c.summary(); return ok }, "the child's API is up")
	return c
}

// logged returns the number logged as key=N (the first such line).
func (c *child) logged(key string) int {
	c.t.Helper()
	m := regexp.MustCompile(`\b` + key + `=(\d+)`).FindStringSubmatch(c.out.String())
	require.NotNil(c.t, m, "%s not logged", key)
	n, _ := strconv.Atoi(m[1])
	return n
}

// requireAlive fails the test if the process has exited.
func (c *child) requireAlive() {
	c.t.Helper()
	select {
	case <-c.exited:
		c.t.Fatalf("go-proxy exited (%v):\n%s", c.cmd.ProcessState, c.out.String())
	default:
	}
}

// summary fetches /1/summary on a fresh connection; ok is false when the
// API did not answer.
func (c *child) summary() (map[string]any, bool) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequest(http.MethodGet, "http://"+c.api+"/1/summary", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := client.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &v) != nil {
		return nil, false
	}
	return v, true
}

// number reads a number from a summary at a dotted path.
func number(v map[string]any, path string) float64 {
	var cur any = v
	for _, k := range strings.Split(path, ".") {
		m, _ := cur.(map[string]any)
		cur = m[k]
	}
	f, _ := cur.(float64)
	return f
}

// flood opens n idle connections to addr and watches each: closed counts
// those the server closed.
type flood struct {
	conns  []net.Conn
	closed atomic.Int64
	wg     sync.WaitGroup
}

func openFlood(t *testing.T, addr string, n int) *flood {
	t.Helper()
	f := &flood{}
	for range n {
		c, err := net.DialTimeout("tcp", addr, waitTimeout)
		require.NoError(t, err, "the kernel completes the handshake even when the proxy cannot accept")
		f.conns = append(f.conns, c)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			_, err := c.Read(make([]byte, 1))
			var ne net.Error
			if err != nil && !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, net.ErrClosed) {
				f.closed.Add(1)
			}
		}()
	}
	t.Cleanup(f.close)
	return f
}

func (f *flood) close() {
	for _, c := range f.conns {
		c.Close()
	}
	f.wg.Wait()
}

// With a low open-files limit, idle API connections and miners beyond the
// budget are refused while the process keeps running, and once the load
// goes away miners and API calls are served again.
func TestServe_LowOpenFiles_Ugly(t *testing.T) {
	pool := startTestPool(t, 1)
	c := startChild(t, 256, 0, 8, pool.Addr())
	sum, _ := c.summary()
	require.Zero(t, number(sum, "connections.refused"))
	capN := c.logged("miners_max")
	require.Greater(t, capN, 150, "256 open files minus the reserve")
	require.Less(t, capN, 256-8)

	// 40 idle API connections: 8 are kept (the cap), the rest closed at
	// accept.
	api := openFlood(t, c.api, 40)
	testutil.Eventually(t, func() bool { return api.closed.Load() >= 32 }, "API connections beyond the cap closed")
	c.requireAlive()

	// 400 miners against the cap (256 minus the reserve): those beyond it
	// are closed at accept; the others stay.
	miners := openFlood(t, c.miners, 400)
	testutil.Eventually(t, func() bool { return miners.closed.Load() == int64(400-capN) }, "miners beyond the budget refused")
	c.requireAlive()

	// The API load goes away: the API answers again, and counts what it
	// refused.
	api.close()
	testutil.Eventually(t, func() bool {
		s, ok := c.summary()
		return ok && number(s, "miners.now") == float64(capN) && number(s, "connections.refused") == float64(400-capN)
	}, "the API serves again and shows the miners kept and refused")
	require.Equal(t, int64(400-capN), miners.closed.Load(), "the miners within the cap are still connected")
	require.Contains(t, c.out.String(), "HTTP API connection limit reached")

	// The miners go: a new one logs in and gets work.
	miners.close()
	testutil.Eventually(t, func() bool { s, ok := c.summary(); return ok && number(s, "miners.now") == 0 }, "miners gone")
	m := testminer.DialCN(t, c.miners)
	require.Nil(t, m.Login("WALLET").Error)
	require.Nil(t, m.Submit().Error)
	c.requireAlive()
}

// When descriptors run out anyway (here the child holds 130 of its 256
// outside the budget), accept fails with EMFILE: the proxy logs it, backs
// off and keeps serving, and accepts again once descriptors are free.
// gnet's own acceptor would have stopped the whole engine.
func TestServe_AcceptEMFILE_Ugly(t *testing.T) {
	pool := startTestPool(t, 1)
	c := startChild(t, 256, 130, 8, pool.Addr())
	first := testminer.DialCN(t, c.miners)
	require.Nil(t, first.Login("WALLET").Error)

	miners := openFlood(t, c.miners, 300)
	testutil.Eventually(t, func() bool { return strings.Contains(c.out.String(), "too many open files") }, "accept hit EMFILE")
	require.Contains(t, c.out.String(), "accept failed; backing off")
	c.requireAlive()
	// The miner that was already there is still served.
	require.Nil(t, first.Submit().Error)

	miners.close()
	testutil.Eventually(t, func() bool { s, ok := c.summary(); return ok && number(s, "miners.now") == 1 }, "the flood drained")
	m := testminer.DialCN(t, c.miners)
	require.Nil(t, m.Login("WALLET").Error)
	require.Nil(t, m.Submit().Error)
	require.Nil(t, first.Submit().Error)
	c.requireAlive()
}
