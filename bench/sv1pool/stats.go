package sv1pool

import (
	"context"

	"forge.lthn.ai/core/go-proxy/bench/internal/poolserver"
)

// Stats is a snapshot of the pool's counters. Counters only grow, except
// ActiveConnections.
type Stats struct {
	// Connections is the number of connections accepted so far;
	// ActiveConnections the number open now; Subscribes the number of
	// connections that subscribed; Authorizes the number of successful
	// mining.authorize requests.
	Connections, ActiveConnections, Subscribes, Authorizes int
	// Submits counts every submit request. Accepted and Rejected count the
	// answers (true / error). Stale (21), Duplicates (22), LowDiff (23),
	// BadFormat (20: malformed fields, version bits outside the mask, ntime
	// out of range) and Unauthorized (24, 25) break the rejections down;
	// RejectRatio rejections count in Rejected only.
	Submits, Accepted, Rejected int64
	// AcceptedDiff sums the share difficulty (the target in force) of the
	// accepted shares: the work the pool credits, in difficulty-1 shares.
	AcceptedDiff                                        float64
	Stale, Duplicates, LowDiff, BadFormat, Unauthorized int64
	// Overlaps counts shares that met their target on a coinbase (job and
	// full extranonce) a different miner had already used; see
	// Pool.Overlaps.
	Overlaps int64
	// Untracked counts shares that met their target but were not recorded
	// for duplicate and overlap checks because their job already held
	// maxSharesPerJob (2^20) shares.
	Untracked int64
	// Requests counts every non-blank line received, whatever the
	// behaviour (a Silent pool counts what it ignores).
	Requests int64
	// JobsBroadcast counts jobs pushed after the first: BroadcastJob calls
	// (automatic or explicit) and the jobs that follow SetExtranonce.
	JobsBroadcast int64
}

// Session is a snapshot of one subscribed connection. Connections that
// have closed stay listed with Connected false (the most recent 4096
// subscribed connections are kept).
type Session struct {
	// ID is the subscription id sent in the subscribe reply; RemoteAddr the
	// peer's ip:port; UserAgent the subscribe's user agent.
	ID, RemoteAddr, UserAgent string
	// User is the first authorized user, "" before any; Users all of them
	// (at most 64), in order.
	User  string
	Users []string
	// Extranonce1 is the connection's current extranonce1 (hex);
	// Extranonce2Size the extranonce2 size announced.
	Extranonce1     string
	Extranonce2Size int
	// ExtranonceSubscribed: the connection asked for mining.set_extranonce
	// (mining.extranonce.subscribe or configure subscribe-extranonce).
	ExtranonceSubscribed bool
	// VersionRolling: version rolling was granted, with VersionMask.
	VersionRolling bool
	VersionMask    uint32
	// Difficulty is the connection's share difficulty (0 until its first
	// job); SuggestedDifficulty the last mining.suggest_difficulty
	// (recorded, not applied).
	Difficulty, SuggestedDifficulty float64
	// Submits, Accepted and Rejected count this connection's shares.
	Submits, Accepted, Rejected int64
	Connected                   bool
}

// Stats returns a snapshot of the counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats
	st.Connections, st.ActiveConnections = p.srv.Counts()
	return st
}

// Sessions returns a snapshot of the subscribed connections, oldest first.
func (p *Pool) Sessions() []Session { return poolserver.Snapshots(p.srv, (*session).snapshot) }

// Overlaps describes the shares counted in Stats.Overlaps (the first 256):
// each names the job, the full extranonce (extranonce1 ‖ extranonce2, hex)
// and the two miner keys (Config.MinerKey) that worked on the same
// coinbase. Two miners behind a proxy that gives them overlapping
// extranonce space show up here when the pool can tell them apart (by
// worker name with the default key, or by the test's own MinerKey); when
// it cannot, their identical searches show up as Stats.Duplicates.
func (p *Pool) Overlaps() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.overlaps...)
}

// WaitFor blocks until cond holds on a fresh Stats snapshot, or ctx ends.
// cond is re-evaluated after every change of the pool's state, never on a
// timer.
func (p *Pool) WaitFor(ctx context.Context, cond func(Stats) bool) error {
	return poolserver.WaitFor(ctx, p.srv, p.Stats, cond)
}

// update applies f to the counters under the pool lock and wakes waiters.
func (p *Pool) update(f func(*Stats)) {
	p.mu.Lock()
	f(&p.stats)
	p.mu.Unlock()
	p.srv.Notify()
}
