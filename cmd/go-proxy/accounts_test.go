package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/registry"
)

// One expiry run keeps the accounts of the connected passthrough miners
// (an SV1 miner with a pool session, its user the account name, in any
// case) however long ago they authorized, and deletes the other idle ones;
// without the list of connected miners it deletes nothing.
func TestAccounts_Expire_Good(t *testing.T) {
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "accounts.db")
	old, err := registry.Open(dbPath, registry.WithClock(func() time.Time { return time.Now().Add(-72 * time.Hour) }))
	require.NoError(t, err)
	require.NoError(t, old.AddPool(ctx, registry.Pool{Address: "pool.example.com:3333", Family: registry.FamilySV1, Algorithm: "sha256d"}))
	var accts [4]registry.Account
	for i := range accts {
		accts[i], err = old.CreateAccount(ctx, "pool.example.com:3333", fmt.Sprint("u", i), "p")
		require.NoError(t, err)
	}
	require.NoError(t, old.Close())
	store, err := registry.Open(dbPath)
	require.NoError(t, err)
	defer store.Close()
	var logOut testutil.SyncBuffer
	a := &accounts{store: store, log: slog.New(slog.NewTextHandler(&logOut, nil)), idle: 48 * time.Hour}

	failing := func(context.Context) ([]reactor.MinerView, error) { return nil, errors.New("reactor: stopped") }
	n, err := a.expire(ctx, failing)
	require.ErrorContains(t, err, "nothing deleted")
	require.Zero(t, n)

	live := func(context.Context) ([]reactor.MinerView, error) {
		return []reactor.MinerView{
			{ID: 1, Family: reactor.FamilySV1, User: accts[0].Name, Upstream: 7, Account: true, Session: "sub-1"},
			{ID: 2, Family: reactor.FamilySV1, User: strings.ToUpper(accts[1].Name), Upstream: 8, Account: true, Session: "sub-2"},
			{ID: 3, Family: reactor.FamilyCryptoNote, User: accts[2].Name, Upstream: 1}, // a wallet, not an account
			{ID: 4, Family: reactor.FamilySV1, User: accts[3].Name, Session: "sub-4"},   // authorize still pending
		}, nil
	}
	n, err = a.expire(ctx, live)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for i, want := range []bool{true, true, false, false} {
		acct, err := store.Account(ctx, accts[i].Name)
		if !want {
			require.ErrorIs(t, err, registry.ErrNotFound, i)
			continue
		}
		require.NoError(t, err, i)
		require.WithinDuration(t, time.Now(), acct.LastSeen, time.Minute, "marked as seen now")
	}
	// The connected miners' sessions are (re)written, so a resume on
	// another instance finds them even if this one dies.
	for sub, want := range map[string]string{"sub-1": accts[0].Name, "sub-2": accts[1].Name} {
		got, err := store.LookupSession(ctx, sub)
		require.NoError(t, err, sub)
		require.Equal(t, want, got)
	}
	_, err = store.LookupSession(ctx, "sub-4")
	require.ErrorIs(t, err, registry.ErrNotFound, "not authorized: not recorded")
	for _, acct := range accts {
		require.NotContains(t, logOut.String(), acct.Name)
	}
}

// End to end: an account whose miner stays connected for longer than
// registry.expire-days is kept by the periodic expiry (its last_seen is
// moved forward each run), and the miner keeps mining.
func TestServe_Passthrough_ExpiryLiveMiner_Good(t *testing.T) {
	pool := startSV1Pool(t, nil)
	dbPath := filepath.Join(t.TempDir(), "accounts.db")
	minerPort := testPort(t)
	rs := startServeOpts(t, passthroughConfig(minerPort, testPort(t), dbPath, `,"expire-days":2`),
		serveOptions{expiryEvery: 20 * time.Millisecond})
	code, body := rs.call("POST", "/api/v1/pools", "application/json", `{"address":"`+pool.Addr()+`","algorithm":"sha256d"}`)
	require.Equal(t, http.StatusCreated, code, body)
	code, body = rs.call("POST", "/api/v1/users", "application/json", `{"pool":"`+pool.Addr()+`","user":"rig","password":"x"}`)
	require.Equal(t, http.StatusCreated, code, body)
	name := strings.Split(body, `"`)[3]
	require.Len(t, name, registry.NameLength)

	m := testminer.DialSV1(t, testutil.Relay(t, fmt.Sprintf("127.0.0.1:%d", minerPort)))
	m.XSub = true
	m.Login(name, 0)
	require.True(t, m.Submit().Accepted())

	// The miner authorized three days ago (as far as the store knows).
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer db.Close()
	stale := time.Now().Add(-72 * time.Hour).Unix()
	res, err := db.Exec(`UPDATE accounts SET created_at = ?1, last_seen = ?1 WHERE name = ?2`, stale, name)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.Equal(t, int64(1), n)

	store, err := registry.Open(dbPath)
	require.NoError(t, err)
	defer store.Close()
	testutil.Eventually(t, func() bool {
		acct, err := store.Account(context.Background(), name)
		if errors.Is(err, registry.ErrNotFound) {
			t.Fatal("the account was deleted while its miner was connected")
		}
		require.NoError(t, err)
		return acct.LastSeen.Unix() > stale+3600
	}, "an expiry run marks the account in use as seen")
	require.True(t, m.Submit().Accepted(), "the miner mines on")
	require.Equal(t, exitOK, rs.shutdown())
	require.NotContains(t, rs.log.String(), name)
}

// In passthrough mode with an API that cannot take writes (disabled or
// restricted) nobody can register: one warning at start says so.
func TestServe_Passthrough_NoRegistration_Bad(t *testing.T) {
	const warning = "nobody can register accounts"
	for _, c := range []struct {
		http string
		warn bool
	}{
		{`"http":{"enabled":false},`, true},
		{``, true},
		{`"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok"},`, true},
		{`"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok","restricted":true},`, true},
		{`"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok","restricted":false},`, false},
	} {
		httpSection := c.http
		if strings.Contains(httpSection, "%d") {
			httpSection = fmt.Sprintf(httpSection, testPort(t))
		}
		rs := startServe(t, fmt.Sprintf(`{"sv1-mode":"passthrough","bind":[{"host":"127.0.0.1","port":%d}],"event-loops":1,%s
			"registry":{"path":%q}}`, testPort(t), httpSection, filepath.Join(t.TempDir(), "accounts.db")))
		require.Equal(t, exitOK, rs.shutdown())
		if c.warn {
			require.Equal(t, 1, strings.Count(rs.log.String(), warning), c.http)
		} else {
			require.NotContains(t, rs.log.String(), warning, c.http)
		}
	}
}
