package httpapi

import (
	"context"
	"errors"
	"net/netip"
	"sync"

	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/stats"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// fakeSource is a Source with fixed, known contents.
type fakeSource struct {
	mu        sync.Mutex
	cfg       *reactor.Config
	sum       stats.Summary
	workers   []stats.WorkerView
	miners    []reactor.MinerView
	ups       []reactor.UpstreamView
	routes    []reactor.RouteView
	loopErr   error // returned by Workers, Miners, Upstreams
	reloadErr error
	reloaded  []*reactor.Config
}

func (f *fakeSource) Summary() stats.Summary {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sum
}

func (f *fakeSource) Workers(context.Context) ([]stats.WorkerView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]stats.WorkerView(nil), f.workers...), f.loopErr
}

func (f *fakeSource) Miners(context.Context) ([]reactor.MinerView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]reactor.MinerView(nil), f.miners...), f.loopErr
}

func (f *fakeSource) Upstreams(context.Context) ([]reactor.UpstreamView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]reactor.UpstreamView(nil), f.ups...), f.loopErr
}

func (f *fakeSource) Routes() []reactor.RouteView {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]reactor.RouteView(nil), f.routes...)
}

func (f *fakeSource) Config() *reactor.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
}

func (f *fakeSource) Reload(c *reactor.Config) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reloadErr != nil {
		return nil, f.reloadErr
	}
	if c.HTTP.AccessToken == "********" { // as reactor.Proxy.Reload does
		c.HTTP.AccessToken = f.cfg.HTTP.AccessToken
	}
	f.reloaded = append(f.reloaded, c)
	f.cfg = c
	return []string{"a warning"}, nil
}

func (f *fakeSource) setHTTP(token string, restrictedAPI bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cfg.Clone()
	c.HTTP.AccessToken = token
	c.HTTP.Restricted = &restrictedAPI
	f.cfg = c
}

// setRegistration sets the registration credentials.
func (f *fakeSource) setRegistration(token string, open bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cfg.Clone()
	c.HTTP.RegisterToken, c.HTTP.OpenRegistration = token, open
	f.cfg = c
}

var errStopped = errors.New("reactor: stopped")

// newFake returns a source describing a small, busy proxy.
func newFake() *fakeSource {
	cfg := &reactor.Config{
		Bind:           []reactor.BindConfig{{Host: "0.0.0.0", Port: 3333}},
		Pools:          []upstream.PoolConfig{{URL: "stratum+tcp://pool.example.com:3333", User: "POOLWALLET", Pass: "poolsecret", Algo: "rx/0"}, {URL: "backup.example.com:5555", User: "POOLWALLET", Pass: "x"}},
		HTTP:           reactor.HTTPConfig{Enabled: true, Port: 8080, AccessToken: "s3cret"},
		AccessPassword: "minerpass",
		Workers:        reactor.WorkersByRigID,
		WorkersMax:     5000,
		API:            reactor.APIConfig{ID: "proxy-test-1", WorkerID: "edge-test"},
	}
	cfg.Normalize()
	s := stats.Summary{
		Hashrate: [stats.NumWindows]float64{12345.678, 11900, 12100.001, 11800, 12000, 12200},
		HashrateByFamily: [3][stats.NumWindows]float64{
			1: {12345.678, 11900, 12100.001, 11800, 12000, 12200},
		},
		MinersNow:      142,
		MinersMax:      200,
		Workers:        38,
		Upstreams:      stats.Upstreams{Active: 1, Sleep: 0, Error: 1, Total: 2},
		Best:           stats.Best{999999999, 888888888, 777777777},
		LatencyMs:      82,
		Uptime:         226587,
		WorkersDropped: 2,
		WorkersEvicted: 7,
		PoolErrors:     map[string]stats.PoolErrors{"pool.example.com:3333": {NotJSON: 1, InvalidJob: 2}},
	}
	s.ByFamily[reactor.FamilyCryptoNote] = stats.Counters{Accepted: 4800, Rejected: 3, Invalid: 1, Expired: 12, Hashes: 4.8e9,
		DiffSum: 4.8e9, CustomAccepted: 40, Timeouts: 2, Throttled: 25, Held: 7, BytesIn: 900000, BytesOut: 5000000}
	s.ByFamily[reactor.FamilySV1] = stats.Counters{Accepted: 21, Hashes: 21000000.4, DiffSum: 21, BytesIn: 4000, BytesOut: 9000}
	s.ByFamily[reactor.FamilyUnknown] = stats.Counters{Connections: 1000, Refused: 11, RateLimited: 3, Banned: 1, ProxyUntrusted: 2, SlowClosed: 4,
		BadLines: 5, LoginTimeouts: 6, IdleTimeouts: 8, FloodClosed: 2, HeldClosed: 1, BytesIn: 100}
	for i := range s.ByFamily {
		s.Counters.Merge(&s.ByFamily[i])
	}
	s.MinersByFamily = [3]uint64{2, 139, 1}
	for _, ms := range []float64{0.8, 3, 45, 45, 82, 150, 15000} {
		s.SubmitLatency.Observe(ms)
	}
	return &fakeSource{
		cfg: cfg,
		sum: s,
		workers: []stats.WorkerView{
			{Name: "rig-alpha", LastIP: netip.MustParseAddr("10.0.0.1"), Connections: 2, Accepted: 1240, Rejected: 1,
				Hashes: 124000000000, LastShare: 1712232000, Hashrate: [5]float64{4321, 4200, 4100.126, 4050, 4000},
				Submitted: 1242, SubmittedOne: 124100000000, OneAccepted: 124000000000, Speed: 4300, Family: 1,
				User: "WALLET", Pool: "stratum+tcp://pool.example.com:3333", Algo: "rx/0", Divider: 1, Difficulty: 100000,
				Route: "rack1", Target: "a,a2"},
			{Name: "rig-beta", LastIP: netip.MustParseAddr("10.0.0.2"), Accepted: 3, Invalid: 2, Hashes: 300000,
				LastShare: 1712231000, Submitted: 5, SubmittedOne: 500000, OneAccepted: 300000, Family: 1,
				User: "WALLET", Pool: "stratum+tcp://pool.example.com:3333", Algo: "rx/0", Divider: 1, Difficulty: 100000},
			{Name: "rig-new"},
		},
		miners: []reactor.MinerView{
			{ID: 9, Addr: netip.MustParseAddrPort("10.0.0.2:50001"), Family: reactor.FamilyCryptoNote, State: reactor.StateWaitReady,
				User: "WALLET", RigID: "rig-beta", Agent: "XMRig/6.21.0"},
			{ID: 1, Addr: netip.MustParseAddrPort("10.0.0.1:49152"), Family: reactor.FamilyCryptoNote, State: reactor.StateReady,
				Diff: 100000, Tx: 4096, Rx: 512, User: "WALLET", RigID: "rig-alpha", Agent: "XMRig/6.21.0", Upstream: 1},
		},
		routes: []reactor.RouteView{
			{Name: "rack1", Family: reactor.FamilyCryptoNote, Rebalance: 60, Hashrate: [2]float64{10000, 9800.5}, Deviation: 0.0123,
				Miners: 120, Moves: 34, Rebalances: 12, Targets: []reactor.TargetView{
					{Name: "a,a2", Pools: []string{"a", "a2"}, Pool: "a", Weight: 70, Goal: 0.7, Hashrate: [2]float64{6900, 6800},
						Share: 0.69, Estimate: 7012.25, Miners: 80, Up: true},
					{Name: "b", Pools: []string{"b"}, Pool: "b", Weight: 30, Goal: 0.3, Hashrate: [2]float64{3100, 3000.5},
						Share: 0.31, Estimate: 2987.75, Miners: 40, Up: true},
				}},
			{Name: "default", Family: reactor.FamilyCryptoNote, Implicit: true, Rebalance: 60, Hashrate: [2]float64{2345.68, 2100},
				Miners: 22, Targets: []reactor.TargetView{
					{Name: "default", Pools: []string{"stratum+tcp://pool.example.com:3333", "backup.example.com:5555"},
						Pool: "stratum+tcp://pool.example.com:3333", Weight: 1, Goal: 1, Hashrate: [2]float64{2345.68, 2100},
						Share: 1, Estimate: 2300, Miners: 22, Up: true},
				}},
		},
		ups: []reactor.UpstreamView{
			{ID: 1, Family: reactor.FamilyCryptoNote, Mode: "nicehash", State: "active", Pool: "stratum+tcp://pool.example.com:3333", Miners: 141},
			{ID: 2, Family: reactor.FamilyCryptoNote, Mode: "nicehash", State: "retry", Pool: "backup.example.com:5555", Miners: 1},
		},
	}
}
