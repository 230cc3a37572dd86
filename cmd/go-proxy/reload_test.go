package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// The API's listener (http.enabled/host/port) is disk-only: through the
// API a configuration that would move or close it is refused (400 naming
// the keys) and nothing changes. With enabled/host/port unchanged, the
// token and restricted apply at once. A reload from the file cannot move
// the running API server either, so there the whole running http section
// stays, authentication included: a file without an http section leaves
// the API's token and restricted as they were.
func TestServe_ReloadHTTP_Good(t *testing.T) {
	pool := startTestPool(t, 1)
	minerPort, apiPort := testPort(t), testPort(t)
	withHTTP := func(http string) string {
		return fmt.Sprintf(`{"bind":[{"host":"127.0.0.1","port":%d}],"event-loops":1,"pools":[{"url":%q}],"watch":true%s}`, minerPort, pool.Addr(), http)
	}
	first := withHTTP(fmt.Sprintf(`,"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok","restricted":false}`, apiPort))
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(cfgPath, []byte(first), 0o600))
	rs := startServeOpts(t, first, serveOptions{path: cfgPath, watchEvery: 20 * time.Millisecond})
	const jsonType = "application/json"

	// No http section (it would disable the API): refused.
	code, body := rs.call("PUT", "/1/config", jsonType, withHTTP(""))
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, body, "http.enabled, http.port: ")
	code, _ = rs.callAs("", "GET", "/1/workers", "", "")
	require.Equal(t, http.StatusUnauthorized, code, "the token still applies")

	// Another port, another token, restricted: refused, nothing applies.
	code, body = rs.call("PUT", "/1/config", jsonType, withHTTP(fmt.Sprintf(
		`,"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"other","restricted":true}`, testPort(t))))
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, body, "http.port: ")
	code, _ = rs.callAs("other", "GET", "/1/summary", "", "")
	require.Equal(t, http.StatusForbidden, code, "the new token does not apply")
	code, body = rs.call("GET", "/1/config", "", "")
	require.Equal(t, http.StatusOK, code, "still unrestricted: "+body)
	require.Contains(t, body, `"access-token":"********"`)
	require.Contains(t, body, fmt.Sprintf(`"port":%d`, apiPort))

	// The file drops its http section: kept, with a warning.
	require.NoError(t, os.WriteFile(cfgPath, []byte(withHTTP(`,"custom-diff":5000`)), 0o600))
	testutil.Eventually(t, func() bool { return strings.Contains(rs.log.String(), "keeping the running http section") }, "file reload kept the http section")
	code, body = rs.call("GET", "/1/config", "", "")
	require.Equal(t, http.StatusOK, code, "still unrestricted: "+body)
	require.Contains(t, body, `"custom-diff":5000`, "the rest applied")

	// Same enabled/host/port: the new token and restricted apply now.
	code, body = rs.call("PUT", "/1/config", jsonType, withHTTP(fmt.Sprintf(
		`,"http":{"enabled":true,"port":%d,"access-token":"tok2","restricted":true}`, apiPort)))
	require.Equal(t, http.StatusNoContent, code, body)
	code, _ = rs.call("GET", "/1/summary", "", "")
	require.Equal(t, http.StatusForbidden, code, "the old token is refused")
	code, body = rs.callAs("tok2", "GET", "/1/summary", "", "")
	require.Equal(t, http.StatusOK, code, body)
	code, _ = rs.callAs("tok2", "PUT", "/1/config", jsonType, withHTTP(""))
	require.Equal(t, http.StatusForbidden, code, "restricted now")

	logText := rs.log.String()
	for _, secret := range []string{"tok2", `"other"`} {
		require.NotContains(t, logText, secret)
	}
	require.Equal(t, exitOK, rs.shutdown())
}

// log-level applies on every reload, through the API and the watched file.
func TestServe_ReloadLogLevel_Good(t *testing.T) {
	pool := startTestPool(t, 1)
	minerPort, apiPort := testPort(t), testPort(t)
	text := func(level string) string {
		return fmt.Sprintf(`{"bind":[{"host":"127.0.0.1","port":%d}],"event-loops":1,"pools":[{"url":%q}],"watch":true,"log-level":%q,
			"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok","restricted":false}}`, minerPort, pool.Addr(), level, apiPort)
	}
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(cfgPath, []byte(text("info")), 0o600))
	level := new(slog.LevelVar)
	rs := startServeOpts(t, text("info"), serveOptions{path: cfgPath, watchEvery: 20 * time.Millisecond, level: level})
	require.Equal(t, slog.LevelInfo, level.Level())

	code, body := rs.call("PUT", "/1/config", "application/json", text("warn"))
	require.Equal(t, http.StatusNoContent, code, body)
	require.Equal(t, slog.LevelWarn, level.Level(), "PUT /1/config")

	require.NoError(t, os.WriteFile(cfgPath, []byte(text("debug")), 0o600))
	testutil.Eventually(t, func() bool { return level.Level() == slog.LevelDebug }, "watched file's log-level applied")

	// A rejected configuration changes nothing.
	code, _ = rs.call("PUT", "/1/config", "application/json", strings.Replace(text("error"), `"event-loops":1`, `"mode":"turbo"`, 1))
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, slog.LevelDebug, level.Level())
	require.Equal(t, exitOK, rs.shutdown())
}
