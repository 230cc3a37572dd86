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
	Counters Counters
	// ByFamily splits Counters: index 0 holds connection-level counts that
	// belong to no family yet, 1 CryptoNote, 2 SV1 (reactor.Family values).
	ByFamily [3]Counters
	// SubmitLatency is the distribution of pool answer times.
	SubmitLatency LatencyHistogram
	// MinersByFamily counts connected miners per family (same indexes).
	MinersByFamily [3]uint64
	Hashrate       [NumWindows]float64 // H/s; see Window60s … WindowAll
	// HashrateByFamily splits Hashrate by family (same indexes as
	// ByFamily). CryptoNote and SV1 hashes are different algorithms: in a
	// mixed deployment read these, not the total.
	HashrateByFamily [3][NumWindows]float64
	MinersNow        uint64
	MinersMax        uint64 // peak since start
	Workers          uint64
	Upstreams        Upstreams
	Best             Best
	// LatencyMs is the median pool answer time over recent shares.
	LatencyMs uint32
	// Uptime is in seconds.
	Uptime int64
	// WorkersDropped and WorkersEvicted report the worker table's bounds.
	WorkersDropped uint64
	WorkersEvicted uint64
	// PoolErrors counts what pools sent wrong, by pool host:port ("other"
	// beyond a bound); nil when nothing went wrong.
	PoolErrors map[string]PoolErrors
}

// PoolErrors counts one pool's faults by reason: lines over the pool line
// limit, lines that are not a JSON object, JSON that breaks the protocol,
// refused logins (each drops the connection), and jobs the proxy could
// not use (skipped, the connection stays).
type PoolErrors struct {
	LineTooLong  uint64 `json:"line_too_long"`
	NotJSON      uint64 `json:"not_json"`
	Protocol     uint64 `json:"protocol"`
	LoginRefused uint64 `json:"login_refused"`
	InvalidJob   uint64 `json:"invalid_job"`
}

// Merge adds o into e.
func (e *PoolErrors) Merge(o *PoolErrors) {
	e.LineTooLong += o.LineTooLong
	e.NotJSON += o.NotJSON
	e.Protocol += o.Protocol
	e.LoginRefused += o.LoginRefused
	e.InvalidJob += o.InvalidJob
}

// AvgTime returns the average seconds per accepted share (0 before the
// first one), as xmrig-proxy reports it.
func (s *Summary) AvgTime() uint64 {
	if s.Counters.Accepted == 0 {
		return 0
	}
	return uint64(s.Uptime) / s.Counters.Accepted
}

// LatencyBuckets are the upper bounds, in milliseconds, of
// LatencyHistogram's buckets (the last bucket is unbounded).
var LatencyBuckets = [...]float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}

// LatencyHistogram counts pool answer times in fixed buckets: a plain
// array incremented on the event loop, exported as a Prometheus histogram
// at scrape time. The zero value is ready.
type LatencyHistogram struct {
	Counts [len(LatencyBuckets) + 1]uint64 // non-cumulative; last = +Inf
	SumMs  float64
}

// Observe records one latency in milliseconds.
func (h *LatencyHistogram) Observe(ms float64) {
	i := 0
	for i < len(LatencyBuckets) && ms > LatencyBuckets[i] {
		i++
	}
	h.Counts[i]++
	h.SumMs += ms
}

// Merge adds o into h.
func (h *LatencyHistogram) Merge(o *LatencyHistogram) {
	for i := range h.Counts {
		h.Counts[i] += o.Counts[i]
	}
	h.SumMs += o.SumMs
}

// Count returns the number of observations.
func (h *LatencyHistogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}
