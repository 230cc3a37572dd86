package httpapi

import (
	"math"

	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/stats"
)

// SummaryResponse is the /1/summary body: the RFC's keys in the RFC's
// order (hashrates in H/s, windows 60 s, 10 min, 1 h, 12 h, 24 h, all
// time), then go-proxy's additions.
type SummaryResponse struct {
	Version   string              `json:"version"`
	Mode      string              `json:"mode"`
	Hashrate  HashrateResponse    `json:"hashrate"`
	Miners    MinersCountResponse `json:"miners"`
	Workers   uint64              `json:"workers"`
	Upstreams UpstreamResponse    `json:"upstreams"`
	Results   ResultsResponse     `json:"results"`

	// Additions, after the RFC keys.
	Uptime      int64               `json:"uptime"`   // seconds
	SV1Mode     string              `json:"sv1_mode"` // "aggregate" or "passthrough"
	Connections ConnectionsResponse `json:"connections"`
	Families    FamiliesResponse    `json:"families"`
}

// HashrateResponse holds the six hashrate windows in H/s.
type HashrateResponse struct {
	Total [stats.NumWindows]float64 `json:"total"`
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
// hashes behind accepted shares, Best the ten best share difficulties.
type ResultsResponse struct {
	Accepted    uint64     `json:"accepted"`
	Rejected    uint64     `json:"rejected"`
	Invalid     uint64     `json:"invalid"`
	Expired     uint64     `json:"expired"`
	AvgTime     uint64     `json:"avg_time"`
	Latency     uint32     `json:"latency"`
	HashesTotal uint64     `json:"hashes_total"`
	Best        stats.Best `json:"best"`
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
}

// NewSummaryResponse builds the /1/summary body.
func NewSummaryResponse(s *stats.Summary, cfg *reactor.Config) SummaryResponse {
	r := SummaryResponse{
		Version: reactor.Version,
		Mode:    cfg.Mode,
		Miners:  MinersCountResponse{Now: s.MinersNow, Max: s.MinersMax},
		Workers: s.Workers,
		Upstreams: UpstreamResponse{
			Active: s.Upstreams.Active, Sleep: s.Upstreams.Sleep, Error: s.Upstreams.Error, Total: s.Upstreams.Total,
		},
		Results: ResultsResponse{
			Accepted: s.Counters.Accepted, Rejected: s.Counters.Rejected, Invalid: s.Counters.Invalid,
			Expired: s.Counters.Expired, AvgTime: s.AvgTime(), Latency: s.LatencyMs,
			HashesTotal: roundU64(s.Counters.Hashes), Best: s.Best,
		},
		Uptime:  s.Uptime,
		SV1Mode: cfg.SV1Mode,
		Connections: ConnectionsResponse{
			Total: s.Counters.Connections, Refused: s.Counters.Refused, RateLimited: s.Counters.RateLimited,
			Banned: s.Counters.Banned, ProxyUntrusted: s.Counters.ProxyUntrusted,
			SlowClosed: s.Counters.SlowClosed, BadLines: s.Counters.BadLines,
			LoginTimeouts: s.Counters.LoginTimeouts, IdleTimeouts: s.Counters.IdleTimeouts,
		},
		Families: FamiliesResponse{
			CryptoNote: familyResponse(s, reactor.FamilyCryptoNote),
			SV1:        familyResponse(s, reactor.FamilySV1),
		},
	}
	for i, h := range s.Hashrate {
		r.Hashrate.Total[i] = round2(h)
	}
	if s.Upstreams.Active > 0 {
		r.Upstreams.Ratio = round2(float64(s.MinersNow) / float64(s.Upstreams.Active))
	}
	return r
}

func familyResponse(s *stats.Summary, f reactor.Family) FamilyResponse {
	c := &s.ByFamily[f]
	r := FamilyResponse{
		Miners: s.MinersByFamily[f], Accepted: c.Accepted, Rejected: c.Rejected, Invalid: c.Invalid,
		Expired: c.Expired, Custom: c.CustomAccepted, Timeouts: c.Timeouts, HashesTotal: roundU64(c.Hashes),
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
