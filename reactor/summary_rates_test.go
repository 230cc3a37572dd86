package reactor

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/stats"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// TestSummary_SteadyRate_Good: with a steady 1000 H/s every window of
// /1/summary reads 1000 H/s from the start — at 30 s, 5 min and 2 h —
// whenever it is read, also between a second's end and the aggregation
// of that second (the ticker aggregates at some point inside each second).
func TestSummary_SteadyRate_Good(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := &Config{Pools: []upstream.PoolConfig{{URL: "pool:3333", User: "W"}}}
		cfg.Normalize()
		p := &Proxy{log: testLogger(), loops: 1}
		p.cfg.Store(cfg)
		s := newShard(p, nil, 0, cfg)
		p.shards.Store(&[]*shard{s})
		time.Sleep(600 * time.Millisecond) // the ticker's phase: .6 s into each second
		p.agg.start = time.Now().Unix()
		base := time.Now()
		var hashes float64
		check := map[int]bool{30: true, 300: true, 7200: true}
		for sec := 1; sec <= 7200; sec++ {
			time.Sleep(time.Until(base.Add(time.Duration(sec) * time.Second)))
			hashes += 1000
			var c [3]stats.Counters
			c[FamilyCryptoNote].Hashes = hashes
			s.pub.Store(&published{counters: c})
			p.aggregate(time.Now().Unix())
			if !check[sec] {
				continue
			}
			// Read inside this second, then early in the next one, before
			// the ticker has aggregated it.
			for _, pause := range []time.Duration{200 * time.Millisecond, 700 * time.Millisecond} {
				time.Sleep(pause)
				sum := p.Summary()
				for w, h := range sum.Hashrate {
					require.InEpsilon(t, 1000, h, 0.01, "at %d s (%v) window %d: %v", sec, time.Since(base), w, sum.Hashrate)
				}
			}
		}
	})
}
