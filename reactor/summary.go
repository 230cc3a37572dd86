package reactor

import (
	"sync"
	"time"

	"forge.lthn.ai/core/go-proxy/stats"
)

// aggregate is the proxy-wide statistics state, updated once a second on
// the ticker goroutine from what the shards published.
type aggregate struct {
	mu        sync.Mutex
	start     int64
	windows   [3]stats.Windows // per Family
	lastHash  [3]float64
	minersMax uint64
	// lastAt is the unix second of the newest aggregate: the windows are
	// read there, never at a second whose hashes are not in yet (that
	// empty second read low, and lower in the short windows than in the
	// long ones).
	lastAt int64
}

// aggregate folds the shards' latest publications into the global
// hashrate windows (ticker goroutine).
func (p *Proxy) aggregate(now int64) {
	var hashes [3]float64
	var miners uint64
	for _, s := range p.shardList() {
		if pub := s.pub.Load(); pub != nil {
			for i := range pub.counters {
				hashes[i] += pub.counters[i].Hashes
			}
			miners += pub.miners
		}
	}
	a := &p.agg
	a.mu.Lock()
	for f := range hashes {
		a.windows[f].Add(now, max(hashes[f]-a.lastHash[f], 0))
		a.lastHash[f] = hashes[f]
	}
	a.minersMax = max(a.minersMax, miners)
	a.lastAt = now
	a.mu.Unlock()
}

// Summary returns the proxy-wide statistics as of the last second. It
// never waits for an event loop. Safe for concurrent use.
func (p *Proxy) Summary() stats.Summary {
	var sum stats.Summary
	var lat []uint32
	for _, s := range p.shardList() {
		pub := s.pub.Load()
		if pub == nil {
			continue
		}
		for i := range pub.counters {
			sum.Counters.Merge(&pub.counters[i])
			sum.ByFamily[i].Merge(&pub.counters[i])
			sum.MinersByFamily[i] += pub.byFamily[i]
		}
		sum.SubmitLatency.Merge(&pub.hist)
		sum.Best.Merge(&pub.best)
		lat = append(lat, pub.latency...)
		sum.MinersNow += pub.miners
		sum.WorkersDropped += pub.dropped
		sum.WorkersEvicted += pub.evicted
		sum.Upstreams.Active += pub.upstreams.Active
		sum.Upstreams.Sleep += pub.upstreams.Sleep
		sum.Upstreams.Error += pub.upstreams.Error
		sum.Upstreams.Total += pub.upstreams.Total
		for pool, e := range pub.poolErrs {
			if sum.PoolErrors == nil {
				sum.PoolErrors = map[string]stats.PoolErrors{}
			}
			t := sum.PoolErrors[pool]
			t.Merge(&e)
			sum.PoolErrors[pool] = t
		}
	}
	// Distinct names: a worker with miners on several loops counts once.
	sum.Workers = p.workerNames.len()
	sum.LatencyMs = stats.Median(lat)
	// refused counts only the cap (and shutdown) refusals: the total is
	// built from one load of each counter, so every part of it, and the
	// cap share /metrics derives from it, only ever grows.
	rl, bn, un := p.rateLimited.Load(), p.banned.Load(), p.proxyUntrusted.Load()
	sum.Counters.Refused += p.refused.Load() + rl + bn + un
	sum.Counters.RateLimited += rl
	sum.Counters.Banned += bn
	sum.Counters.ProxyUntrusted += un
	sum.Counters.BadLines += p.badHeaders.Load()
	now := time.Now().Unix()
	a := &p.agg
	a.mu.Lock()
	at := now
	if a.lastAt > 0 {
		at = a.lastAt
	}
	for f := range a.windows {
		sum.HashrateByFamily[f] = a.windows[f].Rates(at)
		for w, h := range sum.HashrateByFamily[f] {
			sum.Hashrate[w] += h
		}
	}
	sum.MinersMax = max(a.minersMax, sum.MinersNow)
	sum.Uptime = now - a.start
	a.mu.Unlock()
	return sum
}
