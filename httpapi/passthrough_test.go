package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/reactor"
)

// tinyDiff makes a share cost ~4096 hashes; a power of two, so sums of
// difficulty ÷ divider are exact.
const tinyDiff = 1.0 / (1 << 20)

func startSV1Pool(t *testing.T, seed int64) *sv1pool.Pool {
	t.Helper()
	p, err := sv1pool.Start(sv1pool.Config{Difficulty: tinyDiff, Seed: seed, Relay: testutil.RelayConfig(t)})
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// The seed's metrics after a known sequence of shares, from a real proxy
// in passthrough mode whose accounts were registered through /api/v1:
// account A on a sha256d pool mines 2 shares, reconnects (a new ip:port)
// and mines 1 more; account B on a pool whose algorithm has divider 4
// mines 2.
func TestMetrics_Passthrough_Good(t *testing.T) {
	poolA, poolB := startSV1Pool(t, 1), startSV1Pool(t, 2)
	store := openStore(t)
	cfg := proxyConfig(t)
	cfg.SV1Mode = "passthrough"
	cfg.PoolTimeout, cfg.ConnectTimeout = 3, 2
	p, err := reactor.New(cfg, reactor.WithLogger(quietLogger()), reactor.WithAccounts(store))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, p.Start(ctx))
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	srv := httptest.NewServer(NewHandler(p, Options{Logger: quietLogger(), Accounts: store}))
	defer srv.Close()
	api := apiClient{t, srv.URL}

	// The operator's catalogue, then two registrations, all over HTTP.
	// ("sha256d-x4" is made up: a sha256d pool whose divider is 4, so the
	// division shows in the metrics.)
	code, body := api.call("POST", "/api/v1/algorithms", `{"name":"sha256d-x4","divider":4}`)
	require.Equal(t, http.StatusCreated, code, body)
	code, body = api.call("POST", "/api/v1/pools", `{"address":"`+poolA.Addr()+`","family":"sv1","algorithm":"sha256d"}`)
	require.Equal(t, http.StatusCreated, code, body)
	code, body = api.call("POST", "/api/v1/pools", `{"address":"`+poolB.Addr()+`","algorithm":"sha256d-x4"}`)
	require.Equal(t, http.StatusCreated, code, body)
	register := func(pool, user string) string {
		code, body := api.call("POST", "/api/v1/users", `{"pool":"`+pool+`","user":"`+user+`","password":"pw-`+user+`"}`)
		require.Equal(t, http.StatusCreated, code, body)
		var r RegisterResponse
		require.NoError(t, json.Unmarshal([]byte(body), &r))
		require.Empty(t, r.Error)
		return r.Name
	}
	nameA, nameB := register(poolA.Addr(), "alice"), register(poolB.Addr(), "bob")

	addr := cfg.Bind[0].Address()
	// An SV1 miner subscribed to extranonce changes, authorized as name.
	login := func(name string) *testminer.SV1 {
		m := testminer.DialSV1(t, testutil.Relay(t, addr))
		m.XSub = true
		m.Login(name, 0)
		return m
	}
	a := login(nameA)
	require.Equal(t, tinyDiff, a.Diff, "the pool's difficulty")
	require.True(t, a.Submit().Accepted())
	require.True(t, a.Submit().Accepted())
	a.Conn.Close()
	a = login(nameA) // same account, new connection
	require.True(t, a.Submit().Accepted())
	b := login(nameB)
	require.True(t, b.Submit().Accepted())
	require.True(t, b.Submit().Accepted())

	// The pools saw the accounts' own credentials and verified the shares.
	wait, cancel2 := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel2()
	require.NoError(t, poolA.WaitFor(wait, func(s sv1pool.Stats) bool { return s.Accepted == 3 }))
	require.NoError(t, poolB.WaitFor(wait, func(s sv1pool.Stats) bool { return s.Accepted == 2 }))
	require.Equal(t, "alice", poolA.Sessions()[0].User)
	require.Equal(t, "bob", poolB.Sessions()[0].User)

	// The account shows when it was last used, never its password.
	code, body = api.call("GET", "/api/v1/users/"+nameA, "")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, "pw-alice")
	var acct AccountResponse
	require.NoError(t, json.Unmarshal([]byte(body), &acct))
	require.NotNil(t, acct.LastSeen, "touched at authorize")

	// Statistics are published once a second: scrape until they are in.
	var fams map[string]*dto.MetricFamily
	h := apiHandlerFor(srv.URL)
	testutil.Eventually(t, func() bool {
		fams = scrape(t, h)
		return sampleOr(fams, "goproxy_shares_total", lbl{"family": "sv1", "result": "accepted"}) == 5 &&
			sampleOr(fams, "proxy_worker_up", lbl{"worker": nameA}) == 1
	}, "five accepted SV1 shares and worker A up again")

	proxyLabel := addr
	seedWorker := []string{"hash", "pool", "proxy", "user", "worker"}
	for _, want := range []struct {
		family string
		labels []string
	}{
		{"proxy_worker_up", []string{"proxy", "user", "worker"}},
		{"proxy_pool_up", []string{"hash", "pool", "proxy"}},
		{"proxy_pool_divider", []string{"hash", "pool", "proxy"}},
		{"proxy_worker_sended", seedWorker},
		{"proxy_worker_one_sended", seedWorker},
		{"proxy_worker_accepted", seedWorker},
		{"proxy_worker_one_accepted", seedWorker},
		{"proxy_worker_speed", seedWorker},
		{"proxy_worker_difficulty", seedWorker},
	} {
		f := fams[want.family]
		require.NotNil(t, f, want.family)
		require.Len(t, f.GetMetric(), 2, "%s: one series per account (or pool), none per connection", want.family)
		for _, m := range f.GetMetric() {
			require.Equal(t, want.labels, labelNames(m), want.family)
		}
	}
	ipPort := regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+:\d+$`)
	for _, m := range fams["proxy_worker_sended"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "worker" {
				require.NotRegexp(t, ipPort, l.GetValue(), "the worker is the account, not ip:port")
			}
		}
	}

	for _, c := range []struct {
		name, pool, hash string
		divider, shares  float64
	}{
		{nameA, poolA.Addr(), "sha256d", 1, 3},
		{nameB, poolB.Addr(), "sha256d-x4", 4, 2},
	} {
		w := lbl{"proxy": proxyLabel, "worker": c.name, "user": c.name, "hash": c.hash, "pool": c.pool}
		require.Equal(t, 1.0, sample(t, fams, "proxy_worker_up", lbl{"proxy": proxyLabel, "worker": c.name, "user": c.name}))
		require.Equal(t, 1.0, sample(t, fams, "proxy_pool_up", lbl{"proxy": proxyLabel, "hash": c.hash, "pool": c.pool}))
		require.Equal(t, c.divider, sample(t, fams, "proxy_pool_divider", lbl{"proxy": proxyLabel, "hash": c.hash, "pool": c.pool}))
		require.Equal(t, c.shares, sample(t, fams, "proxy_worker_sended", w), c.name)
		require.Equal(t, c.shares, sample(t, fams, "proxy_worker_accepted", w), c.name)
		require.Equal(t, c.shares*tinyDiff/c.divider, sample(t, fams, "proxy_worker_one_sended", w), c.name)
		require.Equal(t, c.shares*tinyDiff/c.divider, sample(t, fams, "proxy_worker_one_accepted", w), c.name)
		require.Equal(t, tinyDiff, sample(t, fams, "proxy_worker_difficulty", w), c.name)
		sample(t, fams, "proxy_worker_speed", w) // present; its value is a 5-minute average
	}
	require.Equal(t, 5.0, sample(t, fams, "goproxy_shares_total", lbl{"family": "sv1", "result": "accepted"}))
	require.Zero(t, sample(t, fams, "goproxy_shares_total", lbl{"family": "sv1", "result": "rejected"}))
	require.Equal(t, 5*tinyDiff, sample(t, fams, "goproxy_share_difficulty_total", lbl{"family": "sv1"}))
}

// sampleOr is sample for polling: the value of the one series of name
// whose labels include want, or -1 when there is not exactly one.
func sampleOr(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
	var found []*dto.Metric
	for _, m := range f.GetMetric() {
		if labelsMatch(m, want) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		return -1
	}
	if c := found[0].GetCounter(); c != nil {
		return c.GetValue()
	}
	return found[0].GetGauge().GetValue()
}
