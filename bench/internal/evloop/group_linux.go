//go:build linux

package evloop

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
	"forge.lthn.ai/core/go-proxy/bench/internal/rawsock"
)

// Config is the loop machinery's part of a swarm configuration, already
// normalized by the swarm (defaults applied, rates validated).
type Config struct {
	// Name prefixes log lines and errors ("swarm", "sv1swarm").
	Name string
	// ProxyAddr is the host:port connections go to.
	ProxyAddr string
	// Miners is the number of connections (at least 1).
	Miners int
	// SourceIPs are the IPv4 source addresses, used round robin by global
	// index; empty with an IPv4 loopback ProxyAddr: 127.0.0.2, 127.0.0.3,
	// ..., one per min(PerSourceIP, FillPerSourceIP) miners.
	SourceIPs []string
	// PerSourceIP is the most sockets one source address may carry (> 0);
	// FillPerSourceIP how many share one default source address (> 0).
	PerSourceIP, FillPerSourceIP int
	// ConnectRate is new connections per second during the ramp; 0: as
	// fast as possible.
	ConnectRate int
	// WorkRate is how many Handler.Work calls per second should succeed
	// across all ready connections of all loops; 0 means none.
	WorkRate float64
	// Loops is the number of event loops; 0 (or less): GOMAXPROCS. At most
	// Miners.
	Loops int
	// Timeout bounds connect, handshake (from the start of the handshake
	// clock, see Loop.StartClock) and request round trips (> 0).
	Timeout time.Duration
	// FirstRequestID is the first id NewRequest returns on a connection;
	// ids wrap back to it. Lower ids are the handler's (handshake).
	FirstRequestID uint32
	// BusyRetry is how soon a loop whose Handler.Work answered WorkBusy
	// tries again.
	BusyRetry time.Duration
	// KeepTimestamps holds a socket with SO_TIMESTAMPNS from Start to Close
	// (see rawsock.OpenStampKeeper), so that the kernel stamps the first
	// packets of a run too.
	KeepTimestamps bool
	// Logf, when set, receives rare events (the first error of each kind
	// per loop, reconnects, close), never with a loop lock held.
	Logf func(format string, args ...any)
	// Stopped, when set, is called by Close once every loop has ended and
	// before the loops' descriptors are released (Loop.Wake is safe until
	// then): stop whatever goroutines may still wake a loop.
	Stopped func()
}

// Tally is what a loop counts, summed across loops by Group.Stats. The loop
// keeps the connection gauges (Waiting .. Ready), Closed, Reconnects and
// the timestamp counts; the handler keeps Jobs, Sent, Accepted and
// Rejected. Guarded by the loop lock; the gauges read 0 after Close.
type Tally struct {
	// Waiting connections are not started yet (ramp) or wait to reconnect;
	// Connecting ones have a connect in progress; Connected ones are open
	// (handshaking or ready); Ready ones are in the work round robin.
	Waiting, Connecting, Connected, Ready int
	// Closed counts connections ended for good (Fail).
	Closed int
	// Reconnects counts Reconnect calls followed.
	Reconnects int64
	// Jobs, Sent, Accepted and Rejected are the handler's counts.
	Jobs, Sent, Accepted, Rejected int64
	// KernelTimestamps counts reads stamped by the kernel, and
	// FallbackTimestamps reads stamped with the loop's clock because no
	// usable timestamp came with the data.
	KernelTimestamps, FallbackTimestamps int64
}

func (t *Tally) add(o *Tally) {
	t.Waiting += o.Waiting
	t.Connecting += o.Connecting
	t.Connected += o.Connected
	t.Ready += o.Ready
	t.Closed += o.Closed
	t.Reconnects += o.Reconnects
	t.Jobs += o.Jobs
	t.Sent += o.Sent
	t.Accepted += o.Accepted
	t.Rejected += o.Rejected
	t.KernelTimestamps += o.KernelTimestamps
	t.FallbackTimestamps += o.FallbackTimestamps
}

// Snapshot is the merged state of every loop of a Group.
type Snapshot struct {
	Tally
	// Errors counts problems by kind; at most maxErrorKinds kinds per loop
	// are told apart, the rest count as "other".
	Errors map[string]int64
	// LoginLatency, SubmitRTT and JobLatency merge the loops' recorders.
	LoginLatency, SubmitRTT, JobLatency hist.Histogram
}

// Group is the set of event loops of one swarm. Its methods are safe for
// concurrent use.
type Group struct {
	cfg    Config
	family int
	// dstIP/dstPort and srcIPs are the resolved addresses; each loop builds
	// its own unix.Sockaddr values from them (x/sys writes into a Sockaddr
	// when it is used, so they must not be shared between goroutines).
	dstIP   [16]byte
	dstPort int
	srcIPs  [][4]byte
	loops   []*Loop
	start   time.Time
	ready   atomic.Int64 // ready connections across loops (work split)
	stop    atomic.Bool
	wg      sync.WaitGroup

	changed notify.Cond
	// stampfd keeps kernel receive timestamping switched on for the
	// group's life when cfg.KeepTimestamps; -1 otherwise.
	stampfd int

	closeOnce sync.Once
	ctxMu     sync.Mutex
	stopCtx   func() bool // guarded by ctxMu
}

// New validates cfg and resolves its addresses; it opens nothing. Start
// runs the loops.
func New(cfg Config) (*Group, error) {
	if cfg.Miners < 1 || cfg.PerSourceIP < 1 || cfg.FillPerSourceIP < 1 || cfg.Timeout <= 0 {
		return nil, fmt.Errorf("%s: invalid loop configuration (miners %d, timeout %v)",
			cfg.Name, cfg.Miners, cfg.Timeout)
	}
	if cfg.Loops <= 0 {
		cfg.Loops = runtime.GOMAXPROCS(0)
	}
	cfg.Loops = min(cfg.Loops, cfg.Miners)
	cfg.SourceIPs = append([]string(nil), cfg.SourceIPs...)
	g := &Group{cfg: cfg, start: time.Now(), stampfd: -1}
	if err := g.resolve(); err != nil {
		return nil, err
	}
	return g, nil
}

// resolve turns ProxyAddr and SourceIPs into socket addresses, filling the
// default source addresses for a loopback proxy.
func (g *Group) resolve() error {
	c := &g.cfg
	addr, err := net.ResolveTCPAddr("tcp", c.ProxyAddr)
	if err != nil {
		return fmt.Errorf("%s: proxy address %q: %w", c.Name, c.ProxyAddr, err)
	}
	if ip4 := addr.IP.To4(); ip4 != nil {
		g.family = unix.AF_INET
		copy(g.dstIP[:], ip4)
		g.dstPort = addr.Port
		if len(c.SourceIPs) == 0 && ip4.IsLoopback() {
			fill := min(c.PerSourceIP, c.FillPerSourceIP)
			need := (c.Miners + fill - 1) / fill
			if need > 250 {
				return fmt.Errorf("%s: %d miners need %d source addresses", c.Name, c.Miners, need)
			}
			for i := 0; i < need; i++ {
				c.SourceIPs = append(c.SourceIPs, fmt.Sprintf("127.0.0.%d", i+2))
			}
		}
	} else {
		g.family = unix.AF_INET6
		copy(g.dstIP[:], addr.IP.To16())
		g.dstPort = addr.Port
		if len(c.SourceIPs) > 0 {
			return fmt.Errorf("%s: source addresses are IPv4 only; the proxy address is IPv6", c.Name)
		}
	}
	if len(c.SourceIPs) > 0 && c.Miners > len(c.SourceIPs)*c.PerSourceIP {
		return fmt.Errorf("%s: %d miners exceed %d source addresses x %d sockets",
			c.Name, c.Miners, len(c.SourceIPs), c.PerSourceIP)
	}
	for _, ipText := range c.SourceIPs {
		ip := net.ParseIP(ipText).To4()
		if ip == nil {
			return fmt.Errorf("%s: source address %q is not IPv4", c.Name, ipText)
		}
		g.srcIPs = append(g.srcIPs, [4]byte(ip))
	}
	return nil
}

// Loops returns the number of event loops.
func (g *Group) Loops() int { return g.cfg.Loops }

// SourceAddrs returns the number of source addresses sockets are bound to
// (the configured ones, or the defaults filled in by New).
func (g *Group) SourceAddrs() int { return len(g.srcIPs) }

// sockaddrs returns fresh socket addresses for one loop: the destination
// and one bind address per source IP.
func (g *Group) sockaddrs() (dest, []*unix.SockaddrInet4) {
	var d dest
	if g.family == unix.AF_INET {
		sa := &unix.SockaddrInet4{Port: g.dstPort}
		copy(sa.Addr[:], g.dstIP[:4])
		d = dest{sa: sa, family: unix.AF_INET, ip: net.IP(g.dstIP[:4]).String(), port: g.dstPort}
	} else {
		d = dest{sa: &unix.SockaddrInet6{Port: g.dstPort, Addr: g.dstIP}, family: unix.AF_INET6,
			ip: net.IP(g.dstIP[:]).String(), port: g.dstPort}
	}
	srcs := make([]*unix.SockaddrInet4, len(g.srcIPs))
	for i, ip := range g.srcIPs {
		srcs[i] = &unix.SockaddrInet4{Addr: ip}
	}
	d.bind = len(srcs) > 0
	return d, srcs
}

// Start creates the loops, asking newHandler for each one's handler (it
// may size its per-slot state with l.Slots() but must not use l
// otherwise yet), and runs them; it returns at once. When ctx ends the
// group closes itself as if Close were called. On error nothing is left
// open.
func (g *Group) Start(ctx context.Context, newHandler func(l *Loop) Handler) error {
	if g.cfg.KeepTimestamps {
		g.stampfd = rawsock.OpenStampKeeper()
	}
	n := g.cfg.Loops
	for i := 0; i < n; i++ {
		l, err := newLoop(g, i, n)
		if err != nil {
			for _, l := range g.loops {
				l.release()
			}
			g.loops = nil
			rawsock.CloseStampKeeper(g.stampfd)
			g.stampfd = -1
			return fmt.Errorf("%s: loop %d: %w", g.cfg.Name, i, err)
		}
		l.h = newHandler(l)
		g.loops = append(g.loops, l)
	}
	for _, l := range g.loops {
		g.wg.Add(1)
		go l.run()
	}
	stop := context.AfterFunc(ctx, g.Close)
	g.ctxMu.Lock()
	g.stopCtx = stop
	g.ctxMu.Unlock()
	return nil
}

// Close closes every socket and stops the loops; it returns when all of
// them have ended (and cfg.Stopped has returned). Idempotent.
func (g *Group) Close() {
	g.closeOnce.Do(func() {
		g.stop.Store(true)
		for _, l := range g.loops {
			l.Wake()
		}
		g.wg.Wait()
		if g.cfg.Stopped != nil {
			g.cfg.Stopped()
		}
		for _, l := range g.loops {
			l.release()
		}
		rawsock.CloseStampKeeper(g.stampfd)
		g.ctxMu.Lock()
		stop := g.stopCtx
		g.ctxMu.Unlock()
		if stop != nil {
			stop()
		}
		g.Logf("%s: closed", g.cfg.Name)
		g.changed.Notify()
	})
}

// Stopping reports whether Close has begun.
func (g *Group) Stopping() bool { return g.stop.Load() }

// Changed is notified whenever a loop reports a change (at most every
// notifyInterval per loop while connections are busy) and at Close; wait
// on it with notify.WaitFor.
func (g *Group) Changed() *notify.Cond { return &g.changed }

// SinceStart returns monotonic ns since New.
func (g *Group) SinceStart() int64 { return int64(time.Since(g.start)) }

// Logf passes a rare event to cfg.Logf.
func (g *Group) Logf(format string, args ...any) {
	if g.cfg.Logf != nil {
		g.cfg.Logf(format, args...)
	}
}

// Stats returns the merged counts of every loop. It holds every loop's
// lock meanwhile and calls locked (when non-nil) under them, after the
// merge, so the caller can read its handlers' state consistently.
func (g *Group) Stats(locked func()) Snapshot {
	sn := Snapshot{Errors: make(map[string]int64)}
	for _, l := range g.loops {
		l.mu.Lock()
	}
	defer func() {
		for _, l := range g.loops {
			l.mu.Unlock()
		}
	}()
	login := make([]*hist.Recorder, 0, len(g.loops))
	rtt := make([]*hist.Recorder, 0, len(g.loops))
	job := make([]*hist.Recorder, 0, len(g.loops))
	for _, l := range g.loops {
		sn.Tally.add(&l.Count)
		for k, v := range l.errors {
			sn.Errors[k] += *v
		}
		login = append(login, &l.LoginLat)
		rtt = append(rtt, &l.SubmitRTT)
		job = append(job, &l.JobLat)
	}
	sn.LoginLatency = hist.MergeRecorders(login...)
	sn.SubmitRTT = hist.MergeRecorders(rtt...)
	sn.JobLatency = hist.MergeRecorders(job...)
	if locked != nil {
		locked()
	}
	return sn
}

// errUnresolved and errTooManyDests are Reconnect failures.
var (
	errUnresolved   = errors.New("cannot resolve host")
	errTooManyDests = errors.New("too many destinations")
)
