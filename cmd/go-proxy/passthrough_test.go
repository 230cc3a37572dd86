package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/registry"
)

// runningServe is serve started in the background by a test.
type runningServe struct {
	t    *testing.T
	api  string // http://host:port
	log  *testutil.SyncBuffer
	stop context.CancelFunc
	exit chan int
}

// startServe runs serve over the configuration text and waits until it is
// ready (failing the test if it exits first).
func startServe(t *testing.T, configText string) *runningServe {
	t.Helper()
	return startServeOpts(t, configText, serveOptions{})
}

// startServeOpts is startServe with options; the logger is at
// opts.level, or debug without one.
func startServeOpts(t *testing.T, configText string, opts serveOptions) *runningServe {
	t.Helper()
	cfg, _, err := reactor.ParseConfig([]byte(configText))
	require.NoError(t, err)
	rs := &runningServe{t: t, log: &testutil.SyncBuffer{}, exit: make(chan int, 1)}
	var level slog.Leveler = slog.LevelDebug
	if opts.level != nil {
		level = opts.level
	}
	log := slog.New(slog.NewTextHandler(rs.log, &slog.HandlerOptions{Level: level}))
	ctx, stop := context.WithCancel(context.Background())
	rs.stop = stop
	ready := make(chan net.Addr, 1)
	opts.ready = func(a net.Addr) { ready <- a }
	go func() {
		rs.exit <- serve(ctx, cfg, log, opts)
	}()
	select {
	case a := <-ready:
		if a != nil {
			rs.api = "http://" + a.String()
		}
	case code := <-rs.exit:
		t.Fatalf("serve exited %d: %s", code, rs.log.String())
	}
	t.Cleanup(func() { rs.shutdown() })
	return rs
}

// shutdown stops serve and returns its exit code (once; later calls
// return -1).
func (rs *runningServe) shutdown() int {
	rs.stop()
	select {
	case code, ok := <-rs.exit:
		if !ok {
			return -1
		}
		close(rs.exit)
		return code
	case <-time.After(30 * time.Second):
		rs.t.Fatal("serve did not stop")
		return -1
	}
}

// call sends one API request with the token; contentType "" sends none.
func (rs *runningServe) call(method, path, contentType, body string) (int, string) {
	rs.t.Helper()
	return rs.callAs("tok", method, path, contentType, body)
}

// callAs sends one API request with token ("" sends no Authorization).
func (rs *runningServe) callAs(token, method, path, contentType, body string) (int, string) {
	rs.t.Helper()
	req, err := http.NewRequest(method, rs.api+path, strings.NewReader(body))
	require.NoError(rs.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(rs.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(rs.t, err)
	return resp.StatusCode, string(b)
}

// startSV1Pool starts a pool that verifies every share, at a difficulty
// that costs ~4096 hashes a share; auth (optional) sees every login.
func startSV1Pool(t *testing.T, auth func(user, pass string) error) *sv1pool.Pool {
	t.Helper()
	p, err := sv1pool.Start(sv1pool.Config{Difficulty: 1.0 / (1 << 20), Authorize: auth, Relay: testutil.RelayConfig(t)})
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// passthroughConfig is a passthrough configuration with an open API
// (token "tok"); extra goes into the registry section, top (if any) into
// the top level.
func passthroughConfig(minerPort, apiPort int, dbPath string, extra string, top ...string) string {
	return fmt.Sprintf(`{"sv1-mode":"passthrough","bind":[{"host":"127.0.0.1","port":%d}],"event-loops":1,
		"pool-timeout":3,"connect-timeout":2,%s
		"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok","restricted":false},
		"registry":{"path":%q%s}}`, minerPort, strings.Join(top, ""), apiPort, dbPath, extra)
}

// End to end: a passthrough config starts with a store in a temporary
// directory (mode 0600); the operator adds a pool and a user registers
// over real HTTP with the README's curl; a miner authorizing with the
// returned name mines through to the pool with the registered credentials;
// serve stops cleanly and the account outlives it.
func TestServe_Passthrough_Good(t *testing.T) {
	var logins sync.Map
	pool := startSV1Pool(t, func(user, pass string) error { logins.Store(user, pass); return nil })
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "accounts.db")
	accessPath, sharePath := filepath.Join(dir, "access.log"), filepath.Join(dir, "shares.log")
	minerPort := testPort(t)
	rs := startServe(t, passthroughConfig(minerPort, testPort(t), dbPath, "",
		fmt.Sprintf(`"access-log-file":%q,"share-log-file":%q,`, accessPath, sharePath)))

	fi, err := os.Stat(dbPath)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the database holds pool passwords")

	code, body := rs.call("POST", "/api/v1/pools", "application/json", `{"address":"`+pool.Addr()+`","family":"sv1","algorithm":"sha256d"}`)
	require.Equal(t, http.StatusCreated, code, body)
	// What `curl -H 'Authorization: Bearer TOKEN' -d '{...}' URL` sends.
	code, body = rs.call("POST", "/api/v1/users", "application/x-www-form-urlencoded",
		`{"pool":"`+pool.Addr()+`","user":"farm.rig7","password":"s3cret-pool-pass"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var reg struct {
		Name  string `json:"name"`
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &reg))
	require.Equal(t, `{"name":"`+reg.Name+`","error":""}`+"\n", body)
	require.Len(t, reg.Name, registry.NameLength)

	m := testminer.DialSV1(t, testutil.Relay(t, fmt.Sprintf("127.0.0.1:%d", minerPort)))
	m.XSub = true
	m.Login(reg.Name, 0)
	require.True(t, m.Submit().Accepted())
	require.True(t, m.Submit().Accepted())
	waitCtx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, pool.WaitFor(waitCtx, func(s sv1pool.Stats) bool { return s.Accepted == 2 }))
	require.Equal(t, "farm.rig7", pool.Sessions()[0].User, "the pool sees the registered login")
	pass, _ := logins.Load("farm.rig7")
	require.Equal(t, "s3cret-pool-pass", pass, "and the registered password")

	code, body = rs.call("GET", "/api/v1/users/"+reg.Name, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"user":"farm.rig7"`)
	require.NotContains(t, body, "s3cret-pool-pass")

	// sv1-mode cannot change under a running store.
	code, body = rs.call("GET", "/1/config", "", "")
	require.Equal(t, http.StatusOK, code)
	next := strings.Replace(body, `"sv1-mode":"passthrough"`, `"sv1-mode":"aggregate"`, 1)
	next = strings.Replace(next, `"pools":null`, `"pools":[{"url":"`+pool.Addr()+`","family":"sv1"}]`, 1)
	require.NotEqual(t, body, next)
	require.Contains(t, next, `"family":"sv1"}]`)
	code, body = rs.call("PUT", "/1/config", "application/json", next)
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, body, "needs a restart")

	require.Equal(t, exitOK, rs.shutdown(), rs.log.String())
	logText := rs.log.String()
	require.Contains(t, logText, "account store opened")
	require.NotContains(t, logText, "s3cret-pool-pass", "no password in the log")
	require.NotContains(t, logText, reg.Name, "no account name in the log")

	// Nor in the access and share logs (flushed by the shutdown): the
	// account is written as "account:" and 12 hex digits of its SHA-256.
	sum := sha256.Sum256([]byte(reg.Name))
	tag := "account:" + hex.EncodeToString(sum[:6])
	for _, path := range []string{accessPath, sharePath} {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		text := string(b)
		require.NotContains(t, strings.ToLower(text), reg.Name, path)
		require.Contains(t, text, tag, path)
		require.NotContains(t, text, "s3cret-pool-pass", path)
	}
	require.Len(t, fileLines(accessPath), 2, "CONNECT and CLOSE")
	require.Len(t, fileLines(sharePath), 2, "two accepted shares")

	// Closed cleanly; the account is still there, with its last use.
	store, err := registry.Open(dbPath)
	require.NoError(t, err)
	defer store.Close()
	acct, err := store.Account(context.Background(), reg.Name)
	require.NoError(t, err)
	require.False(t, acct.LastSeen.IsZero())
}

func TestServe_Passthrough_Bad(t *testing.T) {
	// The store cannot be opened: exit 1, naming the path.
	dbPath := filepath.Join(t.TempDir(), "no-such-dir", "accounts.db")
	cfg, _, err := reactor.ParseConfig([]byte(passthroughConfig(testPort(t), testPort(t), dbPath, "")))
	require.NoError(t, err)
	var logOut testutil.SyncBuffer
	code := serve(context.Background(), cfg, slog.New(slog.NewTextHandler(&logOut, nil)), serveOptions{})
	require.Equal(t, exitFailed, code)
	require.Contains(t, logOut.String(), "cannot open the account store")
	require.Contains(t, logOut.String(), dbPath)

	// The same through main: exit code 1, the path on stderr.
	cfgPath := writeConfig(t, passthroughConfig(testPort(t), testPort(t), dbPath, ""))
	var out, errOut testutil.SyncBuffer
	require.Equal(t, exitFailed, run([]string{"-c", cfgPath}, &out, &errOut))
	require.Contains(t, errOut.String(), dbPath)
}

// Accounts idle for longer than registry.expire-days are deleted when the
// proxy starts (and hourly after that).
func TestServe_Passthrough_Expiry_Good(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "accounts.db")
	ctx := context.Background()
	old, err := registry.Open(dbPath, registry.WithClock(func() time.Time { return time.Now().Add(-72 * time.Hour) }))
	require.NoError(t, err)
	require.NoError(t, old.AddPool(ctx, registry.Pool{Address: "pool.example.com:3333", Family: registry.FamilySV1, Algorithm: "sha256d"}))
	stale, err := old.CreateAccount(ctx, "pool.example.com:3333", "old", "p")
	require.NoError(t, err)
	require.NoError(t, old.Close())
	fresh, err := registry.Open(dbPath)
	require.NoError(t, err)
	recent, err := fresh.CreateAccount(ctx, "pool.example.com:3333", "new", "p")
	require.NoError(t, err)
	require.NoError(t, fresh.Close())

	rs := startServe(t, passthroughConfig(testPort(t), testPort(t), dbPath, `,"expire-days":2`))
	testutil.Eventually(t, func() bool { return strings.Contains(rs.log.String(), "idle accounts deleted") }, "startup expiry")
	require.Contains(t, rs.log.String(), "count=1")
	code, _ := rs.call("GET", "/api/v1/users/"+stale.Name, "", "")
	require.Equal(t, http.StatusNotFound, code, "idle 3 days, expiry 2")
	code, _ = rs.call("GET", "/api/v1/users/"+recent.Name, "", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, exitOK, rs.shutdown())
}

// Without passthrough no database file is created, and /api/v1 does not
// exist.
func TestServe_NoStore_Good(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	pool := startTestPool(t, 1)
	rs := startServe(t, fmt.Sprintf(`{"bind":[{"host":"127.0.0.1","port":%d}],"event-loops":1,"pools":[{"url":%q}],
		"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok","restricted":false}}`, testPort(t), pool.Addr(), testPort(t)))
	code, body := rs.call("POST", "/api/v1/users", "application/json", `{"pool":"pool.example.com:3333","user":"u","password":"p"}`)
	require.Equal(t, http.StatusNotFound, code, body)
	require.Equal(t, exitOK, rs.shutdown())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "no go-proxy.db (nor anything else) in the working directory")
	require.NotContains(t, rs.log.String(), "account store")
}
