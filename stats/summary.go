package stats

// Upstreams counts pool sessions by state.
type Upstreams struct {
	Active uint64 // logged in and sending work
	Sleep  uint64 // idle, kept for reuse (simple mode)
	Error  uint64 // connecting, or waiting to retry
	Total  uint64
}

// Summary is the proxy-wide picture the HTTP API and the metrics serve. It
// is a value: safe to keep and share once built.
type Summary struct {
	Counters  Counters
	Hashrate  [NumWindows]float64 // H/s; see Window60s … WindowAll
	MinersNow uint64
	MinersMax uint64 // peak since start
	Workers   uint64
	Upstreams Upstreams
	Best      Best
	// LatencyMs is the median pool answer time over recent shares.
	LatencyMs uint32
	// Uptime is in seconds.
	Uptime int64
	// WorkersDropped and WorkersEvicted report the worker table's bounds.
	WorkersDropped uint64
	WorkersEvicted uint64
}

// AvgTime returns the average seconds per accepted share (0 before the
// first one), as xmrig-proxy reports it.
func (s *Summary) AvgTime() uint64 {
	if s.Counters.Accepted == 0 {
		return 0
	}
	return uint64(s.Uptime) / s.Counters.Accepted
}
