package registry

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/internal/pgtest"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// openURL opens a PostgreSQL store at url and closes it when t ends.
func openURL(t *testing.T, url string, opts ...Option) Store {
	t.Helper()
	s, err := OpenPostgres(context.Background(), url, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// Two instances on one database see each other's writes at once: an
// account registered through one is usable through the other, and so are
// sessions and deletions.
func TestPostgres_SharedByInstances(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Schema(t)
	a, b := openURL(t, url), openURL(t, url)

	require.NoError(t, a.AddPool(ctx, Pool{Address: testPool, Family: FamilySV1, Algorithm: "sha256d"}))
	acc, err := b.CreateAccount(ctx, testPool, "wallet.rig1", "s3cret")
	require.NoError(t, err)
	creds, err := a.Credentials(ctx, acc.Name)
	require.NoError(t, err)
	require.Equal(t, "s3cret", creds.Password)

	require.NoError(t, a.PutSession(ctx, "0badc0de", acc.Name, time.Minute))
	got, err := b.LookupSession(ctx, "0badc0de")
	require.NoError(t, err)
	require.Equal(t, acc.Name, got)

	require.NoError(t, a.Touch(ctx, acc.Name, time.Unix(1_900_000_000, 0)))
	seen, err := b.Account(ctx, acc.Name)
	require.NoError(t, err)
	require.Equal(t, time.Unix(1_900_000_000, 0).UTC(), seen.LastSeen)

	require.NoError(t, b.DeleteAccount(ctx, acc.Name))
	_, err = a.Credentials(ctx, acc.Name)
	requireKind(t, err, ErrNotFound)
	_, err = a.LookupSession(ctx, "0badc0de")
	requireKind(t, err, ErrNotFound)
	requireKind(t, a.DeletePool(ctx, "nope.example.com:1"), ErrNotFound)
	require.NoError(t, a.DeletePool(ctx, testPool))
}

// Expiry runs on every instance at once: each marks the accounts its own
// miners use, none deletes an account in use on another (each instance's
// accounts were marked by its previous run, an hour ago at most), and the
// idle account is deleted exactly once. Repeated concurrent runs, with
// touches in between, never deadlock.
func TestPostgres_ExpiryOnSeveralInstances(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Schema(t)
	old := openURL(t, url, WithClock(func() time.Time { return time.Now().Add(-72 * time.Hour) }))
	a, b := openURL(t, url), openURL(t, url)
	require.NoError(t, old.AddPool(ctx, Pool{Address: testPool, Family: FamilySV1, Algorithm: "sha256d"}))
	onA, err := old.CreateAccount(ctx, testPool, "on-a", "pw")
	require.NoError(t, err)
	onB, err := old.CreateAccount(ctx, testPool, "on-b", "pw")
	require.NoError(t, err)
	idle, err := old.CreateAccount(ctx, testPool, "idle", "pw")
	require.NoError(t, err)
	// Each instance's previous hourly run marked its own account.
	require.NoError(t, a.Touch(ctx, onA.Name, time.Now().Add(-time.Hour)))
	require.NoError(t, b.Touch(ctx, onB.Name, time.Now().Add(-time.Hour)))

	const rounds = 20
	var wg sync.WaitGroup
	deleted := make(chan int, 2*rounds)
	errs := make(chan error, 4*rounds)
	run := func(s Store, mine string) {
		for range rounds {
			n, err := s.ExpireUnusedAccounts(ctx, 48*time.Hour, []string{mine, idle.Name + "x", mine})
			if err != nil {
				errs <- err
			}
			deleted <- n
			if err := s.Touch(ctx, mine, time.Now()); err != nil {
				errs <- err
			}
		}
	}
	wg.Go(func() { run(a, onA.Name) })
	wg.Go(func() { run(b, onB.Name) })
	wg.Wait()
	close(errs)
	close(deleted)
	for err := range errs {
		require.NoError(t, err)
	}
	total := 0
	for n := range deleted {
		total += n
	}
	require.Equal(t, 1, total, "the idle account, once")
	_, err = a.Account(ctx, idle.Name)
	requireKind(t, err, ErrNotFound)
	for _, name := range []string{onA.Name, onB.Name} {
		acc, err := b.Account(ctx, name)
		require.NoError(t, err)
		require.WithinDuration(t, time.Now(), acc.LastSeen, time.Minute, "marked seen by the server's clock")
	}
}

// Without WithClock the store's clock is the server's now(): accounts are
// created, and sessions and accounts expire, by it.
func TestPostgres_ServerClock(t *testing.T) {
	ctx := context.Background()
	s := withPool(t, openPostgres)
	ss := sqlOf(t, s)
	require.Nil(t, ss.now)
	var server int64
	require.NoError(t, ss.db.QueryRowContext(ctx, `SELECT CAST(floor(extract(epoch FROM now())) AS BIGINT)`).Scan(&server))
	acc, err := s.CreateAccount(ctx, testPool, "wallet", "pw")
	require.NoError(t, err)
	require.InDelta(t, server, acc.CreatedAt.Unix(), 5)

	// A session written 10 s ago (by the server's clock) with a 5 s ttl
	// is gone; one with a 60 s ttl is not.
	require.NoError(t, s.PutSession(ctx, "old", acc.Name, 5*time.Second))
	require.NoError(t, s.PutSession(ctx, "new", acc.Name, time.Minute))
	_, err = ss.db.ExecContext(ctx, `UPDATE sessions SET written_at = written_at - 10, expires_at = expires_at - 10`)
	require.NoError(t, err)
	_, err = s.LookupSession(ctx, "old")
	requireKind(t, err, ErrNotFound)
	_, err = s.LookupSession(ctx, "new")
	require.NoError(t, err)
	n, err := s.ExpireSessions(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// An account last seen two days ago by the server's clock expires at
	// one day, not at three.
	_, err = ss.db.ExecContext(ctx, `UPDATE accounts SET last_seen = CAST(floor(extract(epoch FROM now())) AS BIGINT) - 2*86400`)
	require.NoError(t, err)
	n, err = s.ExpireAccounts(ctx, 72*time.Hour)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = s.ExpireAccounts(ctx, 24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// Instances starting together on an empty database migrate it once.
func TestPostgres_ConcurrentOpen(t *testing.T) {
	url := pgtest.Schema(t)
	const n = 4
	stores := make([]Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = OpenPostgres(context.Background(), url) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, SchemaVersion, schemaVersion(t, stores[i]))
		require.NoError(t, stores[i].Close())
	}
	s := openURL(t, url)
	algs, err := s.ListAlgorithms(context.Background())
	require.NoError(t, err)
	require.Len(t, algs, 2)
}

// The database going away fails calls with a clear error bounded by ctx;
// when it is back the same Store works again, without reopening.
func TestPostgres_DatabaseRestart(t *testing.T) {
	srv := pgtest.Private(t)
	ctx := context.Background()
	s := openURL(t, srv.URL("postgres"))
	require.NoError(t, s.AddPool(ctx, Pool{Address: testPool, Family: FamilySV1, Algorithm: "sha256d"}))
	acc, err := s.CreateAccount(ctx, testPool, "wallet", "pw")
	require.NoError(t, err)

	srv.Stop()
	for range 3 { // a pooled connection breaks, then dials fail
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := s.Credentials(cctx, acc.Name)
		cancel()
		require.Error(t, err)
		require.True(t, strings.HasPrefix(err.Error(), "registry: get credentials: "), err.Error())
		require.NotErrorIs(t, err, ErrNotFound)
		require.NotContains(t, err.Error(), srv.Password())
	}
	_, err = s.CreateAccount(ctx, testPool, "wallet", "pw")
	require.ErrorContains(t, err, "registry: create account: ")

	require.NoError(t, srv.Start())
	testutil.Eventually(t, func() bool {
		_, err := s.Credentials(ctx, acc.Name)
		return err == nil
	}, "the store works again after the server restarted")
	_, err = s.CreateAccount(ctx, testPool, "wallet2", "pw")
	require.NoError(t, err)
}

// A call on a server that accepts the connection but never answers ends
// with ctx (a stopped server would refuse at once; here the listener is
// a silent socket).
func TestPostgres_OpenBoundedByContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // accepted, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	u := "postgres://gpx:hunter2-pg@" + ln.Addr().String() + "/db?sslmode=disable"
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = OpenPostgres(ctx, u)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
	require.Contains(t, err.Error(), "registry: open postgres://gpx:"+Redacted+"@")
}

// No error of the store shows the URL's password: a wrong password, a bad
// parameter, a password in the query string.
func TestPostgres_ErrorsHideThePassword(t *testing.T) {
	base := pgtest.Schema(t)
	good := pgtest.SharedPassword(t)
	u, err := url.Parse(base)
	require.NoError(t, err)

	wrong := *u
	wrong.User = url.UserPassword(u.User.Username(), "Wr0ng-p@ss/word")
	_, err = OpenPostgres(context.Background(), wrong.String())
	require.Error(t, err)
	require.NotContains(t, err.Error(), "Wr0ng")
	require.NotContains(t, err.Error(), url.QueryEscape("Wr0ng-p@ss/word"))
	if good != "" {
		require.NotContains(t, err.Error(), good)
	}
	require.Contains(t, err.Error(), "password authentication failed")

	bad := *u
	q := bad.Query()
	q.Set("sslmode", "sometimes")
	bad.RawQuery = q.Encode()
	_, err = OpenPostgres(context.Background(), bad.String())
	require.Error(t, err)
	if good != "" {
		require.NotContains(t, err.Error(), good)
	}

	inQuery := *u
	inQuery.User = url.User(u.User.Username())
	q = inQuery.Query()
	q.Set("password", "Qu3ry-secret")
	inQuery.RawQuery = q.Encode()
	_, err = OpenPostgres(context.Background(), inQuery.String())
	require.Error(t, err)
	require.NotContains(t, err.Error(), "Qu3ry")

	for _, raw := range []string{"", "mysql://u:p@h/db", "postgres://u:Secret1@/db", "postgres://u:Secret1@h:bad/db", "postgres ://u:Secret1@h/db"} {
		_, err := OpenPostgres(context.Background(), raw)
		requireField(t, err, "url")
		require.NotContains(t, err.Error(), "Secret1")
	}
}

// A store logs nothing, and what the operator logs about it (the URL) is
// redacted.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://gpx:s3cret@db.example.com:5432/proxy?sslmode=disable":   "postgres://gpx:********@db.example.com:5432/proxy?sslmode=disable",
		"postgresql://gpx:p%40ss%2Fw@db/proxy":                              "postgresql://gpx:********@db/proxy",
		"postgres://gpx@db/proxy":                                           "postgres://gpx@db/proxy",
		"postgres://db/proxy?user=gpx&password=s3cret&sslmode=require":      "postgres://db/proxy?user=gpx&password=********&sslmode=require",
		"postgres://gpx:s3cret@db/proxy?sslpassword=k3y&PASSWORD=x":         "postgres://gpx:********@db/proxy?sslpassword=********&PASSWORD=********",
		"postgres://gpx:s3cret@db.example.com:5432/proxy?connect_timeout=5": "postgres://gpx:********@db.example.com:5432/proxy?connect_timeout=5",
		"postgres://gpx:s3cret@[::1]:5432/proxy":                            "postgres://gpx:********@[::1]:5432/proxy",
		"postgres://gpx:s3cret\x7f@db/proxy":                                Redacted,
		"":                                                                  "",
	} {
		require.Equal(t, want, RedactURL(in), in)
	}

	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("store", "url", RedactURL("postgres://u:s3cret@h/db"))
	require.NotContains(t, buf.String(), "s3cret")
}

func TestValidatePostgresURL(t *testing.T) {
	require.NoError(t, ValidatePostgresURL("postgres://u:p@h:5432/db?sslmode=disable"))
	require.NoError(t, ValidatePostgresURL("postgresql://h/db"))
	for _, bad := range []string{"", "h:5432", "postgres:///db", "sqlite:///x.db", "postgres://u:p@h:5432/db\x00"} {
		requireField(t, ValidatePostgresURL(bad), "url")
	}
}
