package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/sv1swarm"
)

// sv1Family is bench/sv1pool plus bench/sv1swarm (Bitcoin-family stratum
// v1, real sha256d shares).
type sv1Family struct {
	pool  *sv1pool.Pool
	swarm atomic.Pointer[sv1swarm.Swarm]
}

func startSV1(o *Options, poolAddr string) (*sv1Family, error) {
	p, err := sv1pool.Start(sv1pool.Config{
		Addr:           poolAddr,
		Difficulty:     o.SV1Diff,
		VersionRolling: true,
		RejectRatio:    o.Reject,
		Seed:           1,
		Relay:          o.relayConfig(),
	})
	if err != nil {
		return nil, fmt.Errorf("sv1 mock pool: %w", err)
	}
	return &sv1Family{pool: p}, nil
}

func (f *sv1Family) PoolAddr() string   { return f.pool.Addr() }
func (f *sv1Family) PoolFamily() string { return "sv1" }

func (f *sv1Family) Broadcast() (string, time.Time) {
	j := f.pool.BroadcastJob(false)
	at, _ := f.pool.JobSentAt(j.JobID)
	return j.JobID, at
}

func (f *sv1Family) PoolStats() poolCounts {
	s := f.pool.Stats()
	return poolCounts{
		Connections: s.Connections, Active: s.ActiveConnections, Logins: s.Authorizes,
		Submits: s.Submits, Accepted: s.Accepted, Rejected: s.Rejected,
		Duplicates: s.Duplicates, LowDiff: s.LowDiff, BadFormat: s.BadFormat,
		Stale: s.Stale, Overlaps: s.Overlaps, Jobs: s.JobsBroadcast,
	}
}

func (f *sv1Family) WaitPool(ctx context.Context, cond func(poolCounts) bool) error {
	return f.pool.WaitFor(ctx, func(sv1pool.Stats) bool { return cond(f.PoolStats()) })
}

func (f *sv1Family) StartSwarm(ctx context.Context, proxyAddr string, o *Options) error {
	cfg := sv1swarm.Config{
		ProxyAddr:           proxyAddr,
		Miners:              o.Miners,
		SourceIPs:           o.sourceIPs(),
		SharesPerSecond:     o.Shares,
		Workers:             o.SV1Workers,
		ConnectRate:         o.Ramp,
		JobSentAt:           f.pool.JobSentAt,
		VersionRolling:      true,
		ExtranonceSubscribe: true,
		Timeout:             o.SwarmTimeout,
	}
	if o.RigIDs {
		cfg.WorkerPrefix = "rig"
	}
	sw, err := sv1swarm.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("sv1 miner swarm: %w", err)
	}
	f.swarm.Store(sw)
	return nil
}

func (f *sv1Family) SwarmStats() swarmCounts {
	sw := f.swarm.Load()
	if sw == nil {
		return swarmCounts{}
	}
	return sv1Counts(sw.Stats())
}

func sv1Counts(s sv1swarm.Stats) swarmCounts {
	return swarmCounts{
		Miners: s.Miners, Waiting: s.Waiting, Connecting: s.Connecting, Connected: s.Connected,
		LoggedIn: s.Authorized, Closed: s.Closed,
		Jobs: s.Jobs, Sent: s.SharesSent, Accepted: s.Accepted, Rejected: s.Rejected,
		Errors: s.Errors, Login: s.LoginLatency, SubmitRTT: s.SubmitRTT, JobLatency: s.JobLatency,
		LastJobID: s.LastJobID, WithLastJob: s.MinersWithLastJob,
		KernelTS: s.KernelTimestamps, FallbackTS: s.FallbackTimestamps,
		Hashes: s.Hashes,
	}
}

func (f *sv1Family) WaitSwarm(ctx context.Context, cond func(swarmCounts) bool) error {
	sw := f.swarm.Load()
	if sw == nil {
		return errors.New("sv1 miner swarm not started")
	}
	return sw.WaitFor(ctx, func(s sv1swarm.Stats) bool { return cond(sv1Counts(s)) })
}

func (f *sv1Family) CloseSwarm() {
	if sw := f.swarm.Load(); sw != nil {
		_ = sw.Close()
	}
}

func (f *sv1Family) Close() {
	f.CloseSwarm()
	_ = f.pool.Close()
}
