package httpapi

import (
	"math"
	"net/http"

	"forge.lthn.ai/core/go-proxy/reactor"
)

// RoutesResponse is the GET /1/routes body: every route (the configured
// ones, then the implicit "default" route of each family for the miners
// no route takes) with its targets.
type RoutesResponse struct {
	Routes []RouteResponse `json:"routes"`
}

// RouteResponse is one route for one family. Hashrate is what its
// targets' pools accepted over 60 s and 10 min (H/s); deviation how far
// the split its miners' meters measure is from the weights (0 = exact, 1
// = everything on the wrong targets); moves the miners moved between its
// targets since start and rebalances its rebalance rounds.
type RouteResponse struct {
	Name       string           `json:"name"`
	Family     string           `json:"family"`
	Implicit   bool             `json:"implicit"`
	Rebalance  int              `json:"rebalance"`
	Hashrate   [2]float64       `json:"hashrate"`
	Deviation  float64          `json:"deviation"`
	Miners     int              `json:"miners"`
	Moves      uint64           `json:"moves"`
	Rebalances uint64           `json:"rebalances"`
	Targets    []TargetResponse `json:"targets"`
}

// TargetResponse is one target: its failover chain by pool name and the
// pool in use now ("" while none), its configured weight and its goal
// (share of the route among the targets that are up, 0..1), the hashrate
// its pools accepted over 60 s and 10 min (H/s) and its share of the
// route's 60 s hashrate (0..1), the sum of its miners' hashrate estimates
// (H/s, what rebalancing works on), its miners, and whether it is up.
type TargetResponse struct {
	Name     string     `json:"name"`
	Pools    []string   `json:"pools"`
	Pool     string     `json:"pool"`
	Weight   float64    `json:"weight"`
	Goal     float64    `json:"goal"`
	Hashrate [2]float64 `json:"hashrate"`
	Share    float64    `json:"share"`
	Estimate float64    `json:"estimate"`
	Miners   int        `json:"miners"`
	Up       bool       `json:"up"`
}

// NewRoutesResponse builds the /1/routes body.
func NewRoutesResponse(views []reactor.RouteView) RoutesResponse {
	r := RoutesResponse{Routes: make([]RouteResponse, 0, len(views))}
	for i := range views {
		v := &views[i]
		rr := RouteResponse{Name: v.Name, Family: v.Family.String(), Implicit: v.Implicit, Rebalance: v.Rebalance,
			Hashrate: [2]float64{round2(v.Hashrate[0]), round2(v.Hashrate[1])}, Deviation: round4(v.Deviation),
			Miners: v.Miners, Moves: v.Moves, Rebalances: v.Rebalances, Targets: make([]TargetResponse, 0, len(v.Targets))}
		for _, t := range v.Targets {
			pools := t.Pools
			if pools == nil {
				pools = []string{}
			}
			rr.Targets = append(rr.Targets, TargetResponse{Name: t.Name, Pools: pools, Pool: t.Pool, Weight: t.Weight,
				Goal: round4(t.Goal), Hashrate: [2]float64{round2(t.Hashrate[0]), round2(t.Hashrate[1])},
				Share: round4(t.Share), Estimate: round2(t.Estimate), Miners: t.Miners, Up: t.Up})
		}
		r.Routes = append(r.Routes, rr)
	}
	return r
}

// RouteSummary is a route in /1/summary's "routes": its name and family,
// its 60 s hashrate (H/s) and, per target, the goal, the measured share,
// the miners and the pool in use.
type RouteSummary struct {
	Name     string          `json:"name"`
	Family   string          `json:"family"`
	Hashrate float64         `json:"hashrate"`
	Targets  []TargetSummary `json:"targets"`
}

// TargetSummary is a target in /1/summary's "routes".
type TargetSummary struct {
	Name   string  `json:"name"`
	Goal   float64 `json:"goal"`
	Share  float64 `json:"share"`
	Miners int     `json:"miners"`
	Pool   string  `json:"pool"`
}

// newRouteSummaries builds /1/summary's "routes".
func newRouteSummaries(views []reactor.RouteView) []RouteSummary {
	out := make([]RouteSummary, 0, len(views))
	for i := range views {
		v := &views[i]
		rs := RouteSummary{Name: v.Name, Family: v.Family.String(), Hashrate: round2(v.Hashrate[0]), Targets: make([]TargetSummary, 0, len(v.Targets))}
		for _, t := range v.Targets {
			rs.Targets = append(rs.Targets, TargetSummary{Name: t.Name, Goal: round4(t.Goal), Share: round4(t.Share), Miners: t.Miners, Pool: t.Pool})
		}
		out = append(out, rs)
	}
	return out
}

func (h *Handler) serveRoutes(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, NewRoutesResponse(h.src.Routes()))
}

// round4 rounds to four decimals (fractions), as round2 does to two.
func round4(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*10000) / 10000
}
