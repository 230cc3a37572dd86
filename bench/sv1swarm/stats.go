package sv1swarm

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

// Stats is a snapshot of the swarm. Gauges (Waiting .. Authorized) describe
// the miners now; the rest are totals since Start. After Close the gauges
// read 0.
type Stats struct {
	// Miners is the configured number of miners.
	Miners int
	// Waiting miners are not connected and will connect: not started yet
	// (connect ramp) or waiting to follow a client.reconnect.
	Waiting int
	// Connecting miners have a TCP connect in progress.
	Connecting int
	// Connected miners have an open connection (handshaking or mining).
	Connected int
	// Subscribed miners have their subscribe answered (extranonce1 known);
	// Authorized miners also have their authorize answered: they mine.
	Subscribed, Authorized int
	// Closed counts miners whose connection ended for good (refused, timed
	// out, closed by the peer, refused authorization, protocol error). Only
	// client.reconnect makes a miner connect again.
	Closed int
	// Reconnects counts client.reconnect requests followed.
	Reconnects int64

	// Jobs counts mining.notify received; DifficultyChanges,
	// ExtranonceChanges and VersionMaskChanges the other pushes.
	Jobs, DifficultyChanges, ExtranonceChanges, VersionMaskChanges int64
	// RollingGranted counts configure answers granting version rolling;
	// ExtranonceSubscribed extranonce.subscribe answers true.
	RollingGranted, ExtranonceSubscribed int64

	// Searches counts nonce searches finished (found, exhausted or
	// abandoned) and Hashes the headers they hashed. Discarded counts
	// searches whose work was voided before their share could be sent (a
	// clean job, a new extranonce1 or version mask, a higher difficulty).
	Searches, Hashes, Discarded int64
	// SharesSent counts submits written; Accepted and Rejected count their
	// answers (an answer that never comes shows in Errors as a timeout).
	// RejectedByCode breaks Rejected down by stratum error code (0 when the
	// answer was false without an error).
	SharesSent, Accepted, Rejected int64
	RejectedByCode                 map[int]int64
	// Errors counts problems by kind: "connect: <errno text>",
	// "subscribe: <message>", "authorize: <message>", "reject: <message>",
	// "closed by peer", "timeout: connect|login|submit", "protocol: <what>",
	// "reconnect: <what>", "write: <errno text>", "read: <errno text>". At
	// most 64 kinds per loop are told apart, the rest count as "other".
	Errors map[string]int64

	// LoginLatency is connect started to authorize answered.
	LoginLatency Histogram
	// SubmitRTT is submit written to its answer received.
	SubmitRTT Histogram
	// JobLatency is, per mining.notify received, the kernel receive
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
	fmt.Fprintf(&b, "miners %d: waiting %d connecting %d connected %d subscribed %d authorized %d closed %d reconnects %d\n",
		s.Miners, s.Waiting, s.Connecting, s.Connected, s.Subscribed, s.Authorized, s.Closed, s.Reconnects)
	fmt.Fprintf(&b, "jobs %d (last %q on %d miners), searches %d (%d hashes, %d discarded)\n",
		s.Jobs, s.LastJobID, s.MinersWithLastJob, s.Searches, s.Hashes, s.Discarded)
	fmt.Fprintf(&b, "shares sent %d accepted %d rejected %d", s.SharesSent, s.Accepted, s.Rejected)
	for _, c := range slices.Sorted(maps.Keys(s.RejectedByCode)) {
		fmt.Fprintf(&b, " [%d]=%d", c, s.RejectedByCode[c])
	}
	fmt.Fprintf(&b, "\nlogin %s\nsubmit rtt %s\njob latency %s\n", s.LoginLatency, s.SubmitRTT, s.JobLatency)
	if len(s.Errors) > 0 {
		b.WriteString("errors:")
		for _, k := range slices.Sorted(maps.Keys(s.Errors)) {
			fmt.Fprintf(&b, " %q=%d", k, s.Errors[k])
		}
		b.WriteByte('\n')
	}
	return b.String()
}
