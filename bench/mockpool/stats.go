package mockpool

import (
	"context"

	"forge.lthn.ai/core/go-proxy/bench/internal/poolserver"
)

// Stats is a snapshot of the pool's counters. Counters only grow, except
// ActiveConnections.
type Stats struct {
	// Connections is the number of connections accepted so far;
	// ActiveConnections the number open now; Logins the number of successful
	// logins (a connection that logs in twice counts once).
	Connections, ActiveConnections, Logins int
	// Submits counts every submit request. Accepted and Rejected count the
	// answers (OK / error). Duplicates, LowDiff and BadFormat break some of
	// the rejections down: Duplicates is the same (session, job id, nonce)
	// seen twice, LowDiff a result below the job difficulty, BadFormat a
	// submit failing stratum.Params.ValidateSubmit. Unauthenticated, stale
	// job ids and RejectRatio rejections count in Rejected only.
	Submits, Accepted, Rejected, Duplicates, LowDiff, BadFormat int64
	// AcceptedDiff sums the difficulty of the accepted shares' jobs: the
	// work the pool credits (hashes, for CryptoNote).
	AcceptedDiff float64
	// Requests counts every non-blank line received, whatever the
	// behaviour (a Silent pool counts what it ignores).
	Requests int64
	// Keepalives counts keepalived requests answered.
	Keepalives int64
	// JobsBroadcast counts BroadcastJob calls (automatic or explicit).
	JobsBroadcast int64
}

// Session is a snapshot of one logged-in session. Sessions that have
// disconnected stay listed with Connected false (the most recent 4096
// sessions are kept).
type Session struct {
	ID, RemoteAddr            string
	Login, Pass, Agent, RigID string
	Algos                     []string
	Submits, Accepted         int64
	Connected                 bool
}

// Stats returns a snapshot of the counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats
	st.Connections, st.ActiveConnections = p.srv.Counts()
	return st
}

// Sessions returns a snapshot of the logged-in sessions, oldest first.
func (p *Pool) Sessions() []Session { return poolserver.Snapshots(p.srv, (*session).snapshot) }

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
