package httpapi

import (
	"math"

	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/stats"
)

// SummaryResponse is the /1/summary body: every key xmrig-proxy 6.26
// sends, in its order, with its names, units and types (hashrate.total in
// kH/s, as xmrig-proxy dashboards expect), then go-proxy's additions
// (hashrate.total_hs in H/s, sv1_mode, connections, families).
type SummaryResponse struct {
	ID          string              `json:"id"`
	WorkerID    string              `json:"worker_id"`
	Uptime      int64               `json:"uptime"` // seconds
	Restricted  bool                `json:"restricted"`
	Resources   ResourcesResponse   `json:"resources"`
	Features    []string            `json:"features"`
	Version     string              `json:"version"`
	Kind        string              `json:"kind"` // "proxy"
	Algo        string              `json:"algo"` // "invalid": a proxy mines no algorithm of its own
	Mode        string              `json:"mode"`
	UA          string              `json:"ua"`
	DonateLevel int                 `json:"donate_level"` // go-proxy never donates: 0
	Donated     float64             `json:"donated"`      // percent of hashes donated: 0
	Hashrate    HashrateResponse    `json:"hashrate"`
	Miners      MinersCountResponse `json:"miners"`
	Workers     uint64              `json:"workers"`
	Upstreams   UpstreamResponse    `json:"upstreams"`
	Results     ResultsResponse     `json:"results"`

	// go-proxy's additions, after xmrig-proxy's keys.
	SV1Mode     string              `json:"sv1_mode"` // "aggregate" or "passthrough"
	Connections ConnectionsResponse `json:"connections"`
	Families    FamiliesResponse    `json:"families"`
	// PoolErrors counts what each pool (host:port) sent wrong, by reason;
	// {} while nothing did.
	PoolErrors map[string]stats.PoolErrors `json:"pool_errors"`
	// Routes is each route's hashrate and, per target, its goal, measured
	// share, miners and pool in use (GET /1/routes has the detail).
	Routes []RouteSummary `json:"routes"`
}

// ResourcesResponse is the host's memory (bytes), load average and CPU
// count, as xmrig-proxy reports them.
type ResourcesResponse struct {
	Memory              MemoryResponse `json:"memory"`
	LoadAverage         [3]float64     `json:"load_average"`
	HardwareConcurrency int            `json:"hardware_concurrency"`
}

// MemoryResponse is in bytes.
type MemoryResponse struct {
	Free  uint64 `json:"free"`
	Total uint64 `json:"total"`
	RSS   uint64 `json:"resident_set_memory"`
}

// summaryFeatures is the "features" list: what xmrig-proxy lists for a
// build with its API, HTTP server and TLS, which go-proxy always has.
var summaryFeatures = []string{"api", "http", "tls"}

// HashrateResponse holds the six hashrate windows (60 s, 10 min, 1 h,
// 12 h, 24 h, since start): Total in kH/s rounded down to two decimals,
// as xmrig-proxy sends it, and TotalHs, go-proxy's own figure, in H/s.
type HashrateResponse struct {
	Total   [stats.NumWindows]float64 `json:"total"`
	TotalHs [stats.NumWindows]float64 `json:"total_hs"`
}

// MinersCountResponse counts miner connections now and at the peak.
type MinersCountResponse struct {
	Now uint64 `json:"now"`
	Max uint64 `json:"max"`
}

// UpstreamResponse counts pool sessions; Ratio is miners per active
// session (0 without one).
type UpstreamResponse struct {
	Active uint64  `json:"active"`
	Sleep  uint64  `json:"sleep"`
	Error  uint64  `json:"error"`
	Total  uint64  `json:"total"`
	Ratio  float64 `json:"ratio"`
}

// ResultsResponse is the share tally. AvgTime is seconds per accepted
// share, Latency the median pool answer time in ms, HashesTotal the
// hashes behind accepted shares, HashesDonate those mined for a donation
// (always 0), Best the ten best share difficulties.
type ResultsResponse struct {
	Accepted     uint64     `json:"accepted"`
	Rejected     uint64     `json:"rejected"`
	Invalid      uint64     `json:"invalid"`
	Expired      uint64     `json:"expired"`
	AvgTime      uint64     `json:"avg_time"`
	Latency      uint32     `json:"latency"`
	HashesTotal  uint64     `json:"hashes_total"`
	HashesDonate uint64     `json:"hashes_donate"`
	Best         stats.Best `json:"best"`
	// Throttled counts submits refused by the per-miner share rate limit
	// (not handled, so not in Invalid).
	Throttled uint64 `json:"throttled"`
}

// ConnectionsResponse counts miner connections accepted, refused and
// closed by the proxy, since start.
type ConnectionsResponse struct {
	Total       uint64 `json:"total"`
	Refused     uint64 `json:"refused"`
	RateLimited uint64 `json:"rate_limited"`
	Banned      uint64 `json:"banned"`
	// ProxyUntrusted: connections to a PROXY-protocol bind from outside
	// proxy-protocol-from (also in Refused).
	ProxyUntrusted uint64 `json:"proxy_untrusted"`
	SlowClosed     uint64 `json:"slow_closed"`
	BadLines       uint64 `json:"bad_lines"`
	LoginTimeouts  uint64 `json:"login_timeouts"`
	IdleTimeouts   uint64 `json:"idle_timeouts"`
	// FloodClosed counts miners closed for flooding shares past the rate
	// limit; Held the times a miner's input was paused while its pool
	// connection drained; HeldClosed miners closed for buffering too much
	// meanwhile.
	FloodClosed uint64 `json:"flood_closed"`
	Held        uint64 `json:"held"`
	HeldClosed  uint64 `json:"held_closed"`
}

// FamiliesResponse splits the share tally by stratum dialect.
type FamiliesResponse struct {
	CryptoNote FamilyResponse `json:"cryptonote"`
	SV1        FamilyResponse `json:"sv1"`
}

// FamilyResponse is one dialect's miners and shares. Custom counts
// shares answered OK locally at a miner's custom difficulty; Timeouts
// shares the pool never answered.
type FamilyResponse struct {
	// Hashrate is this family's H/s over the six windows.
	Hashrate    [6]float64 `json:"hashrate"`
	Miners      uint64     `json:"miners"`
	Accepted    uint64     `json:"accepted"`
	Rejected    uint64     `json:"rejected"`
	Invalid     uint64     `json:"invalid"`
	Expired     uint64     `json:"expired"`
	Custom      uint64     `json:"custom"`
	Timeouts    uint64     `json:"timeouts"`
	HashesTotal uint64     `json:"hashes_total"`
	Throttled   uint64     `json:"throttled"`
}

// NewSummaryResponse builds the /1/summary body. res is the host's state
// (see ReadResources); restrictedAPI is whether the API refuses changes.
func NewSummaryResponse(s *stats.Summary, cfg *reactor.Config, res Resources, restrictedAPI bool) SummaryResponse {
	r := SummaryResponse{
		ID:         instanceID(cfg),
		WorkerID:   workerID(cfg),
		Uptime:     s.Uptime,
		Restricted: restrictedAPI,
		Resources: ResourcesResponse{
			Memory:              MemoryResponse{Free: res.MemoryFree, Total: res.MemoryTotal, RSS: res.RSS},
			HardwareConcurrency: res.CPUs,
		},
		Features: summaryFeatures,
		Version:  reactor.Version,
		Kind:     "proxy",
		Algo:     "invalid",
		Mode:     cfg.Mode,
		UA:       cfg.UserAgent,
		Hashrate: newHashrate(s.Hashrate),
		Miners:   MinersCountResponse{Now: s.MinersNow, Max: s.MinersMax},
		Workers:  s.Workers,
		Upstreams: UpstreamResponse{
			Active: s.Upstreams.Active, Sleep: s.Upstreams.Sleep, Error: s.Upstreams.Error, Total: s.Upstreams.Total,
		},
		Results: ResultsResponse{
			Accepted: s.Counters.Accepted, Rejected: s.Counters.Rejected, Invalid: s.Counters.Invalid,
			Expired: s.Counters.Expired, AvgTime: s.AvgTime(), Latency: s.LatencyMs,
			HashesTotal: roundU64(s.Counters.Hashes), Best: s.Best, Throttled: s.Counters.Throttled,
		},
		SV1Mode: cfg.SV1Mode,
		Connections: ConnectionsResponse{
			Total: s.Counters.Connections, Refused: s.Counters.Refused, RateLimited: s.Counters.RateLimited,
			Banned: s.Counters.Banned, ProxyUntrusted: s.Counters.ProxyUntrusted,
			SlowClosed: s.Counters.SlowClosed, BadLines: s.Counters.BadLines,
			LoginTimeouts: s.Counters.LoginTimeouts, IdleTimeouts: s.Counters.IdleTimeouts,
			FloodClosed: s.Counters.FloodClosed, Held: s.Counters.Held, HeldClosed: s.Counters.HeldClosed,
		},
		Families: FamiliesResponse{
			CryptoNote: familyResponse(s, reactor.FamilyCryptoNote),
			SV1:        familyResponse(s, reactor.FamilySV1),
		},
		PoolErrors: s.PoolErrors,
	}
	if r.PoolErrors == nil {
		r.PoolErrors = map[string]stats.PoolErrors{}
	}
	r.Routes = []RouteSummary{}
	for i, l := range res.LoadAverage {
		r.Resources.LoadAverage[i] = round2(l)
	}
	if s.Upstreams.Active > 0 {
		r.Upstreams.Ratio = round2(float64(s.MinersNow) / float64(s.Upstreams.Active))
	}
	return r
}

// newHashrate converts H/s windows to the hashrate object.
func newHashrate(hs [stats.NumWindows]float64) HashrateResponse {
	var h HashrateResponse
	for i, v := range hs {
		h.Total[i] = kilo(v)
		h.TotalHs[i] = round2(v)
	}
	return h
}

// kilo converts H/s to kH/s rounded down to two decimals, as xmrig-proxy
// reports hashrates.
func kilo(hs float64) float64 {
	if math.IsNaN(hs) || math.IsInf(hs, 0) || hs <= 0 {
		return 0
	}
	return math.Floor(hs/10+1e-9) / 100 // hs/10: whole hundredths of a kH/s
}

func familyResponse(s *stats.Summary, f reactor.Family) FamilyResponse {
	c := &s.ByFamily[f]
	r := FamilyResponse{
		Miners: s.MinersByFamily[f], Accepted: c.Accepted, Rejected: c.Rejected, Invalid: c.Invalid,
		Expired: c.Expired, Custom: c.CustomAccepted, Timeouts: c.Timeouts, HashesTotal: roundU64(c.Hashes),
		Throttled: c.Throttled,
	}
	for i, h := range s.HashrateByFamily[f] {
		r.Hashrate[i] = round2(h)
	}
	return r
}

// round2 rounds to two decimals (hashrates, ratios).
func round2(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*100) / 100
}

// roundU64 converts a non-negative float sum to an integer.
func roundU64(v float64) uint64 {
	if !(v > 0) || math.IsInf(v, 0) {
		return 0
	}
	if v >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(math.Round(v))
}
