package reactor

import (
	"syscall"
)

// fdReserve is the part of the open-files limit kept for everything that
// is not a miner: pool connections, log files, the HTTP API, listeners.
func fdReserve(limit int) int { return 64 + limit/100 }

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
