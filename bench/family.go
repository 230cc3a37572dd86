package main

import (
	"context"
	"time"

	"forge.lthn.ai/core/go-proxy/bench/internal/hist"
)

// family is a mock pool and a miner swarm of one stratum family behind a
// family-neutral face, so that a run does not care which it drives.
type family interface {
	// PoolAddr is the mock pool's listen address.
	PoolAddr() string
	// PoolFamily is the proxy config's pool "family" value.
	PoolFamily() string
	// Broadcast sends a new job to every pool session now.
	Broadcast() (jobID string, sentAt time.Time)
	// PoolStats snapshots the pool's counters.
	PoolStats() poolCounts
	// WaitPool blocks until cond holds on the pool's counters, or ctx ends.
	WaitPool(ctx context.Context, cond func(poolCounts) bool) error
	// StartSwarm starts the miners against proxyAddr.
	StartSwarm(ctx context.Context, proxyAddr string, o *Options) error
	// SwarmStats snapshots the miners (zero before StartSwarm).
	SwarmStats() swarmCounts
	// WaitSwarm blocks until cond holds on the miners' counters, or ctx ends.
	WaitSwarm(ctx context.Context, cond func(swarmCounts) bool) error
	// CloseSwarm disconnects every miner; Close stops the pool as well.
	CloseSwarm()
	Close()
}

// poolCounts are a mock pool's counters. Duplicates (the same share
// twice) and Overlaps (two miners on the same SV1 coinbase) mean the
// proxy handed out overlapping nonce space: a correctness failure.
type poolCounts struct {
	Connections int   `json:"connections"`
	Active      int   `json:"active"`
	Logins      int   `json:"logins"`
	Submits     int64 `json:"submits"`
	Accepted    int64 `json:"accepted"`
	Rejected    int64 `json:"rejected"`
	Duplicates  int64 `json:"duplicates"`
	LowDiff     int64 `json:"low_diff"`
	BadFormat   int64 `json:"bad_format"`
	Stale       int64 `json:"stale"`
	Overlaps    int64 `json:"overlaps"`
	Jobs        int64 `json:"jobs"`
}

// swarmCounts is a family-neutral snapshot of a miner swarm: gauges now
// and totals since start (see bench/swarm.Stats).
type swarmCounts struct {
	Miners, Waiting, Connecting, Connected, LoggedIn, Closed int
	Jobs, Sent, Accepted, Rejected                           int64
	Errors                                                   map[string]int64
	Login, SubmitRTT, JobLatency                             hist.Histogram
	LastJobID                                                string
	WithLastJob                                              int
	KernelTS, FallbackTS                                     int64
	// Hashes counts SV1 headers hashed (0 for CryptoNote).
	Hashes int64
}

// settled reports whether every miner has logged in or given up.
func (s swarmCounts) settled() bool {
	return s.Miners > 0 && s.Waiting == 0 && s.Connecting == 0 && s.LoggedIn+s.Closed >= s.Miners
}

// errorCount returns the total of Errors.
func (s swarmCounts) errorCount() int64 {
	var n int64
	for _, v := range s.Errors {
		n += v
	}
	return n
}

// startFamily starts the mock pool of o.Family on poolAddr ("" = a random
// loopback port).
func startFamily(o *Options, poolAddr string) (family, error) {
	// Explicit nil checks: a nil *cnFamily in a family interface would not
	// compare equal to nil.
	if o.Family == familySV1 {
		f, err := startSV1(o, poolAddr)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	f, err := startCN(o, poolAddr)
	if err != nil {
		return nil, err
	}
	return f, nil
}
