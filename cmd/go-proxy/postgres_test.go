package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/pgtest"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/registry"
)

// postgresConfig is passthroughConfig with the store at a PostgreSQL URL.
func postgresConfig(minerPort, apiPort int, url string) string {
	return fmt.Sprintf(`{"sv1-mode":"passthrough","bind":[{"host":"127.0.0.1","port":%d}],"event-loops":1,
		"pool-timeout":3,"connect-timeout":2,
		"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok","restricted":false},
		"registry":{"url":%q}}`, minerPort, apiPort, url)
}

// Two instances share one PostgreSQL store: a pool and an account
// registered through instance A's API are mined with through instance B at
// once; neither log shows the database password, and GET /1/config masks
// it.
func TestServe_Postgres_TwoInstances_Good(t *testing.T) {
	url := pgtest.Schema(t)
	password := pgtest.SharedPassword(t)
	pool := startSV1Pool(t, nil)
	a := startServe(t, postgresConfig(testPort(t), testPort(t), url))
	bPort := testPort(t)
	b := startServe(t, postgresConfig(bPort, testPort(t), url))

	code, body := a.call("POST", "/api/v1/pools", "application/json", `{"address":"`+pool.Addr()+`","family":"sv1","algorithm":"sha256d"}`)
	require.Equal(t, http.StatusCreated, code, body)
	code, body = a.call("POST", "/api/v1/users", "application/json", `{"pool":"`+pool.Addr()+`","user":"farm.rig9","password":"pool-pass"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var reg struct{ Name string }
	require.NoError(t, json.Unmarshal([]byte(body), &reg))

	code, body = b.call("GET", "/api/v1/users/"+reg.Name, "", "")
	require.Equal(t, http.StatusOK, code, body)
	m := testminer.DialSV1(t, fmt.Sprintf("127.0.0.1:%d", bPort))
	m.XSub = true
	m.Login(reg.Name, 0)
	require.True(t, m.Submit().Accepted())
	waitCtx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, pool.WaitFor(waitCtx, func(s sv1pool.Stats) bool { return s.Accepted == 1 }))
	require.Equal(t, "farm.rig9", pool.Sessions()[0].User)

	code, body = b.call("GET", "/1/config", "", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"url":"postgres://`+pgtestUser(url)+`:********@`)
	for _, rs := range []*runningServe{a, b} {
		require.Equal(t, exitOK, rs.shutdown())
		logText := rs.log.String()
		require.Contains(t, logText, "account store opened")
		require.Contains(t, logText, `url="postgres://`+pgtestUser(url)+`:********@`)
		if password != "" {
			require.NotContains(t, logText, password)
		}
		require.NotContains(t, logText, "pool-pass")
	}
}

func pgtestUser(rawURL string) string {
	rest := strings.TrimPrefix(rawURL, "postgres://")
	user, _, _ := strings.Cut(rest, ":")
	return user
}

// A database that cannot be reached stops the start with exit code 1 and
// an error naming the URL with its password masked.
func TestServe_Postgres_Unreachable_Bad(t *testing.T) {
	url := fmt.Sprintf("postgres://gpx:Db-s3cret@127.0.0.1:%d/proxy?sslmode=disable&connect_timeout=2", testPort(t))
	cfg, _, err := reactor.ParseConfig([]byte(postgresConfig(testPort(t), testPort(t), url)))
	require.NoError(t, err)
	var logOut testutil.SyncBuffer
	code := serve(context.Background(), cfg, slog.New(slog.NewTextHandler(&logOut, nil)), serveOptions{})
	require.Equal(t, exitFailed, code)
	text := logOut.String()
	require.Contains(t, text, "cannot open the account store")
	require.Contains(t, text, "postgres://gpx:"+registry.Redacted+"@127.0.0.1:")
	require.NotContains(t, text, "Db-s3cret")

	cfgPath := writeConfig(t, postgresConfig(testPort(t), testPort(t), url))
	var out, errOut testutil.SyncBuffer
	require.Equal(t, exitFailed, run([]string{"-c", cfgPath}, &out, &errOut))
	require.NotContains(t, errOut.String(), "Db-s3cret")
	require.Contains(t, errOut.String(), "connect")
}

// The database goes away under a running instance: connected passthrough
// miners keep mining, a new miner's authorize waits for the store instead
// of being refused, and once the server is back (without a restart of
// go-proxy) the miner is logged in and the API works again.
func TestServe_Postgres_StoreGoesAway_Ugly(t *testing.T) {
	srv := pgtest.Private(t)
	pool := startSV1Pool(t, nil)
	minerPort := testPort(t)
	rs := startServe(t, postgresConfig(minerPort, testPort(t), srv.URL("postgres")))
	code, body := rs.call("POST", "/api/v1/pools", "application/json", `{"address":"`+pool.Addr()+`","algorithm":"sha256d"}`)
	require.Equal(t, http.StatusCreated, code, body)
	code, body = rs.call("POST", "/api/v1/users", "application/json", `{"pool":"`+pool.Addr()+`","user":"farm.rig1","password":"pool-pass"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var reg struct{ Name string }
	require.NoError(t, json.Unmarshal([]byte(body), &reg))
	addr := fmt.Sprintf("127.0.0.1:%d", minerPort)
	connected := testminer.DialSV1(t, addr)
	connected.XSub = true
	connected.Login(reg.Name, 0)
	require.True(t, connected.Submit().Accepted())

	srv.Stop()
	require.True(t, connected.Submit().Accepted(), "a connected miner does not need the store")
	m := testminer.DialSV1(t, addr, testminer.WithTimeout(60*time.Second))
	m.XSub = true
	m.Reply(m.Send(`"method":"mining.subscribe","params":["cpuminer/2.5.1"]}`))
	m.Reply(m.Send(`"method":"mining.extranonce.subscribe","params":[]}`))
	auth := m.Send(`"method":"mining.authorize","params":[%q,"x"]}`, reg.Name)
	require.NoError(t, srv.Start())
	r := m.Reply(auth)
	require.True(t, r.Accepted(), "the authorize waited for the store: %s", r.Raw)
	m.WaitJob()
	require.True(t, m.Submit().Accepted())
	code, body = rs.call("GET", "/api/v1/users/"+reg.Name, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, exitOK, rs.shutdown())
	require.NotContains(t, rs.log.String(), srv.Password())
}
