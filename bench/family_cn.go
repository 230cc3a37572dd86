package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/swarm"
)

// cnFamily is bench/mockpool plus bench/swarm (CryptoNote / XMRig).
type cnFamily struct {
	pool  *mockpool.Pool
	swarm atomic.Pointer[swarm.Swarm]
}

func startCN(o *Options, poolAddr string) (*cnFamily, error) {
	p, err := mockpool.Start(mockpool.Config{
		Addr:        poolAddr,
		RejectRatio: o.Reject,
		Seed:        1,
		Relay:       o.relayConfig(),
		// Jobs are broadcast by the harness (see jobDriver), not on a timer,
		// so that each job's fan-out can be isolated.
	})
	if err != nil {
		return nil, fmt.Errorf("cryptonote mock pool: %w", err)
	}
	return &cnFamily{pool: p}, nil
}

func (f *cnFamily) PoolAddr() string   { return f.pool.Addr() }
func (f *cnFamily) PoolFamily() string { return "cryptonote" }

func (f *cnFamily) Broadcast() (string, time.Time) {
	j := f.pool.BroadcastJob()
	at, _ := f.pool.JobSentAt(j.JobID)
	return j.JobID, at
}

func (f *cnFamily) PoolStats() poolCounts {
	s := f.pool.Stats()
	return poolCounts{
		Connections: s.Connections, Active: s.ActiveConnections, Logins: s.Logins,
		Submits: s.Submits, Accepted: s.Accepted, Rejected: s.Rejected,
		Duplicates: s.Duplicates, LowDiff: s.LowDiff, BadFormat: s.BadFormat,
		Jobs: s.JobsBroadcast,
	}
}

func (f *cnFamily) WaitPool(ctx context.Context, cond func(poolCounts) bool) error {
	return f.pool.WaitFor(ctx, func(mockpool.Stats) bool { return cond(f.PoolStats()) })
}

func (f *cnFamily) StartSwarm(ctx context.Context, proxyAddr string, o *Options) error {
	cfg := swarm.Config{
		ProxyAddr:       proxyAddr,
		Miners:          o.Miners,
		SourceIPs:       o.sourceIPs(),
		SharesPerSecond: o.Shares,
		ConnectRate:     o.Ramp,
		JobSentAt:       f.pool.JobSentAt,
		Timeout:         o.SwarmTimeout,
	}
	if o.RigIDs {
		cfg.RigIDPrefix = "bench-"
	}
	sw, err := swarm.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("miner swarm: %w", err)
	}
	f.swarm.Store(sw)
	return nil
}

func (f *cnFamily) SwarmStats() swarmCounts {
	sw := f.swarm.Load()
	if sw == nil {
		return swarmCounts{}
	}
	return cnCounts(sw.Stats())
}

func cnCounts(s swarm.Stats) swarmCounts {
	return swarmCounts{
		Miners: s.Miners, Waiting: s.Waiting, Connecting: s.Connecting, Connected: s.Connected,
		LoggedIn: s.LoggedIn, Closed: s.Closed,
		Jobs: s.Jobs, Sent: s.SharesSent, Accepted: s.Accepted, Rejected: s.Rejected,
		Errors: s.Errors, Login: s.LoginLatency, SubmitRTT: s.SubmitRTT, JobLatency: s.JobLatency,
		LastJobID: s.LastJobID, WithLastJob: s.MinersWithLastJob,
		KernelTS: s.KernelTimestamps, FallbackTS: s.FallbackTimestamps,
	}
}

func (f *cnFamily) WaitSwarm(ctx context.Context, cond func(swarmCounts) bool) error {
	sw := f.swarm.Load()
	if sw == nil {
		return errors.New("miner swarm not started")
	}
	return sw.WaitFor(ctx, func(s swarm.Stats) bool { return cond(cnCounts(s)) })
}

func (f *cnFamily) CloseSwarm() {
	if sw := f.swarm.Load(); sw != nil {
		_ = sw.Close()
	}
}

func (f *cnFamily) Close() {
	f.CloseSwarm()
	_ = f.pool.Close()
}
