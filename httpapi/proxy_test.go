package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// waitTimeout bounds every wait; nothing sleeps.
const waitTimeout = testutil.WaitTimeout

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startPool(t *testing.T, cfg mockpool.Config) *mockpool.Pool {
	t.Helper()
	if cfg.Relay == nil {
		cfg.Relay = testutil.RelayConfig(t)
	}
	p, err := mockpool.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// proxyConfig is a one-loop proxy on a free port in front of pools, with
// a writable API (token "s3cret").
func proxyConfig(t *testing.T, pools ...string) *reactor.Config {
	no := false
	cfg := &reactor.Config{
		Bind:       []reactor.BindConfig{{Host: "127.0.0.1", Port: freePort(t)}},
		EventLoops: 1, Retries: 1, RetryPause: 1,
		HTTP: reactor.HTTPConfig{Enabled: true, Host: "127.0.0.1", Port: freePort(t), AccessToken: "s3cret", Restricted: &no},
	}
	for _, p := range pools {
		cfg.Pools = append(cfg.Pools, upstream.PoolConfig{URL: p, User: "POOLWALLET", Pass: "poolpass"})
	}
	return cfg
}

func startProxy(t *testing.T, cfg *reactor.Config) *reactor.Proxy {
	t.Helper()
	p, err := reactor.New(cfg, reactor.WithLogger(quietLogger()))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, p.Start(ctx))
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	return p
}

// apiClient calls an API server with the test token.
type apiClient struct {
	t    *testing.T
	base string
}

func (c apiClient) call(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer s3cret")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, string(b)
}

func (c apiClient) get(path string, v any) {
	c.t.Helper()
	code, body := c.call("GET", path, "")
	require.Equal(c.t, http.StatusOK, code, body)
	require.NoError(c.t, json.Unmarshal([]byte(body), v), body)
}

// dialMiner logs a CryptoNote miner in as WALLET (password "minerpass")
// with the given rig id.
func dialMiner(t *testing.T, addr, rig string) *testminer.CN {
	t.Helper()
	m := testminer.DialCN(t, testutil.Relay(t, addr))
	m.Pass, m.RigID = "minerpass", rig
	require.Nil(t, m.Login("WALLET").Error)
	return m
}

// A reload through PUT /1/config moves the miners to another pool
// without disconnecting them; an invalid one changes nothing.
func TestAPI_ReloadPools_Good(t *testing.T) {
	poolA := startPool(t, mockpool.Config{Seed: 1})
	poolB := startPool(t, mockpool.Config{Seed: 2})
	cfg := proxyConfig(t, poolA.Addr())
	p := startProxy(t, cfg)
	srv := httptest.NewServer(NewHandler(p, Options{Logger: quietLogger(), NoRuntimeMetrics: true}))
	defer srv.Close()
	api := apiClient{t, srv.URL}

	addr := cfg.Bind[0].Address()
	miners := []*testminer.CN{dialMiner(t, addr, "rig-1"), dialMiner(t, addr, "rig-2")}
	for _, m := range miners {
		require.Equal(t, poolA.CurrentJob().JobID, m.Job.JobID)
		require.Equal(t, "OK", m.Submit().Result.Status)
	}

	// Fetch the running config (secrets masked), point it at pool B with
	// its own password, send it back. (A masked password is restored only
	// for an entry with the same url and user.)
	code, body := api.call("GET", "/1/config", "")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, "poolpass")
	require.NotContains(t, body, "s3cret")
	require.Contains(t, body, `"pass":"********"`)
	next := strings.Replace(body, poolA.Addr(), poolB.Addr(), 1)
	next = strings.Replace(next, `"pass":"********"`, `"pass":"poolpass-b"`, 1)
	code, body = api.call("PUT", "/1/config", next)
	require.Equal(t, http.StatusNoContent, code, body)

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, poolB.WaitFor(ctx, func(s mockpool.Stats) bool { return s.Logins == 1 }))
	for _, m := range miners {
		for m.Job.JobID != poolB.CurrentJob().JobID {
			require.Equal(t, "job", m.Read().Method, "a job from pool B, on the same connection")
		}
		require.Equal(t, "OK", m.Submit().Result.Status)
	}
	require.NoError(t, poolB.WaitFor(ctx, func(s mockpool.Stats) bool { return s.Accepted == 2 }))
	require.Equal(t, "POOLWALLET", poolB.Sessions()[0].Login)
	require.Equal(t, "poolpass-b", poolB.Sessions()[0].Pass)

	// The masked config sent back as it is keeps the secrets in force.
	code, body = api.call("GET", "/1/config", "")
	require.Equal(t, http.StatusOK, code)
	code, _ = api.call("PUT", "/1/config", body)
	require.Equal(t, http.StatusNoContent, code)
	require.Equal(t, "poolpass-b", p.Config().Pools[0].Pass)
	require.Equal(t, "s3cret", p.Config().HTTP.AccessToken)
	next = body

	// Invalid: 400 with the reason; pool B stays in force.
	code, body = api.call("PUT", "/1/config", strings.Replace(next, `"nicehash"`, `"turbo"`, 1))
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "mode")
	var running reactor.Config
	api.get("/1/config", &running)
	require.Equal(t, poolB.Addr(), running.Pools[0].URL)
	require.Equal(t, poolB.Addr(), p.Config().Pools[0].URL)
	for _, m := range miners {
		require.Equal(t, "OK", m.Submit().Result.Status, "still mining through pool B")
	}
}

// After a known sequence of shares, the JSON endpoints and /metrics agree
// with it, while scrapes run concurrently with the shares (run with -race).
func TestMetrics_RealProxy_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := proxyConfig(t, pool.Addr())
	p := startProxy(t, cfg)
	h := NewHandler(p, Options{Logger: quietLogger()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	api := apiClient{t, srv.URL}

	stop := make(chan struct{})
	var scrapers sync.WaitGroup
	for i := 0; i < 4; i++ {
		scrapers.Add(1)
		go func() {
			defer scrapers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, path := range []string{"/metrics", "/1/summary", "/1/workers", "/1/miners"} {
					w := httptest.NewRecorder()
					r := httptest.NewRequest("GET", path, nil)
					r.Header.Set("Authorization", "Bearer s3cret")
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						panic(path + ": " + w.Body.String())
					}
				}
			}
		}()
	}
	addr := cfg.Bind[0].Address()
	m1, m2 := dialMiner(t, addr, "rig-1"), dialMiner(t, addr, "rig-2")
	for i := 0; i < 3; i++ {
		require.Equal(t, "OK", m1.Submit().Result.Status)
	}
	require.Equal(t, "OK", m2.Submit().Result.Status)
	m2.Send(`{"id":9,"jsonrpc":"2.0","method":"submit","params":{"id":"` + m2.Session + `","job_id":"stale","nonce":"00000000","result":"` + strings.Repeat("0", 64) + `"}}`)
	require.NotNil(t, m2.Read().Error)
	testutil.Eventually(t, func() bool {
		s := p.Summary()
		return s.Counters.Accepted == 4 && s.Counters.Invalid == 1
	}, "statistics published")
	close(stop)
	scrapers.Wait()

	var sum SummaryResponse
	api.get("/1/summary", &sum)
	require.Equal(t, uint64(4), sum.Results.Accepted)
	require.Equal(t, uint64(1), sum.Results.Invalid)
	require.Equal(t, uint64(4000), sum.Results.HashesTotal)
	require.Equal(t, uint64(2), sum.Miners.Now)
	require.Equal(t, uint64(1), sum.Upstreams.Active)
	require.Equal(t, 2.0, sum.Upstreams.Ratio)
	require.GreaterOrEqual(t, sum.Results.Best[3], uint64(1000), "four shares meeting difficulty 1000")
	require.Zero(t, sum.Results.Best[4])

	var workers struct {
		Mode    string  `json:"mode"`
		Workers [][]any `json:"workers"`
	}
	api.get("/1/workers", &workers)
	require.Equal(t, "rig_id", workers.Mode, "xmrig-proxy's name")
	require.Len(t, workers.Workers, 2)
	require.Equal(t, []any{"rig-1", "127.0.0.1", 1.0, 3.0, 0.0, 0.0, 3000.0}, workers.Workers[0][:7])
	require.Equal(t, []any{"rig-2", "127.0.0.1", 1.0, 1.0, 0.0, 1.0, 1000.0}, workers.Workers[1][:7])

	var miners struct {
		Miners [][]any `json:"miners"`
	}
	api.get("/1/miners", &miners)
	require.Len(t, miners.Miners, 2)
	for _, row := range miners.Miners {
		require.Equal(t, "127.0.0.1", row[1], "the bare address, as xmrig-proxy")
		require.Positive(t, row[10].(float64), "the source port, go-proxy's column")
		require.Equal(t, 2.0, row[4], "Ready")
		require.Equal(t, "********", row[7])
	}

	fams := scrape(t, apiHandlerFor(srv.URL))
	cn := lbl{"family": "cryptonote"}
	require.Equal(t, 4.0, sample(t, fams, "goproxy_shares_total", lbl{"family": "cryptonote", "result": "accepted"}))
	require.Equal(t, 1.0, sample(t, fams, "goproxy_shares_total", lbl{"family": "cryptonote", "result": "invalid"}))
	require.Equal(t, 4000.0, sample(t, fams, "goproxy_hashes_total", cn))
	require.Equal(t, 4000.0, sample(t, fams, "goproxy_share_difficulty_total", cn))
	require.Equal(t, 2.0, sample(t, fams, "goproxy_miners", cn))
	require.Equal(t, 2.0, sample(t, fams, "goproxy_connections_total", nil))
	require.Equal(t, 1.0, sample(t, fams, "goproxy_upstreams", lbl{"state": "active"}))
	require.Equal(t, uint64(4), fams["goproxy_upstream_submit_latency_seconds"].GetMetric()[0].GetHistogram().GetSampleCount())
	proxyAddr := cfg.Bind[0].Address()
	w1 := lbl{"proxy": proxyAddr, "worker": "rig-1", "user": "WALLET", "hash": "rx/0", "pool": pool.Addr()}
	require.Equal(t, 1.0, sample(t, fams, "proxy_worker_up", lbl{"proxy": proxyAddr, "worker": "rig-1", "user": "WALLET"}))
	require.Equal(t, 3.0, sample(t, fams, "proxy_worker_sended", w1))
	require.Equal(t, 3.0, sample(t, fams, "proxy_worker_accepted", w1))
	require.Equal(t, 3000.0, sample(t, fams, "proxy_worker_one_sended", w1))
	require.Equal(t, 3000.0, sample(t, fams, "proxy_worker_one_accepted", w1))
	require.Equal(t, 1000.0, sample(t, fams, "proxy_worker_difficulty", w1))
	require.Equal(t, 2.0, sample(t, fams, "proxy_worker_sended", lbl{"worker": "rig-2"}), "the invalid share was sent too")
	require.Equal(t, 1.0, sample(t, fams, "proxy_pool_up", lbl{"proxy": proxyAddr, "hash": "rx/0", "pool": pool.Addr()}))
	require.Equal(t, 1.0, sample(t, fams, "proxy_pool_divider", lbl{"pool": pool.Addr()}))
	require.Contains(t, fams, "process_resident_memory_bytes")
}

// apiHandlerFor forwards requests to a running test server, so scrape
// can go over real HTTP.
func apiHandlerFor(base string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequest(r.Method, base+r.URL.Path, nil)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
}

func TestServer_Start_Good(t *testing.T) {
	src := newFake()
	src.cfg.HTTP.Host = "127.0.0.1"
	src.cfg.HTTP.Port = freePort(t)
	s := NewServer(src, Options{Logger: quietLogger(), NoRuntimeMetrics: true})
	require.Nil(t, s.Addr())
	require.NoError(t, s.Start())
	require.Error(t, s.Start(), "already started")
	api := apiClient{t, "http://" + s.Addr().String()}
	var sum SummaryResponse
	api.get("/1/summary", &sum)
	require.Equal(t, uint64(142), sum.Miners.Now)

	// The port is taken: the second server reports the bind error.
	s2 := NewServer(src, Options{Logger: quietLogger(), NoRuntimeMetrics: true})
	err := s2.Start()
	require.Error(t, err)
	require.Contains(t, err.Error(), strconv.Itoa(src.cfg.HTTP.Port))
	require.NoError(t, s2.Shutdown(context.Background()), "never started: nothing to do")

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	_, err = http.Get("http://" + s.Addr().String() + "/1/summary")
	require.Error(t, err, "closed")
}
