package httpapi

import (
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/stats"
)

// scrape fetches /metrics through h and parses the text format.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	w := do(h, "GET", "/metrics", bearer, "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, w.Header().Get("Content-Type"), "text/plain")
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	require.NoError(t, err)
	return fams
}

// sample returns the value of the series of family name whose labels
// include want; it fails when there is not exactly one.
func sample(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	require.True(t, ok, "metric %s missing", name)
	var found []*dto.Metric
	for _, m := range f.GetMetric() {
		if labelsMatch(m, want) {
			found = append(found, m)
		}
	}
	require.Len(t, found, 1, "%s%v", name, want)
	m := found[0]
	switch f.GetType() {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	}
	t.Fatalf("%s: unexpected type %v", name, f.GetType())
	return 0
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		ok := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func labelNames(m *dto.Metric) []string {
	var out []string
	for _, l := range m.GetLabel() {
		out = append(out, l.GetName())
	}
	sort.Strings(out)
	return out
}

type lbl = map[string]string

func TestMetrics_Collect_Good(t *testing.T) {
	fams := scrape(t, newTestHandler(newFake()))
	cn := lbl{"family": "cryptonote"}
	shares := func(family, result string) float64 {
		return sample(t, fams, "goproxy_shares_total", lbl{"family": family, "result": result})
	}
	require.Equal(t, 4800.0, shares("cryptonote", "accepted"))
	require.Equal(t, 3.0, shares("cryptonote", "rejected"))
	require.Equal(t, 1.0, shares("cryptonote", "invalid"))
	require.Equal(t, 12.0, shares("cryptonote", "expired"))
	require.Equal(t, 40.0, shares("cryptonote", "custom"))
	require.Equal(t, 2.0, shares("cryptonote", "timeout"))
	require.Equal(t, 21.0, shares("sv1", "accepted"))
	require.Equal(t, 4.8e9, sample(t, fams, "goproxy_share_difficulty_total", cn))
	require.Equal(t, 4.8e9, sample(t, fams, "goproxy_hashes_total", cn))
	require.Equal(t, 21000000.4, sample(t, fams, "goproxy_hashes_total", lbl{"family": "sv1"}))
	require.Equal(t, 12345.678, sample(t, fams, "goproxy_hashrate_hashes_per_second", lbl{"family": "cryptonote", "window": "1m"}))
	require.Equal(t, 12200.0, sample(t, fams, "goproxy_hashrate_hashes_per_second", lbl{"family": "cryptonote", "window": "all"}))
	require.Equal(t, 0.0, sample(t, fams, "goproxy_hashrate_hashes_per_second", lbl{"family": "sv1", "window": "1m"}), "families are never summed: different algorithms")
	require.Equal(t, 139.0, sample(t, fams, "goproxy_miners", cn))
	require.Equal(t, 2.0, sample(t, fams, "goproxy_miners", lbl{"family": "unknown"}))
	require.Equal(t, 200.0, sample(t, fams, "goproxy_miners_peak", nil))
	require.Equal(t, 1000.0, sample(t, fams, "goproxy_connections_total", nil))
	require.Equal(t, 5.0, sample(t, fams, "goproxy_refused_connections_total", lbl{"reason": "cap"}))
	require.Equal(t, 3.0, sample(t, fams, "goproxy_refused_connections_total", lbl{"reason": "rate_limit"}))
	require.Equal(t, 1.0, sample(t, fams, "goproxy_refused_connections_total", lbl{"reason": "ban"}))
	require.Equal(t, 2.0, sample(t, fams, "goproxy_refused_connections_total", lbl{"reason": "proxy_untrusted"}))
	require.Equal(t, 4.0, sample(t, fams, "goproxy_closed_connections_total", lbl{"reason": "slow_reader"}))
	require.Equal(t, 5.0, sample(t, fams, "goproxy_closed_connections_total", lbl{"reason": "bad_line"}))
	require.Equal(t, 6.0, sample(t, fams, "goproxy_closed_connections_total", lbl{"reason": "login_timeout"}))
	require.Equal(t, 8.0, sample(t, fams, "goproxy_closed_connections_total", lbl{"reason": "idle_timeout"}))
	require.Equal(t, 2.0, sample(t, fams, "goproxy_closed_connections_total", lbl{"reason": "flood"}))
	require.Equal(t, 1.0, sample(t, fams, "goproxy_closed_connections_total", lbl{"reason": "held_overflow"}))
	require.Equal(t, 25.0, sample(t, fams, "goproxy_shares_total", lbl{"family": "cryptonote", "result": "throttled"}))
	require.Equal(t, 7.0, sample(t, fams, "goproxy_miner_holds_total", nil))
	require.Equal(t, 1.0, sample(t, fams, "goproxy_upstreams", lbl{"state": "active"}))
	require.Equal(t, 1.0, sample(t, fams, "goproxy_upstreams", lbl{"state": "error"}))
	require.Equal(t, 5000000.0, sample(t, fams, "goproxy_bytes_total", lbl{"direction": "out", "family": "cryptonote"}))
	require.Equal(t, 100.0, sample(t, fams, "goproxy_bytes_total", lbl{"direction": "in", "family": "unknown"}))
	require.Equal(t, 38.0, sample(t, fams, "goproxy_workers", nil))
	pe := func(reason string) float64 {
		return sample(t, fams, "goproxy_pool_errors_total", lbl{"pool": "pool.example.com:3333", "reason": reason})
	}
	require.Equal(t, 1.0, pe("not_json"))
	require.Equal(t, 2.0, pe("invalid_job"))
	require.Equal(t, 0.0, pe("line_too_long"))
	require.Equal(t, 0.0, pe("protocol"))
	require.Equal(t, 0.0, pe("login_refused"))
	require.Equal(t, 7.0, sample(t, fams, "goproxy_workers_evicted_total", nil))
	require.Equal(t, 2.0, sample(t, fams, "goproxy_workers_dropped_total", nil))
	require.Equal(t, 999999999.0, sample(t, fams, "goproxy_best_share_difficulty", nil))
	require.Equal(t, 226587.0, sample(t, fams, "goproxy_uptime_seconds", nil))
	require.Equal(t, 0.082, sample(t, fams, "goproxy_upstream_submit_latency_median_seconds", nil))
	require.Equal(t, 1.0, sample(t, fams, "goproxy_build_info", lbl{"version": "1.0.0"}))
	require.Equal(t, []string{"goversion", "version"}, labelNames(fams["goproxy_build_info"].GetMetric()[0]))
	require.Equal(t, 0.0, sample(t, fams, "goproxy_metrics_workers_omitted", nil))
	require.Equal(t, 0.0, sample(t, fams, "goproxy_metrics_scrape_errors_total", nil))

	// The latency histogram, in seconds, cumulative.
	hf := fams["goproxy_upstream_submit_latency_seconds"]
	require.Equal(t, dto.MetricType_HISTOGRAM, hf.GetType())
	h := hf.GetMetric()[0].GetHistogram()
	require.Equal(t, uint64(7), h.GetSampleCount())
	require.InDelta(t, (0.8+3+45+45+82+150+15000)/1000, h.GetSampleSum(), 1e-9)
	bounds := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		bounds[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	require.Equal(t, uint64(1), bounds[0.001])
	require.Equal(t, uint64(2), bounds[0.005])
	require.Equal(t, uint64(4), bounds[0.05])
	require.Equal(t, uint64(5), bounds[0.1])
	require.Equal(t, uint64(6), bounds[10])
	require.Len(t, bounds, len(stats.LatencyBuckets)+1, "and +Inf")

	// Per-pool seed series: host:port labels, algorithm from the workers
	// or the pool's configuration.
	pool := lbl{"proxy": "0.0.0.0:3333", "pool": "pool.example.com:3333", "hash": "rx/0"}
	require.Equal(t, 1.0, sample(t, fams, "proxy_pool_up", pool))
	require.Equal(t, 1.0, sample(t, fams, "proxy_pool_divider", pool))
	require.Equal(t, 0.0, sample(t, fams, "proxy_pool_up", lbl{"pool": "backup.example.com:5555", "hash": ""}))
	require.Equal(t, 141.0, sample(t, fams, "goproxy_pool_miners", lbl{"pool": "pool.example.com:3333", "family": "cryptonote"}))
	require.Equal(t, 1.0, sample(t, fams, "goproxy_pool_sessions", lbl{"pool": "backup.example.com:5555", "state": "retry"}))

	// Per-worker seed series: labelled by worker name, never ip:port.
	w := lbl{"proxy": "0.0.0.0:3333", "worker": "rig-alpha", "user": "WALLET", "hash": "rx/0", "pool": "pool.example.com:3333"}
	require.Equal(t, 1.0, sample(t, fams, "proxy_worker_up", lbl{"worker": "rig-alpha", "user": "WALLET", "proxy": "0.0.0.0:3333"}))
	require.Equal(t, 0.0, sample(t, fams, "proxy_worker_up", lbl{"worker": "rig-beta"}))
	require.Equal(t, 1242.0, sample(t, fams, "proxy_worker_sended", w))
	require.Equal(t, 124100000000.0, sample(t, fams, "proxy_worker_one_sended", w))
	require.Equal(t, 1240.0, sample(t, fams, "proxy_worker_accepted", w))
	require.Equal(t, 124000000000.0, sample(t, fams, "proxy_worker_one_accepted", w))
	require.Equal(t, 4300.0, sample(t, fams, "proxy_worker_speed", w))
	require.Equal(t, 100000.0, sample(t, fams, "proxy_worker_difficulty", w))
	require.Equal(t, []string{"proxy", "user", "worker"}, labelNames(fams["proxy_worker_up"].GetMetric()[0]))
	require.Equal(t, []string{"hash", "pool", "proxy", "user", "worker"}, labelNames(fams["proxy_worker_sended"].GetMetric()[0]))
	for _, name := range []string{"proxy_worker_sended", "proxy_worker_one_sended", "proxy_worker_accepted", "proxy_worker_one_accepted"} {
		require.Equal(t, dto.MetricType_COUNTER, fams[name].GetType(), name)
	}
	for _, name := range []string{"proxy_worker_up", "proxy_worker_speed", "proxy_worker_difficulty", "proxy_pool_up", "proxy_pool_divider"} {
		require.Equal(t, dto.MetricType_GAUGE, fams[name].GetType(), name)
	}
	for name, f := range fams {
		if strings.HasPrefix(name, "goproxy_") && f.GetType() == dto.MetricType_COUNTER {
			require.True(t, strings.HasSuffix(name, "_total"), "counter %s ends in _total", name)
		}
	}
}

func TestMetrics_Collect_Bad(t *testing.T) {
	// The loops do not answer: the aggregate metrics are still served,
	// the per-worker and per-pool ones are skipped and the failure counted.
	src := newFake()
	src.loopErr = errStopped
	h := newTestHandler(src)
	fams := scrape(t, h)
	require.Equal(t, 4800.0, sample(t, fams, "goproxy_shares_total", lbl{"family": "cryptonote", "result": "accepted"}))
	require.NotContains(t, fams, "proxy_worker_up")
	require.NotContains(t, fams, "proxy_pool_up")
	require.Equal(t, 1.0, sample(t, fams, "goproxy_metrics_scrape_errors_total", nil))
	require.Equal(t, 2.0, sample(t, scrape(t, h), "goproxy_metrics_scrape_errors_total", nil))

	// Hostile worker names (invalid UTF-8, quotes, newlines) are valid
	// label values and cannot break the exposition format.
	src = newFake()
	src.workers[0].Name = "bad\xff\"name\n{x=\"1\"}"
	fams = scrape(t, newTestHandler(src))
	require.Equal(t, 1240.0, sample(t, fams, "proxy_worker_accepted", lbl{"worker": "bad\uFFFD\"name\n{x=\"1\"}"}))

	// Authentication applies to /metrics too.
	require.Equal(t, http.StatusUnauthorized, do(newTestHandler(newFake()), "GET", "/metrics", nil, "").Code)
}

func TestMetrics_Collect_Ugly(t *testing.T) {
	// Per-worker series are capped at http.metrics-workers-max (first by
	// name) with the rest counted; an evicted worker's series vanish on
	// the next scrape.
	src := newFake()
	src.cfg.HTTP.MetricsWorkersMax = 2
	h := newTestHandler(src)
	fams := scrape(t, h)
	require.Len(t, fams["proxy_worker_up"].GetMetric(), 2)
	require.Equal(t, 1.0, sample(t, fams, "goproxy_metrics_workers_omitted", nil))
	require.Equal(t, 1.0, sample(t, fams, "proxy_worker_up", lbl{"worker": "rig-alpha"}))
	require.Equal(t, 0.0, sample(t, fams, "proxy_worker_up", lbl{"worker": "rig-beta"}))

	src.mu.Lock()
	src.workers = src.workers[1:] // rig-alpha expired
	src.mu.Unlock()
	fams = scrape(t, h)
	require.Len(t, fams["proxy_worker_up"].GetMetric(), 2)
	for _, m := range fams["proxy_worker_accepted"].GetMetric() {
		require.False(t, labelsMatch(m, lbl{"worker": "rig-alpha"}), "expired worker gone")
	}
	require.Equal(t, 0.0, sample(t, fams, "goproxy_metrics_workers_omitted", nil))

	// The runtime collectors are on by default, in the private registry.
	rt := NewHandler(newFake(), Options{Logger: quietLogger()})
	fams = scrape(t, rt)
	require.Contains(t, fams, "go_goroutines")
	require.Contains(t, fams, "goproxy_build_info")
}

// A worker's counters are sums over the event loops' records of its name,
// and a loop forgets its record after workers-expire while the name lives
// on in another loop: the sum drops. The series never go down (Prometheus
// would read a counter reset), later increases still show one for one,
// and a worker that leaves the scrape starts again from its own value.
func TestMetrics_WorkerCounters_Ugly(t *testing.T) {
	src := newFake()
	h := newTestHandler(src)
	w := lbl{"worker": "rig-alpha"}
	set := func(submitted, accepted uint64, subOne, oneAcc float64) {
		src.mu.Lock()
		defer src.mu.Unlock()
		v := &src.workers[0]
		v.Submitted, v.Accepted, v.SubmittedOne, v.OneAccepted = submitted, accepted, subOne, oneAcc
	}
	check := func(submitted, accepted, subOne, oneAcc float64) {
		t.Helper()
		fams := scrape(t, h)
		require.Equal(t, submitted, sample(t, fams, "proxy_worker_sended", w))
		require.Equal(t, accepted, sample(t, fams, "proxy_worker_accepted", w))
		require.Equal(t, subOne, sample(t, fams, "proxy_worker_one_sended", w))
		require.Equal(t, oneAcc, sample(t, fams, "proxy_worker_one_accepted", w))
	}
	set(100, 90, 1000, 900)
	check(100, 90, 1000, 900)
	set(40, 30, 400, 300) // one loop's record expired
	check(100, 90, 1000, 900)
	set(45, 33, 450, 330) // new shares on the other loop
	check(105, 93, 1050, 930)
	set(45, 33, 450, 330)
	check(105, 93, 1050, 930)
	set(10, 5, 100, 50) // another drop
	check(105, 93, 1050, 930)
	set(12, 5, 130, 50)
	check(107, 93, 1080, 930)

	// The worker leaves the merged view: its series and state go.
	src.mu.Lock()
	gone := src.workers[0]
	src.workers = src.workers[1:]
	src.mu.Unlock()
	for _, m := range scrape(t, h)["proxy_worker_sended"].GetMetric() {
		require.False(t, labelsMatch(m, w))
	}
	src.mu.Lock()
	src.workers = append([]stats.WorkerView{gone}, src.workers...)
	src.mu.Unlock()
	set(3, 2, 30, 20)
	check(3, 2, 30, 20)

	// Concurrent scrapes are safe (run with -race) and never go down.
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0.0
			for i := range 20 {
				if g == 0 {
					set(uint64(50-i), 2, 30, 20)
				}
				r := do(h, "GET", "/metrics", bearer, "")
				p := expfmt.NewTextParser(model.UTF8Validation)
				fams, err := p.TextToMetricFamilies(strings.NewReader(r.Body.String()))
				if err != nil {
					t.Error(err)
					return
				}
				for _, m := range fams["proxy_worker_sended"].GetMetric() {
					if labelsMatch(m, w) {
						v := m.GetCounter().GetValue()
						if v < last {
							t.Errorf("proxy_worker_sended went down: %v after %v", v, last)
						}
						last = v
					}
				}
			}
		}()
	}
	wg.Wait()
}
