package sv1pool

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"forge.lthn.ai/core/go-proxy/bench/internal/notify"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// Pool is a running stratum v1 pool. All methods are safe for concurrent
// use. The pool owns its listener, connections and goroutines; Close
// releases them all.
type Pool struct {
	cfg      Config
	ln       net.Listener
	behavior atomic.Pointer[Behavior]
	changed  notify.Cond
	done     chan struct{}
	wg       sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	mu          sync.Mutex // guards everything below
	closed      bool
	rng         *rand.Rand
	e1Seq       uint64 // last extranonce1 handed out
	diff        float64
	versionMask uint32
	chain       chainState
	jobSeq      uint32
	current     *jobRecord
	jobs        map[string]*jobRecord
	jobOrder    []string
	conns       map[*session]struct{}
	history     []*session // subscribed sessions, oldest first, bounded
	stats       Stats
	overlaps    []string
}

// Start listens on cfg.Addr and serves until Close. It creates the first
// job before returning.
func Start(cfg Config) (*Pool, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("sv1pool: listen %s: %w", cfg.Addr, err)
	}
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS)
	}
	p := &Pool{
		cfg:         cfg,
		ln:          ln,
		done:        make(chan struct{}),
		rng:         rand.New(rand.NewPCG(uint64(cfg.Seed), 0x7376317030306c)),
		diff:        cfg.Difficulty,
		versionMask: DefaultVersionMask,
		jobs:        make(map[string]*jobRecord),
		conns:       make(map[*session]struct{}),
	}
	p.behavior.Store(&Behavior{})
	p.mu.Lock()
	p.newJobLocked(true)
	p.mu.Unlock()

	p.wg.Add(1)
	go p.acceptLoop()
	if cfg.JobInterval > 0 {
		p.wg.Add(1)
		go p.jobTicker(cfg.JobInterval)
	}
	p.logf("sv1pool: listening on %s (tls=%v, difficulty %g, extranonce %d+%d, version rolling %v)",
		p.Addr(), cfg.TLS != nil, cfg.Difficulty, cfg.Extranonce1Size, cfg.Extranonce2Size, cfg.VersionRolling)
	return p, nil
}

func (c *Config) validate() error {
	switch {
	case c.RejectRatio < 0 || c.RejectRatio > 1 || math.IsNaN(c.RejectRatio):
		return fmt.Errorf("sv1pool: reject ratio %v outside 0..1", c.RejectRatio)
	case c.Extranonce1Size < 1 || c.Extranonce1Size > stratum.MaxSV1ExtranonceSize:
		return fmt.Errorf("sv1pool: extranonce1 size %d outside 1..%d", c.Extranonce1Size, stratum.MaxSV1ExtranonceSize)
	case c.Extranonce2Size < 1 || c.Extranonce2Size > stratum.MaxSV1ExtranonceSize:
		return fmt.Errorf("sv1pool: extranonce2 size %d outside 1..%d", c.Extranonce2Size, stratum.MaxSV1ExtranonceSize)
	case !validDifficulty(c.Difficulty):
		return fmt.Errorf("sv1pool: difficulty %v is not a finite number in (0, 2^64]", c.Difficulty)
	}
	return nil
}

func validDifficulty(d float64) bool {
	return d > 0 && d <= stratum.MaxSV1Difficulty && !math.IsInf(d, 0)
}

// Addr returns the address the pool listens on, as host:port.
func (p *Pool) Addr() string { return p.ln.Addr().String() }

// SetBehavior changes how the pool treats new and existing connections from
// their next line on.
func (p *Pool) SetBehavior(b Behavior) {
	p.behavior.Store(&b)
	p.changed.Notify()
}

// Close stops listening, drops every connection and waits for the pool's
// goroutines to end. It is idempotent; later calls return the first result.
func (p *Pool) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.done)
		if err := p.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			p.closeErr = fmt.Errorf("sv1pool: close listener: %w", err)
		}
		p.DropConnections()
		p.wg.Wait()
		p.changed.Notify()
	})
	return p.closeErr
}

// DropConnections closes every open connection; the pool keeps listening
// (a pool "hiccup"). It returns once the connections are closed, not
// necessarily once their readers have finished their bookkeeping (wait for
// Stats.ActiveConnections for that).
func (p *Pool) DropConnections() {
	p.mu.Lock()
	list := make([]*session, 0, len(p.conns))
	for s := range p.conns {
		list = append(list, s)
	}
	p.mu.Unlock()
	for _, s := range list {
		_ = s.conn.Close()
	}
	if len(list) > 0 {
		p.logf("sv1pool: dropped %d connections", len(list))
	}
}

func (p *Pool) acceptLoop() {
	defer p.wg.Done()
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			select {
			case <-p.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and similar: back off briefly.
			p.logf("sv1pool: accept: %v", err)
			select {
			case <-p.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = conn.Close()
			return
		}
		s := p.newSessionLocked(conn)
		p.conns[s] = struct{}{}
		p.stats.Connections++
		p.stats.ActiveConnections++
		p.wg.Add(1)
		p.mu.Unlock()
		p.changed.Notify()
		go s.serve()
	}
}

// newSessionLocked creates the session of a new connection with a fresh
// subscription id and extranonce1. Caller holds p.mu.
func (p *Pool) newSessionLocked(conn net.Conn) *session {
	var raw [8]byte
	for i := range raw {
		raw[i] = byte(p.rng.Uint32())
	}
	s := &session{
		p:      p,
		conn:   conn,
		remote: conn.RemoteAddr().String(),
		id:     string(stratum.AppendHex(nil, raw[:])),
		e1:     p.nextExtranonce1Locked(),
	}
	s.connected.Store(true)
	return s
}

// nextExtranonce1Locked returns a fresh extranonce1: the next counter value,
// big-endian in Extranonce1Size bytes. Caller holds p.mu.
func (p *Pool) nextExtranonce1Locked() []byte {
	p.e1Seq++
	n := p.cfg.Extranonce1Size
	if n < 8 && p.e1Seq == 1<<(8*n) {
		p.logf("sv1pool: all %d extranonce1 values used; they repeat from now on", uint64(1)<<(8*n))
	}
	e1 := make([]byte, n)
	v := p.e1Seq
	for i := n - 1; i >= 0 && v > 0; i-- {
		e1[i] = byte(v)
		v >>= 8
	}
	return e1
}

// forget removes a finished connection. Called once by its reader.
func (p *Pool) forget(s *session) {
	p.mu.Lock()
	if _, ok := p.conns[s]; ok {
		delete(p.conns, s)
		p.stats.ActiveConnections--
	}
	s.connected.Store(false)
	p.mu.Unlock()
	p.changed.Notify()
}

// addHistoryLocked records a session that just subscribed. Caller holds p.mu.
func (p *Pool) addHistoryLocked(s *session) {
	if len(p.history) >= maxSessionHistory {
		// Drop the oldest disconnected session, else the oldest.
		drop := 0
		for i, h := range p.history {
			if !h.connected.Load() {
				drop = i
				break
			}
		}
		p.history = append(p.history[:drop], p.history[drop+1:]...)
	}
	p.history = append(p.history, s)
}

// sessionsLocked returns the open sessions for which keep is true. Caller
// holds p.mu; keep must not take p.mu.
func (p *Pool) sessionsLocked(keep func(*session) bool) []*session {
	out := make([]*session, 0, len(p.conns))
	for s := range p.conns {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

func (p *Pool) logf(format string, args ...any) {
	if p.cfg.Logf != nil {
		p.cfg.Logf(format, args...)
	}
}
