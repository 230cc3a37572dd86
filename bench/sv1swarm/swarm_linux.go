//go:build linux

package sv1swarm

import (
	"context"
	"errors"
	"fmt"
	"math"
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
// concurrent use. The swarm owns its sockets, epoll instances, loop and
// search goroutines; Close (or the end of the Start context) releases them
// all.
type Swarm struct {
	cfg    Config
	family int
	// dstIP/dstPort and srcIPs are the resolved addresses; each loop builds
	// its own unix.Sockaddr values from them (x/sys writes into a Sockaddr
	// when it is used, so they must not be shared between goroutines).
	dstIP    [16]byte
	dstPort  int
	srcIPs   [][4]byte
	loops    []*loop
	searcher *searcher // nil without mining
	start    time.Time
	ready    atomic.Int64 // authorized miners across loops (rate split)
	stop     atomic.Bool
	wg       sync.WaitGroup

	changed notify.Cond

	closeOnce sync.Once
	stopCtx   func() bool
}

// Start validates cfg, starts the event loops and search workers and
// returns at once; miners connect in the background at cfg.ConnectRate.
// When ctx ends the swarm closes itself as if Close were called.
func Start(ctx context.Context, cfg Config) (*Swarm, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	s := &Swarm{cfg: cfg, start: time.Now()}
	if err := s.resolve(); err != nil {
		return nil, err
	}
	n := cfg.Loops
	for i := 0; i < n; i++ {
		l, err := newLoop(s, i, n)
		if err != nil {
			for _, l := range s.loops {
				l.release()
			}
			return nil, fmt.Errorf("sv1swarm: loop %d: %w", i, err)
		}
		s.loops = append(s.loops, l)
	}
	if cfg.SharesPerSecond > 0 {
		s.searcher = newSearcher(cfg.Workers, 2*cfg.Workers+n, &s.stop)
	}
	for _, l := range s.loops {
		s.wg.Add(1)
		go l.run()
	}
	s.stopCtx = context.AfterFunc(ctx, func() { _ = s.Close() })
	s.logf("sv1swarm: %d miners -> %s, %d loops, %d workers, %d source addresses, %.1f shares/s",
		cfg.Miners, cfg.ProxyAddr, n, cfg.Workers, len(cfg.SourceIPs), cfg.SharesPerSecond)
	return s, nil
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
		return fmt.Errorf("sv1swarm: proxy address %q: %w", c.ProxyAddr, err)
	}
	if ip4 := addr.IP.To4(); ip4 != nil {
		s.family = unix.AF_INET
		copy(s.dstIP[:], ip4)
		s.dstPort = addr.Port
		if len(c.SourceIPs) == 0 && ip4.IsLoopback() {
			fill := min(c.PerSourceIP, DefaultFillPerSourceIP)
			need := (c.Miners + fill - 1) / fill
			if need > 250 {
				return fmt.Errorf("sv1swarm: %d miners need %d source addresses", c.Miners, need)
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
			return errors.New("sv1swarm: source addresses are IPv4 only; the proxy address is IPv6")
		}
	}
	if len(c.SourceIPs) > 0 && c.Miners > len(c.SourceIPs)*c.PerSourceIP {
		return fmt.Errorf("sv1swarm: %d miners exceed %d source addresses x %d sockets",
			c.Miners, len(c.SourceIPs), c.PerSourceIP)
	}
	for _, ipText := range c.SourceIPs {
		ip := net.ParseIP(ipText).To4()
		if ip == nil {
			return fmt.Errorf("sv1swarm: source address %q is not IPv4", ipText)
		}
		s.srcIPs = append(s.srcIPs, [4]byte(ip))
	}
	return nil
}

// sockaddrs returns fresh socket addresses for one loop: the destination
// and one bind address per source IP.
func (s *Swarm) sockaddrs() (dest, []*unix.SockaddrInet4) {
	var d dest
	if s.family == unix.AF_INET {
		sa := &unix.SockaddrInet4{Port: s.dstPort}
		copy(sa.Addr[:], s.dstIP[:4])
		d = dest{sa: sa, family: unix.AF_INET, ip: net.IP(s.dstIP[:4]).String(), port: s.dstPort, bind: true}
	} else {
		d = dest{sa: &unix.SockaddrInet6{Port: s.dstPort, Addr: s.dstIP}, family: unix.AF_INET6,
			ip: net.IP(s.dstIP[:]).String(), port: s.dstPort}
	}
	srcs := make([]*unix.SockaddrInet4, len(s.srcIPs))
	for i, ip := range s.srcIPs {
		srcs[i] = &unix.SockaddrInet4{Addr: ip}
	}
	return d, srcs
}

// Close closes every socket and stops the loops and search workers; it
// returns when all of them have ended. Idempotent.
func (s *Swarm) Close() error {
	s.closeOnce.Do(func() {
		s.stop.Store(true)
		for _, l := range s.loops {
			l.wake()
		}
		s.wg.Wait()
		// Workers may still post to the loops (and wake them) until they
		// have ended: release the loops' descriptors only after that.
		if s.searcher != nil {
			s.searcher.close()
		}
		for _, l := range s.loops {
			l.release()
		}
		if s.stopCtx != nil {
			s.stopCtx()
		}
		s.logf("sv1swarm: closed")
		s.changed.Notify()
	})
	return nil
}

// Stats returns a snapshot. It briefly holds every loop's lock.
func (s *Swarm) Stats() Stats {
	st := Stats{Miners: s.cfg.Miners, Errors: make(map[string]int64), RejectedByCode: make(map[int]int64)}
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
		st.Subscribed += ls.subscribed
		st.Authorized += ls.authorized
		st.Closed += ls.closed
		st.Reconnects += ls.reconnects
		st.Jobs += ls.jobs
		st.DifficultyChanges += ls.diffChanges
		st.ExtranonceChanges += ls.e1Changes
		st.VersionMaskChanges += ls.maskChanges
		st.RollingGranted += ls.rollingGranted
		st.ExtranonceSubscribed += ls.xsubGranted
		st.Searches += ls.searches
		st.Hashes += ls.hashes
		st.Discarded += ls.discarded
		st.SharesSent += ls.sent
		st.Accepted += ls.accepted
		st.Rejected += ls.rejected
		st.KernelTimestamps += ls.kernelTS
		st.FallbackTimestamps += ls.fallbackTS
		for k, v := range ls.errors {
			st.Errors[k] += *v
		}
		for k, v := range ls.rejectedByCode {
			st.RejectedByCode[k] += v
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
		st.LastJobID = newest.data.job.JobID
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
		return fmt.Errorf("sv1swarm: wait: %w (authorized %d/%d, accepted %d, rejected %v, errors %v)",
			err, st.Authorized, st.Miners, st.Accepted, st.RejectedByCode, st.Errors)
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
