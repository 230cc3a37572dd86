package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/registry"
)

// Issue 10, item 9, end to end: the admin token once let a client point
// access-log-file at a shell start-up file, and a miner whose login was
// shell code then ran it as the proxy's user. Now the API cannot choose a
// file (400 naming the key, nothing created), a hostile login is written
// escaped — sourcing the log with every shell on the box runs none of it —
// and the configuration file on disk still moves the log.
// agentField is the quoted agent field of an access log CONNECT line.
var agentField = regexp.MustCompile(` agent="([^"]*)"$`)

func TestServe_APIPathsAndHostileLogins_Ugly(t *testing.T) {
	dir := t.TempDir()
	pool := startTestPool(t, 1)
	minerPort, apiPort := testPort(t), testPort(t)
	accessPath := filepath.Join(dir, "access.log")
	configText := func(access string) string {
		return fmt.Sprintf(`{"bind":[{"host":"127.0.0.1","port":%d}],"event-loops":1,"pools":[{"url":%q,"user":"W","pass":"x"}],"watch":true,
			"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok","restricted":false},
			"access-log-file":%q}`, minerPort, pool.Addr(), apiPort, access)
	}
	cfgPath := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(cfgPath, []byte(configText(accessPath)), 0o600))
	rs := startServeOpts(t, configText(accessPath), serveOptions{path: cfgPath, watchEvery: 20 * time.Millisecond})

	// The exploit's first half: refused, whatever key names a file.
	rc := filepath.Join(dir, "home", ".bashrc")
	require.NoError(t, os.Mkdir(filepath.Dir(rc), 0o700))
	for key, edit := range map[string]func(string) string{
		"access-log-file": func(c string) string { return strings.Replace(c, strconv.Quote(accessPath), strconv.Quote(rc), 1) },
		"share-log-file": func(c string) string {
			return strings.Replace(c, `"watch":true`, `"watch":true,"share-log-file":`+strconv.Quote(rc), 1)
		},
		"registry.path": func(c string) string {
			return strings.Replace(c, `"watch":true`, `"watch":true,"registry":{"path":`+strconv.Quote(rc)+`}`, 1)
		},
		"tls.cert, tls.cert_key": func(c string) string {
			return strings.Replace(c, `"watch":true`, `"watch":true,"tls":{"cert":"/etc/shadow","cert_key":"/etc/shadow"}`, 1)
		},
	} {
		for _, method := range []string{"PUT", "POST"} {
			code, body := rs.call(method, "/1/config", "application/json", edit(configText(accessPath)))
			require.Equal(t, http.StatusBadRequest, code, body)
			require.Contains(t, body, `"error":"`+key+`: `)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(rc))
	require.NoError(t, err)
	require.Empty(t, entries, "nothing created")
	require.Contains(t, rs.log.String(), "configuration refused")
	code, body := rs.call("GET", "/1/config", "", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, strconv.Quote(accessPath))

	// The second half: logins that are shell code, for sh, bash and zsh.
	pwned := filepath.Join(dir, "pwned")
	logins := []string{
		"x;id>" + pwned + ";#",
		"x$(id>" + pwned + ")",
		"x`id>" + pwned + "`",
		"x|tee " + pwned,
		"x&&id>" + pwned,
		"*(e:id>" + pwned + ":)",
		"'\"x\u202e\u2066\u2028",
	}
	minerAddr := testutil.Relay(t, fmt.Sprintf("127.0.0.1:%d", minerPort))
	for _, login := range logins {
		m := testminer.DialCN(t, minerAddr)
		m.Agent = "XMRig/6.22.2 $(id>" + pwned + ")"
		require.Nil(t, m.Login(login).Error, login)
		m.Conn.Close()
	}
	testutil.Eventually(t, func() bool { return len(fileLines(accessPath)) == 2*len(logins) }, "CONNECT and CLOSE lines")
	lines := fileLines(accessPath)
	require.Contains(t, lines[0], ` CONNECT 127.0.0.1 x\x3bid\x3e`+pwned+`\x3b# rig=`)
	require.Contains(t, lines[0], ` agent="XMRig/6.22.2 \x24\x28id\x3e`+pwned+`\x29"`)
	// The only raw quotes are the ones around the agent field (inside
	// them every quote is escaped, so they always pair up).
	unquoted := make([]string, len(lines))
	for i, l := range lines {
		unquoted[i] = agentField.ReplaceAllString(l, "agent=$1")
	}
	text := strings.Join(unquoted, "\n")
	require.NotContains(t, text, "\u202e")
	require.NotContains(t, text, "\u2028")
	for _, c := range []string{";", "$", "`", "|", "&", ">", "(", "'", `"`} {
		require.NotContains(t, text, c)
	}
	for _, shell := range []string{"sh", "bash", "zsh", "dash"} {
		path, err := exec.LookPath(shell)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		out, _ := exec.CommandContext(ctx, path, "-c", ". "+accessPath).CombinedOutput() // every line fails: "command not found"
		cancel()
		_, err = os.Stat(pwned)
		require.True(t, os.IsNotExist(err), "%s ran a login from the access log:\n%s", shell, out)
	}

	// The file on disk still moves the log.
	moved := filepath.Join(dir, "access2.log")
	require.NoError(t, os.WriteFile(cfgPath, []byte(configText(moved)), 0o600))
	testutil.Eventually(t, func() bool {
		return strings.Contains(rs.log.String(), "access log opened") && strings.Contains(rs.log.String(), moved)
	}, "log moved")
	m := testminer.DialCN(t, minerAddr)
	require.Nil(t, m.Login("WALLET").Error)
	testutil.Eventually(t, func() bool { return len(fileLines(moved)) == 1 }, "CONNECT in the moved log")
	require.Equal(t, exitOK, rs.shutdown())
}

// A registering user holds http.register-token, never the admin token:
// over the real API server it registers an account that a real miner then
// mines with, and it opens nothing else — not the configuration, not the
// accounts, not a write. The token is masked in GET /1/config and absent
// from the log.
func TestServe_RegisterToken_Good(t *testing.T) {
	pool := startSV1Pool(t, nil)
	dir := t.TempDir()
	minerPort := testPort(t)
	rs := startServe(t, fmt.Sprintf(`{"sv1-mode":"passthrough","bind":[{"host":"127.0.0.1","port":%d}],"event-loops":1,
		"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok","restricted":false,"register-token":"reg-s3cret"},
		"registry":{"path":%q}}`, minerPort, testPort(t), filepath.Join(dir, "accounts.db")))

	code, body := rs.call("POST", "/api/v1/pools", "application/json", `{"address":"`+pool.Addr()+`","algorithm":"sha256d"}`)
	require.Equal(t, http.StatusCreated, code, body)
	code, body = rs.callAs("reg-s3cret", "POST", "/api/v1/users", "application/x-www-form-urlencoded",
		`{"pool":"`+pool.Addr()+`","user":"farm.rig7","password":"pool-pass"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var reg struct{ Name string }
	require.NoError(t, json.Unmarshal([]byte(body), &reg))
	require.NotEmpty(t, reg.Name)

	for _, rq := range []struct{ method, path, body string }{
		{"GET", "/1/config", ""},
		{"PUT", "/1/config", `{"sv1-mode":"passthrough"}`},
		{"GET", "/api/v1/users", ""},
		{"GET", "/api/v1/users/" + reg.Name, ""},
		{"DELETE", "/api/v1/users/" + reg.Name, ""},
		{"POST", "/api/v1/pools", `{"address":"evil.example.com:1","algorithm":"sha256d"}`},
		{"GET", "/1/summary", ""},
		{"GET", "/metrics", ""},
	} {
		code, body := rs.callAs("reg-s3cret", rq.method, rq.path, "application/json", rq.body)
		require.Equal(t, http.StatusForbidden, code, rq.method+" "+rq.path+": "+body)
		require.NotContains(t, body, reg.Name)
	}

	m := testminer.DialSV1(t, testutil.Relay(t, fmt.Sprintf("127.0.0.1:%d", minerPort)))
	m.XSub = true
	m.Login(reg.Name, 0)
	require.True(t, m.Submit().Accepted(), "the account registered with the registration token mines")

	code, body = rs.call("GET", "/1/config", "", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"register-token":"********"`)
	require.NotContains(t, body, "reg-s3cret")
	require.Equal(t, exitOK, rs.shutdown())
	require.NotContains(t, rs.log.String(), "reg-s3cret")
	require.NotContains(t, rs.log.String(), "nobody can register")
}

// http.open-registration on a restricted API: anyone may register (limited
// per IP), nothing else is open, and no warning says registration is off.
func TestServe_OpenRegistration_Good(t *testing.T) {
	pool := startSV1Pool(t, nil)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "accounts.db")
	cfgText := fmt.Sprintf(`{"sv1-mode":"passthrough","bind":[{"host":"127.0.0.1","port":%d}],"event-loops":1,
		"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok","open-registration":true,"register-per-minute":2},
		"registry":{"path":%q}}`, testPort(t), testPort(t), dbPath)
	// The pool table is the operator's: add it to the store before start.
	store, err := registry.Open(dbPath)
	require.NoError(t, err)
	require.NoError(t, store.AddPool(context.Background(), registry.Pool{Address: pool.Addr(), Family: registry.FamilySV1, Algorithm: "sha256d"}))
	require.NoError(t, store.Close())
	rs := startServe(t, cfgText)

	reg := `{"pool":"` + pool.Addr() + `","user":"u","password":"p"}`
	for i := 0; i < 2; i++ {
		code, body := rs.callAs("", "POST", "/api/v1/users", "application/json", reg)
		require.Equal(t, http.StatusCreated, code, body)
	}
	code, body := rs.callAs("", "POST", "/api/v1/users", "application/json", reg)
	require.Equal(t, http.StatusTooManyRequests, code, body)
	code, _ = rs.callAs("", "GET", "/api/v1/users", "", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = rs.callAs("", "GET", "/1/config", "", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = rs.call("POST", "/api/v1/pools", "application/json", `{"address":"other.example.com:1","algorithm":"sha256d"}`)
	require.Equal(t, http.StatusForbidden, code, "the API is restricted: registration is the only write")
	require.Equal(t, exitOK, rs.shutdown())
	require.NotContains(t, rs.log.String(), "nobody can register")
}
