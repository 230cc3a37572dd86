package stats

// Counters are the cumulative counts of one event loop (shard). The loop
// that owns a Counters value is its only writer; other goroutines read
// copies the loop publishes (see the reactor). Merge adds shards together.
type Counters struct {
	// Shares answered by the pool.
	Accepted uint64 // accepted by the pool
	Rejected uint64 // rejected by the pool
	// Invalid counts shares rejected by the proxy itself (bad nonce, unknown
	// job, low difficulty, duplicate, no pool).
	Invalid uint64
	// Expired counts shares forwarded for the previous job.
	Expired uint64
	// Hashes estimates the hashes behind accepted shares: a CryptoNote
	// share of difficulty d is d hashes, an SV1 share d·2^32/divider.
	// Hashrate is Hashes per second.
	Hashes float64
	// DiffSum is the plain sum of accepted share difficulties.
	DiffSum float64
	// CustomAccepted counts shares answered OK locally because they met the
	// miner's custom difficulty but not the pool's; CustomHashes sums them.
	CustomAccepted uint64
	CustomHashes   float64
	// Timeouts counts shares whose pool answer never came in time.
	Timeouts uint64
	// Throttled counts submits refused by the per-miner share rate limit
	// (not handled, so not in Invalid).
	Throttled uint64
	// Held counts the times a miner's input was paused because its pool
	// connection was slow to drain.
	Held uint64

	// Connections counts miner connections accepted, ever.
	Connections uint64
	// Refused counts connections refused at accept: connection cap,
	// rate limit, ban, a PROXY-protocol bind reached from outside
	// proxy-protocol-from (ProxyUntrusted), shutting down.
	Refused        uint64
	RateLimited    uint64
	Banned         uint64
	ProxyUntrusted uint64
	// SlowClosed counts miners closed because they stopped reading.
	SlowClosed uint64
	// BadLines counts connections closed for oversize or non-JSON lines.
	BadLines uint64
	// LoginTimeouts and IdleTimeouts count connections closed by the sweep.
	LoginTimeouts uint64
	IdleTimeouts  uint64
	// FloodClosed counts miners closed for exceeding the share rate limit
	// persistently; HeldClosed miners closed for buffering too much while
	// held.
	FloodClosed uint64
	HeldClosed  uint64

	// PoolConnects counts pool logins that succeeded; PoolFailures pool
	// connections that failed or were dropped (connect error, refused
	// login, pin mismatch, silence, garbage, disconnect).
	PoolConnects uint64
	PoolFailures uint64

	// BytesIn and BytesOut count miner traffic.
	BytesIn  uint64
	BytesOut uint64
}

// Merge adds o into c.
func (c *Counters) Merge(o *Counters) {
	c.Accepted += o.Accepted
	c.Rejected += o.Rejected
	c.Invalid += o.Invalid
	c.Expired += o.Expired
	c.Hashes += o.Hashes
	c.DiffSum += o.DiffSum
	c.CustomAccepted += o.CustomAccepted
	c.CustomHashes += o.CustomHashes
	c.Timeouts += o.Timeouts
	c.Throttled += o.Throttled
	c.Held += o.Held
	c.Connections += o.Connections
	c.Refused += o.Refused
	c.RateLimited += o.RateLimited
	c.Banned += o.Banned
	c.ProxyUntrusted += o.ProxyUntrusted
	c.SlowClosed += o.SlowClosed
	c.BadLines += o.BadLines
	c.LoginTimeouts += o.LoginTimeouts
	c.IdleTimeouts += o.IdleTimeouts
	c.FloodClosed += o.FloodClosed
	c.HeldClosed += o.HeldClosed
	c.PoolConnects += o.PoolConnects
	c.PoolFailures += o.PoolFailures
	c.BytesIn += o.BytesIn
	c.BytesOut += o.BytesOut
}
