package swarm

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"forge.lthn.ai/core/go-proxy/bench/internal/hist"
)

// Histogram is an immutable latency distribution with P50/P90/P99/Max/Count
// and a one-line String; see package bench/internal/hist. Safe to use from
// any goroutine.
type Histogram = hist.Histogram

// Stats is a snapshot of the swarm. Gauges (Waiting .. LoggedIn) describe
// the miners now; the rest are totals since Start. After Close the gauges
// read 0.
type Stats struct {
	// Miners is the configured number of miners.
	Miners int
	// Waiting miners have not been started yet (connect ramp).
	Waiting int
	// Connecting miners have a TCP connect in progress.
	Connecting int
	// Connected miners have an open connection (logging in or logged in).
	Connected int
	// LoggedIn miners have a session and a job: they submit shares.
	LoggedIn int
	// Closed counts miners whose connection ended (refused, timed out,
	// closed by the peer, protocol error). The swarm does not reconnect.
	Closed int

	// Jobs counts jobs received: login-reply jobs plus notifications.
	Jobs int64
	// SharesSent counts submits written; Accepted and Rejected count their
	// answers (an answer that never comes shows in Errors as a timeout).
	SharesSent, Accepted, Rejected int64
	// Errors counts problems by kind: "connect: <errno text>",
	// "login: <message>", "reject: <message>", "closed by peer",
	// "timeout: connect|login|submit", "protocol: <what>",
	// "write: <errno text>", "read: <errno text>". At most 64 kinds per loop
	// are told apart, the rest count as "other".
	Errors map[string]int64

	// LoginLatency is login written to login reply received.
	LoginLatency Histogram
	// SubmitRTT is submit written to its answer received.
	SubmitRTT Histogram
	// JobLatency is, per job notification received, the kernel receive
	// timestamp minus Config.JobSentAt(job_id). Empty without JobSentAt.
	JobLatency Histogram

	// LastJobID is the newest job id any miner has received (by first
	// arrival), and MinersWithLastJob how many miners have received it.
	LastJobID         string
	MinersWithLastJob int

	// KernelTimestamps counts reads stamped by the kernel (SO_TIMESTAMPNS);
	// FallbackTimestamps reads stamped with time.Now because no usable
	// timestamp came with the data.
	KernelTimestamps, FallbackTimestamps int64
}

// ErrorCount returns the total of Errors.
func (s Stats) ErrorCount() int64 {
	var n int64
	for _, v := range s.Errors {
		n += v
	}
	return n
}

// String renders the snapshot on a few lines for humans (go-proxy demo).
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "miners %d: waiting %d connecting %d connected %d logged-in %d closed %d\n",
		s.Miners, s.Waiting, s.Connecting, s.Connected, s.LoggedIn, s.Closed)
	fmt.Fprintf(&b, "jobs %d (last %q on %d miners), shares sent %d accepted %d rejected %d\n",
		s.Jobs, s.LastJobID, s.MinersWithLastJob, s.SharesSent, s.Accepted, s.Rejected)
	fmt.Fprintf(&b, "login %s\nsubmit rtt %s\njob latency %s\n", s.LoginLatency, s.SubmitRTT, s.JobLatency)
	if len(s.Errors) > 0 {
		b.WriteString("errors:")
		for _, k := range slices.Sorted(maps.Keys(s.Errors)) {
			fmt.Fprintf(&b, " %q=%d", k, s.Errors[k])
		}
		b.WriteByte('\n')
	}
	return b.String()
}
