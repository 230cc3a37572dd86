package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/reactor"
)

// SIGHUP (systemctl reload) re-reads the configuration file without
// "watch": a valid change applies, an invalid file is refused with its
// reason and the running configuration stays.
func TestServe_HUP_ReloadsConfig_Good(t *testing.T) {
	pool := startTestPool(t, 1)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.json")
	configText := func(expire int) string {
		return fmt.Sprintf(`{"bind":[{"host":"127.0.0.1","port":%d}],"event-loops":1,"retries":1,"retry-pause":1,
			"pools":[{"url":%q,"user":"W","pass":"x"}],"workers-expire":%d,
			"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok","restricted":false}}`,
			testPort(t), pool.Addr(), expire, testPort(t))
	}
	require.NoError(t, os.WriteFile(cfgPath, []byte(configText(3600)), 0o600))
	cfg, _, err := reactor.LoadConfig(cfgPath)
	require.NoError(t, err)

	var logOut testutil.SyncBuffer
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	hup := make(chan os.Signal, 1)
	ready := make(chan net.Addr, 1)
	exit := make(chan int, 1)
	go func() {
		exit <- serve(ctx, cfg, slog.New(slog.NewTextHandler(&logOut, nil)), serveOptions{path: cfgPath, hup: hup,
			ready: func(a net.Addr) { ready <- a }})
	}()
	var api net.Addr
	select {
	case api = <-ready:
	case code := <-exit:
		t.Fatalf("serve exited %d: %s", code, logOut.String())
	}
	running := func() string {
		req, _ := http.NewRequest("GET", "http://"+api.String()+"/1/config", nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	require.Contains(t, running(), `"workers-expire":3600`)

	// The file keeps its binds (a restart-only key) but changes a live one.
	text := strings.Replace(mustRead(t, cfgPath), `"workers-expire":3600`, `"workers-expire":7200`, 1)
	require.NoError(t, os.WriteFile(cfgPath, []byte(text), 0o600))
	hup <- syscall.SIGHUP
	testutil.Eventually(t, func() bool { return strings.Contains(running(), `"workers-expire":7200`) }, "SIGHUP applied the file")
	require.Contains(t, logOut.String(), "SIGHUP: log files reopened, reloading the configuration file")

	require.NoError(t, os.WriteFile(cfgPath, []byte(`{"mode":"turbo"}`), 0o600))
	hup <- syscall.SIGHUP
	testutil.Eventually(t, func() bool { return strings.Contains(logOut.String(), "configuration file rejected") }, "invalid file refused")
	require.Contains(t, logOut.String(), "mode")
	require.Contains(t, running(), `"workers-expire":7200`, "the running configuration stays")

	stop()
	require.Equal(t, exitOK, <-exit)
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
