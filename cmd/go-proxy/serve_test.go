package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/reactor"
)

const waitTimeout = testutil.WaitTimeout

func testPort(t *testing.T) int {
	t.Helper()
	p, err := freePort()
	require.NoError(t, err)
	return p
}

func startTestPool(t *testing.T, seed int64) *mockpool.Pool {
	t.Helper()
	p, err := mockpool.Start(mockpool.Config{Seed: seed, Relay: testutil.RelayConfig(t)})
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

func fileLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// serve, end to end: the API comes up, the access and share logs are
// written and reopened on SIGHUP, a changed config file is applied
// (miners move to a new pool and the share log to a new path), an invalid
// one is refused with its reason, and a signal stops it all in order.
func TestServe_Good(t *testing.T) {
	dir := t.TempDir()
	poolA, poolB := startTestPool(t, 1), startTestPool(t, 2)
	minerPort, apiPort := testPort(t), testPort(t)
	accessPath, sharePath := filepath.Join(dir, "access.log"), filepath.Join(dir, "shares.log")
	configText := func(pool, shareLog string) string {
		return fmt.Sprintf(`{"bind":[{"host":"127.0.0.1","port":%d}],"event-loops":1,"retries":1,"retry-pause":1,
			"pools":[{"url":%q,"user":"W","pass":"x"}],"watch":true,
			"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok","restricted":false},
			"access-log-file":%q,"share-log-file":%q}`, minerPort, pool, apiPort, accessPath, shareLog)
	}
	cfgPath := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(cfgPath, []byte(configText(poolA.Addr(), sharePath)), 0o600))
	cfg, _, err := reactor.LoadConfig(cfgPath)
	require.NoError(t, err)

	var logOut testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logOut, nil))
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	hup := make(chan os.Signal, 1)
	ready := make(chan net.Addr, 1)
	exit := make(chan int, 1)
	go func() {
		exit <- serve(ctx, cfg, log, serveOptions{path: cfgPath, watchEvery: 20 * time.Millisecond, hup: hup,
			ready: func(a net.Addr) { ready <- a }})
	}()
	var apiAddr net.Addr
	select {
	case apiAddr = <-ready:
	case code := <-exit:
		t.Fatalf("serve exited %d: %s", code, logOut.String())
	}
	require.NotNil(t, apiAddr)
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+apiAddr.String()+path, nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/1/summary")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"version":"`+reactor.Version+`"`)

	// A miner logs in and sends a bad share (answered locally). It dials
	// the proxy directly: the logs must name its own address.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", minerPort))
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	readLine := func() map[string]any {
		_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
		s, err := r.ReadString('\n')
		require.NoError(t, err)
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(s), &v))
		return v
	}
	fmt.Fprintln(c, `{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"WALLET","pass":"secretpass","agent":"XMRig/6.22.2","rigid":"rig-1"}}`)
	login := readLine()
	session := login["result"].(map[string]any)["id"].(string)
	fmt.Fprintf(c, `{"id":2,"jsonrpc":"2.0","method":"submit","params":{"id":%q,"job_id":"nope","nonce":"00000000","result":"%s"}}`+"\n", session, strings.Repeat("0", 64))
	require.NotNil(t, readLine()["error"])

	minerAddr := regexp.QuoteMeta(c.LocalAddr().String())
	reConnect := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ CONNECT 127\.0\.0\.1 WALLET rig=rig-1 addr=` + minerAddr + ` agent="XMRig/6\.22\.2"$`)
	reReject := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ REJECT WALLET rig=rig-1 addr=` + minerAddr + ` reason="[^"]+"$`)
	testutil.Eventually(t, func() bool { return len(fileLines(accessPath)) == 1 && len(fileLines(sharePath)) == 1 }, "log lines flushed")
	require.Regexp(t, reConnect, fileLines(accessPath)[0])
	require.Regexp(t, reReject, fileLines(sharePath)[0])

	// Log rotation: rename, SIGHUP, the next line goes to a new file.
	require.NoError(t, os.Rename(sharePath, sharePath+".1"))
	hup <- syscall.SIGHUP
	testutil.Eventually(t, func() bool { _, err := os.Stat(sharePath); return err == nil }, "share log reopened")
	fmt.Fprintf(c, `{"id":3,"jsonrpc":"2.0","method":"submit","params":{"id":%q,"job_id":"nope","nonce":"00000001","result":"%s"}}`+"\n", session, strings.Repeat("0", 64))
	require.NotNil(t, readLine()["error"])
	testutil.Eventually(t, func() bool { return len(fileLines(sharePath)) == 1 }, "line in the new file")
	require.Len(t, fileLines(sharePath+".1"), 1)

	// The config file changes: new pool, share log moved. The miner stays
	// connected and gets pool B's job.
	movedShares := filepath.Join(dir, "shares2.log")
	require.NoError(t, os.WriteFile(cfgPath, []byte(configText(poolB.Addr(), movedShares)), 0o600))
	waitCtx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, poolB.WaitFor(waitCtx, func(s mockpool.Stats) bool { return s.Logins == 1 }))
	// The proxy switches pools first, then the log files.
	testutil.Eventually(t, func() bool { return strings.Contains(logOut.String(), movedShares) }, "share log switched")
	for {
		v := readLine()
		if v["method"] == "job" && v["params"].(map[string]any)["job_id"] == poolB.CurrentJob().JobID {
			break
		}
	}
	fmt.Fprintf(c, `{"id":4,"jsonrpc":"2.0","method":"submit","params":{"id":%q,"job_id":"nope","nonce":"00000002","result":"%s"}}`+"\n", session, strings.Repeat("0", 64))
	require.NotNil(t, readLine()["error"])
	testutil.Eventually(t, func() bool { return len(fileLines(movedShares)) == 1 }, "share log moved")

	// An invalid file is refused with its reason; pool B stays.
	require.NoError(t, os.WriteFile(cfgPath, []byte(`{"pools":[{"url":"x:1"}],"mode":"turbo"}`), 0o600))
	testutil.Eventually(t, func() bool { return strings.Contains(logOut.String(), "keeping the running configuration") }, "invalid config logged")
	require.Contains(t, logOut.String(), "mode")
	code, body = get("/1/config")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, poolB.Addr())
	require.NotContains(t, body, "secretpass")
	require.NotContains(t, logOut.String(), "secretpass")

	// Stop: watcher, API, proxy, logs (the CLOSE line is flushed).
	stop()
	select {
	case code := <-exit:
		require.Equal(t, exitOK, code, logOut.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	al := fileLines(accessPath)
	require.Len(t, al, 2, "CONNECT and CLOSE")
	require.Contains(t, al[1], " CLOSE 127.0.0.1 WALLET rig=rig-1 addr="+c.LocalAddr().String()+" rx=")
	_, err = http.Get("http://" + apiAddr.String() + "/1/summary")
	require.Error(t, err, "API closed")
	// The README's shutdown order: watcher, API, proxy, logs.
	requireInOrder(t, logOut.String(),
		`msg="stopping: waiting up to 5 s for submits in flight"`,
		`msg="config watcher stopped"`,
		`msg="HTTP API stopped"`,
		`msg="proxy stopped"`,
		`msg=stopped`)
}

// requireInOrder asserts that every part occurs in text, each after the
// one before it.
func requireInOrder(t *testing.T, text string, parts ...string) {
	t.Helper()
	at := 0
	for _, p := range parts {
		i := strings.Index(text[at:], p)
		require.GreaterOrEqual(t, i, 0, "%s missing, or not after the parts before it, in:\n%s", p, text)
		at += i + len(p)
	}
}

func TestServe_Bad(t *testing.T) {
	// Startup failures: an unwritable log, a taken API port.
	var logOut testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logOut, nil))
	pool := startTestPool(t, 1)
	base := func() *reactor.Config {
		cfg, _, err := reactor.ParseConfig([]byte(fmt.Sprintf(`{"bind":[{"host":"127.0.0.1","port":%d}],"event-loops":1,"pools":[{"url":%q}]}`, testPort(t), pool.Addr())))
		require.NoError(t, err)
		return cfg
	}
	cfg := base()
	cfg.AccessLogFile = filepath.Join(t.TempDir(), "no-such-dir", "access.log")
	require.Equal(t, exitFailed, serve(context.Background(), cfg, log, serveOptions{}))
	require.Contains(t, logOut.String(), "access log")

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	cfg = base()
	cfg.HTTP.Enabled = true
	cfg.HTTP.Port = taken.Addr().(*net.TCPAddr).Port
	require.Equal(t, exitFailed, serve(context.Background(), cfg, log, serveOptions{}))
	require.Contains(t, logOut.String(), "cannot start the HTTP API")
}
