package reactor

import (
	"syscall"
)

// Descriptor budget. Every descriptor the process opens comes out of the
// open-files limit (RLIMIT_NOFILE), and Start splits that limit once:
//
//   - a fixed reserve for everything that is neither a miner nor a pool
//     session: fdBase (stdio, the Go runtime's poller, the access and share
//     logs, config file reads, the account store, DNS lookups), fdPerLoop
//     per event loop (gnet's epoll and wake descriptors and its internal
//     listener, and the two ends of the fan-out's wake-up pair,
//     fanout.go), one listener per bind, the HTTP API (its listener, at most
//     http.max-connections connections and one being refused), and the
//     miner connections being handed to a loop (enrollBacklog and
//     enrollReapers, plus one per bind), each of which holds two
//     descriptors for a moment;
//   - the rest, shared by miners (plain and TLS) and pool sessions: a new
//     miner or pool session that would exceed it is refused (admit,
//     overBudget, reserveUpstream);
//   - of which miners may hold all but 1 % of the limit, kept for pool
//     sessions (max-connections lowers it further).
//
// The split never changes while the proxy runs: settings it depends on
// (binds, event-loops, max-connections, http.enabled and
// http.max-connections) need a restart.
const (
	fdBase    = 48
	fdPerLoop = 5
)

// fdPlan is the descriptor budget of one Start.
type fdPlan struct {
	Limit    int // RLIMIT_NOFILE
	Reserved int // everything but miners and pool sessions
	Shared   int // miners and pool sessions together
	Miners   int // the connection cap
}

// planDescriptors splits limit for cfg with the given number of event
// loops. The shared part and the cap are at least 1 (a limit too low for
// the reserve still serves one miner; Start warns).
func planDescriptors(cfg *Config, limit, loops int) fdPlan {
	binds := len(cfg.Bind)
	reserved := fdBase + fdPerLoop*loops + binds + enrollBacklog + enrollReapers + binds
	if cfg.HTTP.Enabled {
		reserved += 2 + cfg.HTTP.MaxConnections
	}
	pl := fdPlan{Limit: limit, Reserved: reserved}
	pl.Shared = max(1, limit-reserved)
	pl.Miners = max(1, pl.Shared-limit/100)
	if cfg.MaxConnections > 0 && cfg.MaxConnections < pl.Miners {
		pl.Miners = cfg.MaxConnections
	}
	return pl
}

// openFilesLimit returns RLIMIT_NOFILE's soft limit, raised to the hard
// limit when allowed.
func openFilesLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	if rl.Cur < rl.Max {
		want := rl
		want.Cur = rl.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) == nil {
			rl = want
		}
	}
	if rl.Cur > 1<<24 {
		return 1 << 24
	}
	return int(rl.Cur)
}
