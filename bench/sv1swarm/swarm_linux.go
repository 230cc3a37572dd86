//go:build linux

package sv1swarm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"

	"forge.lthn.ai/core/go-proxy/bench/internal/evloop"
	"forge.lthn.ai/core/go-proxy/bench/internal/notify"
)

// Swarm is a running set of simulated miners. Its methods are safe for
// concurrent use. The swarm owns its sockets, epoll instances, loop and
// search goroutines; Close (or the end of the Start context) releases them
// all.
type Swarm struct {
	cfg      Config
	g        *evloop.Group
	loops    []*loop   // written by Start only
	searcher *searcher // nil without mining; written by Start only
}

// Start validates cfg, starts the event loops and search workers and
// returns at once; miners connect in the background at cfg.ConnectRate.
// When ctx ends the swarm closes itself as if Close were called.
func Start(ctx context.Context, cfg Config) (*Swarm, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	s := &Swarm{cfg: cfg}
	s.g, err = evloop.New(evloop.Config{
		Name:            "sv1swarm",
		ProxyAddr:       cfg.ProxyAddr,
		Miners:          cfg.Miners,
		SourceIPs:       cfg.SourceIPs,
		PerSourceIP:     cfg.PerSourceIP,
		FillPerSourceIP: DefaultFillPerSourceIP,
		ConnectRate:     cfg.ConnectRate,
		WorkRate:        cfg.SharesPerSecond,
		Loops:           cfg.Loops,
		Timeout:         cfg.Timeout,
		FirstRequestID:  firstSubmitID,
		BusyRetry:       queueRetry,
		Logf:            cfg.Logf,
		// Workers may still post to the loops (and wake them) until they
		// have ended: the loops' descriptors are released only after that.
		Stopped: s.stopSearcher,
	})
	if err != nil {
		return nil, err
	}
	if cfg.SharesPerSecond > 0 {
		s.searcher = newSearcher(cfg.Workers, 2*cfg.Workers+s.g.Loops(), s.g.Stopping)
	}
	err = s.g.Start(ctx, func(ev *evloop.Loop) evloop.Handler {
		l := newLoop(s, ev)
		s.loops = append(s.loops, l)
		return l
	})
	if err != nil {
		s.stopSearcher()
		return nil, err
	}
	s.g.Logf("sv1swarm: %d miners -> %s, %d loops, %d workers, %d source addresses, %.1f shares/s",
		cfg.Miners, cfg.ProxyAddr, s.g.Loops(), cfg.Workers, s.g.SourceAddrs(), cfg.SharesPerSecond)
	return s, nil
}

// stopSearcher stops the search workers, if any, and waits for them.
func (s *Swarm) stopSearcher() {
	if s.searcher != nil {
		s.searcher.close()
	}
}

// normalize applies defaults and validates.
func (c Config) normalize() (Config, error) {
	if c.Miners < 1 {
		return c, fmt.Errorf("sv1swarm: miners = %d, need at least 1", c.Miners)
	}
	if c.PerSourceIP <= 0 {
		c.PerSourceIP = DefaultPerSourceIP
	}
	if c.User == "" {
		c.User = DefaultUser
	}
	c.Users = append([]string(nil), c.Users...)
	if c.Pass == "" {
		c.Pass = DefaultPass
	}
	if c.Agent == "" {
		c.Agent = DefaultAgent
	}
	if c.VersionMask == 0 {
		c.VersionMask = DefaultVersionMask
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.SharesPerSecond < 0 || math.IsNaN(c.SharesPerSecond) || math.IsInf(c.SharesPerSecond, 0) || c.ConnectRate < 0 {
		return c, errors.New("sv1swarm: negative or invalid rate")
	}
	if c.Workers <= 0 {
		c.Workers = max(1, runtime.GOMAXPROCS(0)/2)
	}
	return c, nil
}

// Close closes every socket and stops the loops and search workers; it
// returns when all of them have ended. Idempotent.
func (s *Swarm) Close() error {
	s.g.Close()
	return nil
}

// Stats returns a snapshot. It briefly holds every loop's lock.
func (s *Swarm) Stats() Stats {
	st := Stats{Miners: s.cfg.Miners, RejectedByCode: make(map[int]int64)}
	sn := s.g.Stats(func() {
		var newest *jobEntry
		for _, l := range s.loops {
			ls := &l.st
			st.Subscribed += ls.subscribed
			st.DifficultyChanges += ls.diffChanges
			st.ExtranonceChanges += ls.e1Changes
			st.VersionMaskChanges += ls.maskChanges
			st.RollingGranted += ls.rollingGranted
			st.ExtranonceSubscribed += ls.xsubGranted
			st.Searches += ls.searches
			st.Hashes += ls.hashes
			st.Discarded += ls.discarded
			for k, v := range ls.rejectedByCode {
				st.RejectedByCode[k] += v
			}
			if e := l.jobs.newest(); e != nil && (newest == nil || e.First > newest.First) {
				newest = e
			}
		}
		if newest != nil {
			st.LastJobID = newest.data.job.JobID
			for _, l := range s.loops {
				st.MinersWithLastJob += l.jobs.countOf(st.LastJobID)
			}
		}
	})
	st.Waiting, st.Connecting, st.Connected = sn.Waiting, sn.Connecting, sn.Connected
	st.Authorized, st.Closed, st.Reconnects = sn.Ready, sn.Closed, sn.Reconnects
	st.Jobs, st.SharesSent, st.Accepted, st.Rejected = sn.Jobs, sn.Sent, sn.Accepted, sn.Rejected
	st.Errors = sn.Errors
	st.LoginLatency, st.SubmitRTT, st.JobLatency = sn.LoginLatency, sn.SubmitRTT, sn.JobLatency
	st.KernelTimestamps, st.FallbackTimestamps = sn.KernelTimestamps, sn.FallbackTimestamps
	return st
}

// WaitFor blocks until cond holds on a fresh Stats snapshot, or ctx ends.
// cond is re-evaluated whenever a loop reports a change (at most every 5 ms
// per loop while miners are busy), never on a timer.
func (s *Swarm) WaitFor(ctx context.Context, cond func(Stats) bool) error {
	if err := notify.WaitFor(ctx, s.g.Changed(), s.Stats, cond); err != nil {
		st := s.Stats()
		return fmt.Errorf("sv1swarm: wait: %w (authorized %d/%d, accepted %d, rejected %v, errors %v)",
			err, st.Authorized, st.Miners, st.Accepted, st.RejectedByCode, st.Errors)
	}
	return nil
}
