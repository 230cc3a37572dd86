package reactor

import "forge.lthn.ai/core/go-proxy/upstream"

// Pool session limits. max-upstreams caps the pool connections of the
// whole process: a positive value is the cap, UnlimitedUpstreams (-1)
// leaves only the descriptor budget, and 0 (the default) derives the cap
// from the miner connection cap and the modes in use (autoUpstreams).

// UnlimitedUpstreams is the max-upstreams value for "no cap but the
// descriptor budget".
const UnlimitedUpstreams = -1

// upstreamLimit returns the most pool sessions the proxy may hold now;
// 0 means no limit. Safe from any goroutine.
func (p *Proxy) upstreamLimit() int64 {
	cfg := p.cfg.Load()
	switch {
	case cfg.MaxUpstreams > 0:
		return int64(cfg.MaxUpstreams)
	case cfg.MaxUpstreams < 0:
		return 0
	}
	return int64(autoUpstreams(cfg, int(p.maxConns), p.loops))
}

// autoUpstreams is the automatic max-upstreams for conns miner
// connections on loops event loops, summed over the families in use:
//
//   - sessions shared by miners (CryptoNote nicehash, SV1 aggregate): one
//     per loop, plus two per 256 miners — a session serves 256 miners
//     (nicehash, or an SV1 pool leaving 4–5 extranonce2 bytes), and a slot
//     a miner leaves stays dead until the pool's next job, so churn needs
//     about as many again;
//   - one session per miner (CryptoNote simple, SV1 passthrough): conns.
//
// So 10,000 logins in a few seconds from one address open at most a
// handful of pool connections, not one per 256 logins. An SV1 pool that
// leaves fewer than 4 extranonce2 bytes needs a session per miner in
// aggregate mode too: set max-upstreams to -1 or a number for it.
func autoUpstreams(cfg *Config, conns, loops int) int {
	var cn, sv1 bool
	for i := range cfg.Pools {
		if !cfg.Pools[i].IsEnabled() {
			continue
		}
		if cfg.Pools[i].FamilyOrDefault() == upstream.SV1 {
			sv1 = true
		} else {
			cn = true
		}
	}
	shared := max(loops, 1) + 2*((max(conns, 0)+255)/256)
	n := 0
	if cn {
		if cfg.Mode == "simple" {
			n += conns
		} else {
			n += shared
		}
	}
	if cfg.SV1Mode == "passthrough" {
		n += conns
	} else if sv1 {
		n += shared
	}
	return max(n, 1)
}
