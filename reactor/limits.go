package reactor

import (
	"syscall"
)

// fdFixedReserve is the part of the open-files limit kept for log files,
// the HTTP API, listeners and dials in flight.
const fdFixedReserve = 64

// fdReserve is the part of the open-files limit kept for everything that
// is not a miner: the fixed reserve plus 1 % for pool connections (in
// NiceHash and aggregate modes one serves up to 256 or more miners).
func fdReserve(limit int) int { return fdFixedReserve + limit/100 }

// fdBudget is what miners and pool sessions may hold together: the
// open-files limit minus the fixed reserve. In NiceHash and aggregate modes
// the miner cap (connectionCap) binds first; in simple mode and SV1
// passthrough every miner has a pool connection of its own, and this
// budget refuses logins ("Proxy is full") before descriptors run out.
func fdBudget() int { return max(1, openFilesLimit()-fdFixedReserve) }

// connectionCap is the most miner connections the process accepts. At the
// cap new connections are refused (and counted) instead of running out of
// file descriptors: EMFILE on accept would stop the whole gnet engine.
func connectionCap(cfg *Config) int {
	limit := openFilesLimit()
	cap := limit - fdReserve(limit)
	if cfg.MaxConnections > 0 && (cfg.MaxConnections < cap || limit <= 0) {
		return cfg.MaxConnections
	}
	if cap < 1 {
		return 1
	}
	return cap
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
