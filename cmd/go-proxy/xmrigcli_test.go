package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// TestMain lets a test run this package's main in a child process: with
// GO_PROXY_TEST_MAIN=1 the test binary is go-proxy itself.
// proc is go-proxy running as a child process.
type proc struct {
	cmd    *exec.Cmd
	stderr *testutil.SyncBuffer
	done   chan error
}

// startProcess runs go-proxy with args in dir, env added to the
// environment.
func startProcess(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GO_PROXY_TEST_MAIN=1"), env...)
	p := &proc{cmd: cmd, stderr: new(testutil.SyncBuffer), done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	cmd.Stdout = p.stderr
	require.NoError(t, cmd.Start())
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// stop sends SIGTERM and returns the exit code.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("go-proxy did not stop: %s", p.stderr.String())
	}
	p.done <- nil // for the cleanup
	return p.cmd.ProcessState.ExitCode()
}

// apiGet reads an API endpoint with the token.
func apiGet(url, token string) (int, []byte, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// xmrig-proxy's own command line, with an option from every group of its
// README, starts go-proxy unchanged and without a file: miners mine
// through it, the API answers, the logs are written, the donation and
// colour options are named once as ignored, and SIGTERM stops it cleanly.
func TestXmrigProxyCommandLine_Good(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the proxy as a process")
	}
	dir := t.TempDir()
	pool, err := mockpool.Start(mockpool.Config{Seed: 11})
	require.NoError(t, err)
	defer pool.Close()
	backup, err := mockpool.Start(mockpool.Config{Seed: 12})
	require.NoError(t, err)
	defer backup.Close()
	minerPort, apiPort := testPort(t), testPort(t)
	p := startProcess(t, dir, nil,
		"-o", pool.Addr(), "-u", "POOLWALLET", "-p", "x", "-k", "--rig-id", "proxy-1",
		"-o", backup.Addr(), "-u", "POOLWALLET", "-p", "x",
		"-r", "2", "-R", "1", "--donate-level", "0",
		"-b", "127.0.0.1:"+strconv.Itoa(minerPort), "-m", "nicehash", "--custom-diff-stats", "--reuse-timeout", "0",
		"--http-host", "127.0.0.1", "--http-port", strconv.Itoa(apiPort), "--http-access-token", "T", "--api-worker-id", "edge-1",
		"-l", "proxy.log", "-A", "access.log", "--no-color", "--verbose")
	api := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	testutil.Eventually(t, func() bool {
		code, _, err := apiGet(api+"/1/summary", "T")
		return err == nil && code == http.StatusOK
	}, "the API answers")

	m := testminer.DialCN(t, fmt.Sprintf("127.0.0.1:%d", minerPort))
	m.RigID = "rig-7"
	require.Nil(t, m.Login("MINERWALLET").Error)
	for range 3 {
		require.Nil(t, m.Submit().Error)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, pool.WaitFor(ctx, func(s mockpool.Stats) bool { return s.Accepted >= 3 }))
	require.Zero(t, pool.Stats().Duplicates)

	var sum struct {
		WorkerID string `json:"worker_id"`
		Kind     string `json:"kind"`
		Results  struct {
			Accepted int `json:"accepted"`
		} `json:"results"`
	}
	testutil.Eventually(t, func() bool {
		_, body, err := apiGet(api+"/1/summary", "T")
		return err == nil && json.Unmarshal(body, &sum) == nil && sum.Results.Accepted == 3
	}, "the API counts the shares")
	require.Equal(t, "edge-1", sum.WorkerID)
	require.Equal(t, "proxy", sum.Kind)
	m.Conn.Close()

	require.Equal(t, exitOK, p.stop(t), p.stderr.String())
	out := p.stderr.String()
	require.Equal(t, 1, strings.Count(out, "xmrig-proxy settings accepted but not used"), out)
	require.Contains(t, out, "keys=\"colors, donate-level\"")
	logText, err := os.ReadFile(filepath.Join(dir, "proxy.log"))
	require.NoError(t, err)
	require.Contains(t, string(logText), "level=DEBUG", "--verbose")
	require.Contains(t, string(logText), `msg=stopped`)
	access, err := os.ReadFile(filepath.Join(dir, "access.log"))
	require.NoError(t, err)
	require.Contains(t, string(access), " CONNECT 127.0.0.1 MINERWALLET rig=rig-7 addr=")
}

// A configuration carrying every key of xmrig-proxy 6.26's config.json,
// each set, starts go-proxy unchanged: miners mine through it on the plain
// and the TLS port, the API reports what the file says.
func TestXmrigProxyConfigFile_Good(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the proxy as a process")
	}
	dir := t.TempDir()
	pool, err := mockpool.Start(mockpool.Config{Seed: 21})
	require.NoError(t, err)
	defer pool.Close()
	data, err := os.ReadFile("../../testdata/xmrig-proxy/every-key.json")
	require.NoError(t, err)
	bindPort, tlsPort, apiPort := testPort(t), testPort(t), testPort(t)
	text := strings.NewReplacer("BIND_PORT", strconv.Itoa(bindPort), "TLS_PORT", strconv.Itoa(tlsPort),
		"HTTP_PORT", strconv.Itoa(apiPort), "POOL_URL", pool.Addr(),
		"ACCESS_LOG", filepath.Join(dir, "access.log"), "MAIN_LOG", filepath.Join(dir, "proxy.log")).Replace(string(data))
	path := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))

	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run([]string{"--dry-run", "-c", path}, &out, &errOut), errOut.String())

	p := startProcess(t, dir, []string{"GOPROXY_TEST_SITE=fra"}, "-c", path)
	api := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	testutil.Eventually(t, func() bool {
		code, _, err := apiGet(api+"/1/summary", "api-token")
		return err == nil && code == http.StatusOK
	}, "the API answers")
	for _, m := range []*testminer.CN{
		testminer.DialCN(t, fmt.Sprintf("127.0.0.1:%d", bindPort)),
		testminer.DialCN(t, fmt.Sprintf("127.0.0.1:%d", tlsPort), testminer.WithTLS(genCertCheck("proxy.example.com"))),
	} {
		m.Pass = "farm-secret"
		require.Nil(t, m.Login("WALLET").Error)
		require.Nil(t, m.Submit().Error)
		m.Conn.Close()
	}
	_, body, err := apiGet(api+"/1/summary", "api-token")
	require.NoError(t, err)
	var sum map[string]any
	require.NoError(t, json.Unmarshal(body, &sum))
	require.Equal(t, "proxy-eu-1", sum["id"])
	require.Equal(t, "edge-fra", sum["worker_id"], "api.worker-id, ${VAR} expanded")
	require.Equal(t, "go-proxy-test", sum["ua"])
	require.Equal(t, exitOK, p.stop(t), p.stderr.String())
	require.Contains(t, p.stderr.String(), "pools[0].coin", "the unused keys are named")
}

// genCertCheck accepts only the self-signed certificate generated for
// name (tls.gen).
func genCertCheck(name string) *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, VerifyConnection: func(cs tls.ConnectionState) error {
		if leaf := cs.PeerCertificates[0]; leaf.Subject.CommonName != name {
			return fmt.Errorf("certificate for %q, want %q", leaf.Subject.CommonName, name)
		}
		return nil
	}}
}
