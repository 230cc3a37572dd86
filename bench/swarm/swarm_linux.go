//go:build linux

package swarm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"forge.lthn.ai/core/go-proxy/bench/internal/hist"
	"forge.lthn.ai/core/go-proxy/bench/internal/notify"
)

// Swarm is a running set of simulated miners. Its methods are safe for
// concurrent use. The swarm owns its sockets, epoll instances and loop
// goroutines; Close (or the end of the Start context) releases them all.
type Swarm struct {
	cfg    Config
	family int
	// dstIP/dstPort and srcIPs are the resolved addresses; each loop builds
	// its own unix.Sockaddr values from them (x/sys writes into a Sockaddr
	// when it is used, so they must not be shared between goroutines).
	dstIP   [16]byte
	dstPort int
	srcIPs  [][4]byte
	loops   []*loop
	start   time.Time
	ready   atomic.Int64 // logged-in miners across loops (share split)
	stop    atomic.Bool
	wg      sync.WaitGroup

	changed notify.Cond
	// stampfd keeps kernel receive timestamping switched on for the
	// swarm's life (see openStampKeeper); -1 if it could not be opened.
	stampfd int

	closeOnce sync.Once
	stopCtx   func() bool
}

// Start validates cfg, starts the event loops and returns at once; miners
// connect in the background at cfg.ConnectRate. When ctx ends the swarm
// closes itself as if Close were called.
func Start(ctx context.Context, cfg Config) (*Swarm, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	s := &Swarm{cfg: cfg, start: time.Now(), stampfd: -1}
	if err := s.resolve(); err != nil {
		return nil, err
	}
	s.stampfd = openStampKeeper()
	n := cfg.Loops
	for i := 0; i < n; i++ {
		l, err := newLoop(s, i, n)
		if err != nil {
			for _, l := range s.loops {
				l.release()
			}
			closeStampKeeper(s.stampfd)
			return nil, fmt.Errorf("swarm: loop %d: %w", i, err)
		}
		s.loops = append(s.loops, l)
	}
	for _, l := range s.loops {
		s.wg.Add(1)
		go l.run()
	}
	s.stopCtx = context.AfterFunc(ctx, func() { _ = s.Close() })
	s.logf("swarm: %d miners -> %s, %d loops, %d source addresses, %.0f shares/s",
		s.cfg.Miners, s.cfg.ProxyAddr, n, len(s.cfg.SourceIPs), s.cfg.SharesPerSecond)
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
	if c.Loops <= 0 {
		c.Loops = runtime.GOMAXPROCS(0)
	}
	c.Loops = min(c.Loops, c.Miners)
	c.SourceIPs = append([]string(nil), c.SourceIPs...)
	return c, nil
}

// resolve turns ProxyAddr and SourceIPs into socket addresses, filling the
// default source addresses for a loopback proxy.
func (s *Swarm) resolve() error {
	c := &s.cfg
	addr, err := net.ResolveTCPAddr("tcp", c.ProxyAddr)
	if err != nil {
		return fmt.Errorf("swarm: proxy address %q: %w", c.ProxyAddr, err)
	}
	if ip4 := addr.IP.To4(); ip4 != nil {
		s.family = unix.AF_INET
		copy(s.dstIP[:], ip4)
		s.dstPort = addr.Port
		if len(c.SourceIPs) == 0 && ip4.IsLoopback() {
			fill := min(c.PerSourceIP, DefaultFillPerSourceIP)
			need := (c.Miners + fill - 1) / fill
			if need > 250 {
				return fmt.Errorf("swarm: %d miners need %d source addresses", c.Miners, need)
			}
			for i := 0; i < need; i++ {
				c.SourceIPs = append(c.SourceIPs, fmt.Sprintf("127.0.0.%d", i+2))
			}
		}
	} else {
		s.family = unix.AF_INET6
		copy(s.dstIP[:], addr.IP.To16())
		s.dstPort = addr.Port
		if len(c.SourceIPs) > 0 {
			return errors.New("swarm: source addresses are IPv4 only; the proxy address is IPv6")
		}
	}
	if len(c.SourceIPs) > 0 && c.Miners > len(c.SourceIPs)*c.PerSourceIP {
		return fmt.Errorf("swarm: %d miners exceed %d source addresses x %d sockets",
			c.Miners, len(c.SourceIPs), c.PerSourceIP)
	}
	for _, ipText := range c.SourceIPs {
		ip := net.ParseIP(ipText).To4()
		if ip == nil {
			return fmt.Errorf("swarm: source address %q is not IPv4", ipText)
		}
		s.srcIPs = append(s.srcIPs, [4]byte(ip))
	}
	return nil
}

// sockaddrs returns fresh socket addresses for one loop: the destination
// and one bind address per source IP.
func (s *Swarm) sockaddrs() (unix.Sockaddr, []*unix.SockaddrInet4) {
	var dst unix.Sockaddr
	if s.family == unix.AF_INET {
		sa := &unix.SockaddrInet4{Port: s.dstPort}
		copy(sa.Addr[:], s.dstIP[:4])
		dst = sa
	} else {
		dst = &unix.SockaddrInet6{Port: s.dstPort, Addr: s.dstIP}
	}
	srcs := make([]*unix.SockaddrInet4, len(s.srcIPs))
	for i, ip := range s.srcIPs {
		srcs[i] = &unix.SockaddrInet4{Addr: ip}
	}
	return dst, srcs
}

// Close closes every socket and stops the loops; it returns when all of
// them have ended. Idempotent.
func (s *Swarm) Close() error {
	s.closeOnce.Do(func() {
		s.stop.Store(true)
		for _, l := range s.loops {
			l.wake()
		}
		s.wg.Wait()
		for _, l := range s.loops {
			l.release()
		}
		closeStampKeeper(s.stampfd)
		if s.stopCtx != nil {
			s.stopCtx()
		}
		s.logf("swarm: closed")
		s.changed.Notify()
	})
	return nil
}

// Stats returns a snapshot. It briefly holds every loop's lock.
func (s *Swarm) Stats() Stats {
	st := Stats{Miners: s.cfg.Miners, Errors: make(map[string]int64)}
	for _, l := range s.loops {
		l.mu.Lock()
	}
	defer func() {
		for _, l := range s.loops {
			l.mu.Unlock()
		}
	}()
	login := make([]*hist.Recorder, 0, len(s.loops))
	rtt := make([]*hist.Recorder, 0, len(s.loops))
	job := make([]*hist.Recorder, 0, len(s.loops))
	var newest *jobEntry
	for _, l := range s.loops {
		ls := &l.st
		st.Waiting += ls.waiting
		st.Connecting += ls.connecting
		st.Connected += ls.connected
		st.LoggedIn += ls.loggedIn
		st.Closed += ls.closed
		st.Jobs += ls.jobs
		st.SharesSent += ls.sent
		st.Accepted += ls.accepted
		st.Rejected += ls.rejected
		st.KernelTimestamps += ls.kernelTS
		st.FallbackTimestamps += ls.fallbackTS
		for k, v := range ls.errors {
			st.Errors[k] += *v
		}
		login = append(login, &ls.loginLat)
		rtt = append(rtt, &ls.submitRTT)
		job = append(job, &ls.jobLat)
		if e := l.jobs.newest(); e != nil && (newest == nil || e.first > newest.first) {
			newest = e
		}
	}
	st.LoginLatency = hist.MergeRecorders(login...)
	st.SubmitRTT = hist.MergeRecorders(rtt...)
	st.JobLatency = hist.MergeRecorders(job...)
	if newest != nil {
		st.LastJobID = string(newest.id)
		for _, l := range s.loops {
			st.MinersWithLastJob += l.jobs.countOf(st.LastJobID)
		}
	}
	return st
}

// WaitFor blocks until cond holds on a fresh Stats snapshot, or ctx ends.
// cond is re-evaluated whenever a loop reports a change (at most every
// notifyInterval per loop while miners are busy), never on a timer.
func (s *Swarm) WaitFor(ctx context.Context, cond func(Stats) bool) error {
	if err := notify.WaitFor(ctx, &s.changed, s.Stats, cond); err != nil {
		st := s.Stats()
		return fmt.Errorf("swarm: wait: %w (logged in %d/%d, accepted %d, errors %v)",
			err, st.LoggedIn, st.Miners, st.Accepted, st.Errors)
	}
	return nil
}

// sinceStart returns monotonic ns since Start.
func (s *Swarm) sinceStart() int64 { return int64(time.Since(s.start)) }

func (s *Swarm) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}
