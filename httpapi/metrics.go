package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/stats"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// newMetricsHandler serves /metrics from a private registry holding the
// proxy collector (and, when runtime is set, Go runtime and process
// metrics). The global registry is never used.
func newMetricsHandler(src Source, log *slog.Logger, timeout time.Duration, runtimeMetrics bool) http.Handler {
	reg := prometheus.NewRegistry()
	cs := []prometheus.Collector{newCollector(src, timeout)}
	if runtimeMetrics {
		cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			log.Error("metrics: collector not registered", "err", err)
		}
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            promLogger{log},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             2 * timeout,
	})
}

// promLogger adapts slog to promhttp's error log.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) {
	l.log.Warn("metrics: " + strings.TrimSpace(fmt.Sprintln(v...)))
}

// windowName is the window label of a hashrate window index.
func windowName(i int) string {
	return [stats.NumWindows]string{"1m", "10m", "1h", "12h", "24h", "all"}[i]
}

// collector builds every go-proxy metric at scrape time from the
// Source's snapshots: nothing on the share path touches Prometheus, and a
// worker's series vanish on the first scrape after it is evicted. Safe
// for concurrent scrapes.
type collector struct {
	src     Source
	timeout time.Duration
	errors  atomic.Uint64

	// mono keeps the per-worker counters monotonic (see monotonic);
	// monoMu serialises the scrapes' workers snapshots and mono.
	monoMu sync.Mutex
	mono   map[workerSeries]*[numWorkerCounters]monoCounter

	buildInfo, uptime                         *prometheus.Desc
	shares, shareDifficulty, hashes, hashrate *prometheus.Desc
	bestDifficulty                            *prometheus.Desc
	miners, minersPeak, connections           *prometheus.Desc
	refused, closed, bytes                    *prometheus.Desc
	upstreams, submitLatency, latencyMedian   *prometheus.Desc
	poolSessions, poolMiners, poolErrors      *prometheus.Desc
	workers, workersEvicted, workersDropped   *prometheus.Desc
	workersOmitted, scrapeErrors              *prometheus.Desc
	workerUp, poolUp, poolDivider             *prometheus.Desc
	workerSended, workerOneSended             *prometheus.Desc
	workerAccepted, workerOneAccepted         *prometheus.Desc
	workerSpeed, workerDifficulty             *prometheus.Desc
	holds                                     *prometheus.Desc
	routeHashrate, routeWeight, routeMiners   *prometheus.Desc
	routeMoves                                *prometheus.Desc
}

func newCollector(src Source, timeout time.Duration) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	seedWorker := []string{"proxy", "worker", "user", "hash", "pool"}
	return &collector{
		src: src, timeout: timeout,
		buildInfo:       d("goproxy_build_info", "go-proxy build information (always 1).", "version", "goversion"),
		uptime:          d("goproxy_uptime_seconds", "Seconds since the proxy started."),
		shares:          d("goproxy_shares_total", "Shares by outcome: accepted/rejected by the pool, invalid (rejected by the proxy), expired (accepted for the previous job, also counted as accepted), custom (answered OK locally at a custom difficulty), timeout (never answered by the pool), throttled (refused by the per-miner share rate limit, not in invalid).", "family", "result"),
		shareDifficulty: d("goproxy_share_difficulty_total", "Sum of the difficulties of accepted shares (1-difficulty shares).", "family"),
		hashes:          d("goproxy_hashes_total", "Hashes behind accepted shares (CryptoNote: difficulty; SV1: difficulty × 2^32 / divider); rate() is the hashrate.", "family"),
		hashrate:        d("goproxy_hashrate_hashes_per_second", "Proxy hashrate per family averaged over a window (all = since start).", "family", "window"),
		bestDifficulty:  d("goproxy_best_share_difficulty", "Highest difficulty met by an accepted share since start."),
		miners:          d("goproxy_miners", "Miner connections open now (unknown = no request received yet).", "family"),
		minersPeak:      d("goproxy_miners_peak", "Highest number of miner connections open at once since start."),
		connections:     d("goproxy_connections_total", "Miner connections accepted."),
		refused:         d("goproxy_refused_connections_total", "Miner connections refused at accept, by reason (cap = connection cap or shutting down; proxy_untrusted = a PROXY-protocol bind reached from outside proxy-protocol-from).", "reason"),
		closed:          d("goproxy_closed_connections_total", "Miner connections closed by the proxy, by reason (flood = over the share rate limit persistently, held_overflow = buffered too much while held).", "reason"),
		bytes:           d("goproxy_bytes_total", "Bytes of miner traffic (in = from miners).", "direction", "family"),
		upstreams:       d("goproxy_upstreams", "Pool sessions by state (error = connecting or waiting to retry).", "state"),
		submitLatency:   d("goproxy_upstream_submit_latency_seconds", "Time from forwarding a share to the pool's answer."),
		latencyMedian:   d("goproxy_upstream_submit_latency_median_seconds", "Median pool answer time over the recent shares."),
		poolSessions:    d("goproxy_pool_sessions", "Pool sessions by pool and state (active, connecting, retry, idle).", "pool", "family", "state"),
		poolMiners:      d("goproxy_pool_miners", "Miners served through a pool.", "pool", "family"),
		poolErrors:      d("goproxy_pool_errors_total", "What pools sent wrong, by pool host:port and reason: line_too_long, not_json, protocol, login_refused (each drops the connection), invalid_job (skipped).", "pool", "reason"),
		workers:         d("goproxy_workers", "Workers in the worker table."),
		workersEvicted:  d("goproxy_workers_evicted_total", "Workers removed from the table after workers-expire seconds idle."),
		workersDropped:  d("goproxy_workers_dropped_total", "Logins not tracked per worker because the table was full (workers-max)."),
		workersOmitted:  d("goproxy_metrics_workers_omitted", "Workers left out of the per-worker series of this scrape (http.metrics-workers-max)."),
		scrapeErrors:    d("goproxy_metrics_scrape_errors_total", "Scrapes that could not read the per-worker or per-pool snapshots."),
		holds:           d("goproxy_miner_holds_total", "Times a miner's input was paused because its pool connection was slow to drain."),
		routeHashrate:   d("goproxy_route_hashrate", "Hashrate a routing target's pools accepted over the last 60 s, H/s (route default: the miners no route takes).", "route", "target"),
		routeWeight:     d("goproxy_route_weight", "A routing target's weight as a fraction of its route's weights (0..1): the share of the route's hashrate it should get.", "route", "target"),
		routeMiners:     d("goproxy_route_miners", "Miners placed on a routing target.", "route", "target"),
		routeMoves:      d("goproxy_route_moves_total", "Miners moved between a route's targets (rebalancing, a target down, a reload).", "route"),

		workerUp:          d("proxy_worker_up", "1 while the worker has a miner connected, 0 while it is idle (series vanish when the worker expires).", "proxy", "worker", "user"),
		poolUp:            d("proxy_pool_up", "1 when the proxy has a logged-in session to the pool.", "proxy", "hash", "pool"),
		poolDivider:       d("proxy_pool_divider", "The divider of the pool's algorithm (1 for sha256d and CryptoNote).", "proxy", "hash", "pool"),
		workerSended:      d("proxy_worker_sended", "Shares sent by the worker.", seedWorker...),
		workerOneSended:   d("proxy_worker_one_sended", "Difficulty of the shares sent by the worker ÷ divider (1-difficulty shares).", seedWorker...),
		workerAccepted:    d("proxy_worker_accepted", "Shares of the worker accepted by the pool.", seedWorker...),
		workerOneAccepted: d("proxy_worker_one_accepted", "Difficulty of the worker's accepted shares ÷ divider (1-difficulty shares).", seedWorker...),
		workerSpeed:       d("proxy_worker_speed", "Worker hashrate in H/s over the last five whole minutes, updated every minute.", seedWorker...),
		workerDifficulty:  d("proxy_worker_difficulty", "The difficulty the pool set for the worker.", seedWorker...),
	}
}

// Describe sends every descriptor.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.buildInfo, c.uptime, c.shares, c.shareDifficulty, c.hashes, c.hashrate, c.bestDifficulty,
		c.miners, c.minersPeak, c.connections, c.refused, c.closed, c.bytes, c.upstreams,
		c.submitLatency, c.latencyMedian, c.poolSessions, c.poolMiners, c.poolErrors, c.workers, c.workersEvicted,
		c.workersDropped, c.workersOmitted, c.scrapeErrors, c.workerUp, c.poolUp, c.poolDivider,
		c.workerSended, c.workerOneSended, c.workerAccepted, c.workerOneAccepted, c.workerSpeed, c.workerDifficulty,
		c.holds, c.routeHashrate, c.routeWeight, c.routeMiners, c.routeMoves,
	} {
		ch <- d
	}
}

// Collect builds the metrics from one Summary and, for the per-pool and
// per-worker series, one Upstreams and one Workers snapshot.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Summary()
	cfg := c.src.Config()
	c.collectSummary(ch, &s)
	c.collectRoutes(ch, c.src.Routes())

	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	ups, uerr := c.src.Upstreams(ctx)
	// One scrape at a time takes and adjusts a workers snapshot, so the
	// per-worker counters are adjusted in the order the snapshots were
	// taken (an older snapshot after a newer one would read as a drop).
	c.monoMu.Lock()
	defer c.monoMu.Unlock()
	views, werr := c.src.Workers(ctx)
	if uerr != nil || werr != nil {
		c.errors.Add(1)
	}
	proxy := ""
	if len(cfg.Bind) > 0 {
		proxy = cfg.Bind[0].Address()
	}
	if uerr == nil {
		c.collectPools(ch, cfg, proxy, ups, views)
	}
	if werr == nil {
		c.collectWorkers(ch, cfg, proxy, views)
	}
	emit(ch, c.scrapeErrors, prometheus.CounterValue, float64(c.errors.Load()))
}

func (c *collector) collectSummary(ch chan<- prometheus.Metric, s *stats.Summary) {
	const counter, gauge = prometheus.CounterValue, prometheus.GaugeValue
	emit(ch, c.buildInfo, gauge, 1, reactor.Version, runtime.Version())
	emit(ch, c.uptime, gauge, float64(s.Uptime))
	for f := reactor.FamilyCryptoNote; f <= reactor.FamilySV1; f++ {
		fc, name := &s.ByFamily[f], f.String()
		for _, r := range [...]struct {
			result string
			n      uint64
		}{
			{"accepted", fc.Accepted}, {"rejected", fc.Rejected}, {"invalid", fc.Invalid},
			{"expired", fc.Expired}, {"custom", fc.CustomAccepted}, {"timeout", fc.Timeouts},
			{"throttled", fc.Throttled},
		} {
			emit(ch, c.shares, counter, float64(r.n), name, r.result)
		}
		emit(ch, c.shareDifficulty, counter, fc.DiffSum, name)
		emit(ch, c.hashes, counter, fc.Hashes, name)
	}
	for f := reactor.FamilyCryptoNote; f <= reactor.FamilySV1; f++ {
		for i, h := range s.HashrateByFamily[f] {
			emit(ch, c.hashrate, gauge, h, f.String(), windowName(i))
		}
	}
	emit(ch, c.bestDifficulty, gauge, float64(s.Best[0]))
	for f := range s.MinersByFamily {
		name := reactor.Family(f).String()
		emit(ch, c.miners, gauge, float64(s.MinersByFamily[f]), name)
		emit(ch, c.bytes, counter, float64(s.ByFamily[f].BytesIn), "in", name)
		emit(ch, c.bytes, counter, float64(s.ByFamily[f].BytesOut), "out", name)
	}
	emit(ch, c.minersPeak, gauge, float64(s.MinersMax))
	t := &s.Counters
	emit(ch, c.connections, counter, float64(t.Connections))
	capRefused := t.Refused - min(t.Refused, t.RateLimited+t.Banned+t.ProxyUntrusted)
	emit(ch, c.refused, counter, float64(capRefused), "cap")
	emit(ch, c.refused, counter, float64(t.RateLimited), "rate_limit")
	emit(ch, c.refused, counter, float64(t.Banned), "ban")
	emit(ch, c.refused, counter, float64(t.ProxyUntrusted), "proxy_untrusted")
	emit(ch, c.closed, counter, float64(t.SlowClosed), "slow_reader")
	emit(ch, c.closed, counter, float64(t.BadLines), "bad_line")
	emit(ch, c.closed, counter, float64(t.LoginTimeouts), "login_timeout")
	emit(ch, c.closed, counter, float64(t.IdleTimeouts), "idle_timeout")
	emit(ch, c.closed, counter, float64(t.FloodClosed), "flood")
	emit(ch, c.closed, counter, float64(t.HeldClosed), "held_overflow")
	emit(ch, c.holds, counter, float64(t.Held))
	emit(ch, c.upstreams, gauge, float64(s.Upstreams.Active), "active")
	emit(ch, c.upstreams, gauge, float64(s.Upstreams.Sleep), "sleep")
	emit(ch, c.upstreams, gauge, float64(s.Upstreams.Error), "error")
	h := &s.SubmitLatency
	buckets := make(map[float64]uint64, len(stats.LatencyBuckets))
	var cum uint64
	for i, le := range stats.LatencyBuckets {
		cum += h.Counts[i]
		buckets[le/1000] = cum
	}
	if m, err := prometheus.NewConstHistogram(c.submitLatency, h.Count(), h.SumMs/1000, buckets); err == nil {
		ch <- m
	}
	emit(ch, c.latencyMedian, gauge, float64(s.LatencyMs)/1000)
	emit(ch, c.workers, gauge, float64(s.Workers))
	emit(ch, c.workersEvicted, counter, float64(s.WorkersEvicted))
	emit(ch, c.workersDropped, counter, float64(s.WorkersDropped))
	for pool, e := range s.PoolErrors {
		for _, r := range [...]struct {
			reason string
			n      uint64
		}{
			{"line_too_long", e.LineTooLong}, {"not_json", e.NotJSON}, {"protocol", e.Protocol},
			{"login_refused", e.LoginRefused}, {"invalid_job", e.InvalidJob},
		} {
			emit(ch, c.poolErrors, counter, float64(r.n), pool, r.reason)
		}
	}
}

// collectRoutes emits the per-route and per-target series. A route with
// targets of both families has both in its series (target names differ:
// their pools do); its move counter is one.
func (c *collector) collectRoutes(ch chan<- prometheus.Metric, views []reactor.RouteView) {
	const gauge = prometheus.GaugeValue
	moves := map[string]uint64{}
	var order []string
	for i := range views {
		v := &views[i]
		if _, ok := moves[v.Name]; !ok {
			order = append(order, v.Name)
		}
		moves[v.Name] = v.Moves
		var weights float64
		for _, t := range v.Targets {
			weights += t.Weight
		}
		for _, t := range v.Targets {
			emit(ch, c.routeHashrate, gauge, t.Hashrate[0], v.Name, t.Name)
			w := 0.0
			if weights > 0 {
				w = t.Weight / weights
			}
			emit(ch, c.routeWeight, gauge, w, v.Name, t.Name)
			emit(ch, c.routeMiners, gauge, float64(t.Miners), v.Name, t.Name)
		}
	}
	for _, name := range order {
		emit(ch, c.routeMoves, prometheus.CounterValue, float64(moves[name]), name)
	}
}

// poolKey groups pool sessions for the per-pool series.
type poolKey struct{ pool, family, state string }

// collectPools emits the per-pool series. A pool's algorithm and divider
// come from its sessions, else from the workers mining through it, else
// from its configuration.
func (c *collector) collectPools(ch chan<- prometheus.Metric, cfg *reactor.Config, proxy string, ups []reactor.UpstreamView, views []stats.WorkerView) {
	sessions := map[poolKey]int{}
	miners := map[[2]string]int{}
	up := map[string]bool{}
	var order []string
	for _, u := range ups {
		if u.Pool == "" {
			continue
		}
		p := hostPort(u.Pool)
		if _, seen := up[p]; !seen {
			order = append(order, p)
			up[p] = false
		}
		up[p] = up[p] || u.State == "active"
		sessions[poolKey{p, u.Family.String(), u.State}]++
		miners[[2]string{p, u.Family.String()}] += u.Miners
	}
	for k, n := range sessions {
		emit(ch, c.poolSessions, prometheus.GaugeValue, float64(n), k.pool, k.family, k.state)
	}
	for k, n := range miners {
		emit(ch, c.poolMiners, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	algo := map[string]string{}
	divider := map[string]float64{}
	for _, u := range ups {
		if p := hostPort(u.Pool); u.Pool != "" && u.Algo != "" && algo[p] == "" {
			algo[p], divider[p] = u.Algo, u.Divider
		}
	}
	for i := range views {
		v := &views[i]
		p := hostPort(v.Pool)
		if v.Pool == "" || algo[p] != "" {
			continue
		}
		algo[p], divider[p] = v.Algo, v.Divider
	}
	for i := range cfg.Pools {
		p := hostPort(cfg.Pools[i].URL)
		if algo[p] == "" {
			algo[p] = cfg.Pools[i].Algo
		}
	}
	for _, p := range order {
		hash, div := labelValue(algo[p]), divider[p]
		if div <= 0 {
			div = 1
		}
		v := 0.0
		if up[p] {
			v = 1
		}
		emit(ch, c.poolUp, prometheus.GaugeValue, v, proxy, hash, p)
		emit(ch, c.poolDivider, prometheus.GaugeValue, div, proxy, hash, p)
	}
}

// workerSeries is the label set of one worker's seed series.
type workerSeries struct{ proxy, worker, user, hash, pool string }

// The per-worker counters, in monoCounter array order.
const (
	counterSended = iota
	counterOneSended
	counterAccepted
	counterOneAccepted
	numWorkerCounters
)

// monoCounter is what a per-worker counter series last emitted and the
// offset added to the computed value to keep it from going down.
type monoCounter struct{ last, offset float64 }

// next returns the value to emit for computed: computed plus the offset,
// the offset first raised by however much that falls short of the last
// value emitted. Increases of computed still show one for one.
func (m *monoCounter) next(computed float64) float64 {
	v := computed + m.offset
	if v < m.last {
		m.offset += m.last - v
		v = m.last
	}
	m.last = v
	return v
}

// monotonic makes the per-worker counters of this scrape's series
// monotonic and forgets the series that are not in it. A worker's
// counters are sums over the event loops' records of its name
// (stats.MergeWorkers), and a loop forgets its record after
// workers-expire while the name lives on in another loop (a miner that
// reconnected onto another loop, or one name shared by many miners), so a
// sum can drop; Prometheus would read that as a counter reset. A series
// absent from the scrape (worker expired, or past metrics-workers-max) is
// deleted, which Prometheus allows, so its state goes too: the map holds
// at most metrics-workers-max series. Called with monoMu held.
func (c *collector) monotonic(keys []workerSeries, values [][numWorkerCounters]float64) {
	prev := c.mono
	c.mono = make(map[workerSeries]*[numWorkerCounters]monoCounter, len(keys))
	for i, k := range keys {
		st := prev[k]
		if st == nil {
			st = c.mono[k] // the same labels twice in one scrape
		}
		if st == nil {
			st = new([numWorkerCounters]monoCounter)
		}
		c.mono[k] = st
		for j := range st {
			values[i][j] = st[j].next(values[i][j])
		}
	}
}

// collectWorkers emits the seed's per-worker series for the first
// http.metrics-workers-max workers by name, and how many were left out.
func (c *collector) collectWorkers(ch chan<- prometheus.Metric, cfg *reactor.Config, proxy string, views []stats.WorkerView) {
	limit := cfg.HTTP.MetricsWorkersMax
	if limit <= 0 {
		limit = 1000
	}
	omitted := 0
	if len(views) > limit {
		omitted = len(views) - limit
		views = views[:limit]
	}
	emit(ch, c.workersOmitted, prometheus.GaugeValue, float64(omitted))
	keys := make([]workerSeries, len(views))
	counters := make([][numWorkerCounters]float64, len(views))
	for i := range views {
		v := &views[i]
		keys[i] = workerSeries{proxy, labelValue(v.Name), labelValue(v.User), labelValue(v.Algo), hostPort(v.Pool)}
		counters[i] = [numWorkerCounters]float64{
			counterSended: float64(v.Submitted), counterOneSended: v.SubmittedOne,
			counterAccepted: float64(v.Accepted), counterOneAccepted: v.OneAccepted,
		}
	}
	c.monotonic(keys, counters)
	const counter, gauge = prometheus.CounterValue, prometheus.GaugeValue
	for i := range views {
		v, k, n := &views[i], &keys[i], &counters[i]
		connected := 0.0
		if v.Connections > 0 {
			connected = 1
		}
		emit(ch, c.workerUp, gauge, connected, proxy, k.worker, k.user)
		emit(ch, c.workerSended, counter, n[counterSended], proxy, k.worker, k.user, k.hash, k.pool)
		emit(ch, c.workerOneSended, counter, n[counterOneSended], proxy, k.worker, k.user, k.hash, k.pool)
		emit(ch, c.workerAccepted, counter, n[counterAccepted], proxy, k.worker, k.user, k.hash, k.pool)
		emit(ch, c.workerOneAccepted, counter, n[counterOneAccepted], proxy, k.worker, k.user, k.hash, k.pool)
		emit(ch, c.workerSpeed, gauge, v.Speed, proxy, k.worker, k.user, k.hash, k.pool)
		emit(ch, c.workerDifficulty, gauge, v.Difficulty, proxy, k.worker, k.user, k.hash, k.pool)
	}
}

// emit sends one const metric; a value the client library refuses is
// skipped rather than failing the scrape.
func emit(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	if m, err := prometheus.NewConstMetric(d, t, v, labels...); err == nil {
		ch <- m
	}
}

// hostPort turns a pool URL into the "host:port" label value.
func hostPort(url string) string {
	if url == "" {
		return ""
	}
	if e, err := upstream.ParseURL(url); err == nil {
		return e.Address()
	}
	return labelValue(url)
}

// labelValue makes a miner-supplied string a valid label value.
func labelValue(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
