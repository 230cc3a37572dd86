//go:build linux

package swarm

import (
	"context"
	"errors"
	"fmt"

	"forge.lthn.ai/core/go-proxy/bench/internal/evloop"
	"forge.lthn.ai/core/go-proxy/bench/internal/notify"
)

// Swarm is a running set of simulated miners. Its methods are safe for
// concurrent use. The swarm owns its sockets, epoll instances and loop
// goroutines; Close (or the end of the Start context) releases them all.
type Swarm struct {
	cfg   Config
	g     *evloop.Group
	loops []*loop // written by Start only
}

// Start validates cfg, starts the event loops and returns at once; miners
// connect in the background at cfg.ConnectRate. When ctx ends the swarm
// closes itself as if Close were called.
func Start(ctx context.Context, cfg Config) (*Swarm, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	g, err := evloop.New(evloop.Config{
		Name:            "swarm",
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
		KeepTimestamps:  true,
		Logf:            cfg.Logf,
	})
	if err != nil {
		return nil, err
	}
	s := &Swarm{cfg: cfg, g: g}
	err = g.Start(ctx, func(ev *evloop.Loop) evloop.Handler {
		l := newLoop(s, ev)
		s.loops = append(s.loops, l)
		return l
	})
	if err != nil {
		return nil, err
	}
	g.Logf("swarm: %d miners -> %s, %d loops, %d source addresses, %.0f shares/s",
		cfg.Miners, cfg.ProxyAddr, g.Loops(), g.SourceAddrs(), cfg.SharesPerSecond)
	return s, nil
}

// normalize applies defaults and validates.
func (c Config) normalize() (Config, error) {
	if c.Miners < 1 {
		return c, fmt.Errorf("swarm: miners = %d, need at least 1", c.Miners)
	}
	if c.PerSourceIP <= 0 {
		c.PerSourceIP = DefaultPerSourceIP
	}
	if c.Login == "" {
		c.Login = DefaultLogin
	}
	if c.Pass == "" {
		c.Pass = DefaultPass
	}
	if c.Agent == "" {
		c.Agent = DefaultAgent
	}
	if len(c.Algos) == 0 {
		c.Algos = []string{DefaultAlgo}
	} else {
		c.Algos = append([]string(nil), c.Algos...)
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.SharesPerSecond < 0 || c.ConnectRate < 0 {
		return c, errors.New("swarm: negative rate")
	}
	return c, nil
}

// Close closes every socket and stops the loops; it returns when all of
// them have ended. Idempotent.
func (s *Swarm) Close() error {
	s.g.Close()
	return nil
}

// Stats returns a snapshot. It briefly holds every loop's lock.
func (s *Swarm) Stats() Stats {
	var (
		lastJobID string
		onLastJob int
	)
	sn := s.g.Stats(func() {
		var newest *jobEntry
		for _, l := range s.loops {
			if e := l.jobs.newest(); e != nil && (newest == nil || e.First > newest.First) {
				newest = e
			}
		}
		if newest != nil {
			lastJobID = string(newest.id)
			for _, l := range s.loops {
				onLastJob += l.jobs.countOf(lastJobID)
			}
		}
	})
	return Stats{
		Miners:     s.cfg.Miners,
		Waiting:    sn.Waiting,
		Connecting: sn.Connecting,
		Connected:  sn.Connected,
		LoggedIn:   sn.Ready,
		Closed:     sn.Closed,

		Jobs:       sn.Jobs,
		SharesSent: sn.Sent,
		Accepted:   sn.Accepted,
		Rejected:   sn.Rejected,
		Errors:     sn.Errors,

		LoginLatency: sn.LoginLatency,
		SubmitRTT:    sn.SubmitRTT,
		JobLatency:   sn.JobLatency,

		LastJobID:         lastJobID,
		MinersWithLastJob: onLastJob,

		KernelTimestamps:   sn.KernelTimestamps,
		FallbackTimestamps: sn.FallbackTimestamps,
	}
}

// WaitFor blocks until cond holds on a fresh Stats snapshot, or ctx ends.
// cond is re-evaluated whenever a loop reports a change (at most every 5 ms
// per loop while miners are busy), never on a timer.
func (s *Swarm) WaitFor(ctx context.Context, cond func(Stats) bool) error {
	if err := notify.WaitFor(ctx, s.g.Changed(), s.Stats, cond); err != nil {
		st := s.Stats()
		return fmt.Errorf("swarm: wait: %w (logged in %d/%d, accepted %d, errors %v)",
			err, st.LoggedIn, st.Miners, st.Accepted, st.Errors)
	}
	return nil
}
