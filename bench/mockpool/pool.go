package mockpool

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"forge.lthn.ai/core/go-proxy/bench/internal/notify"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// Pool is a running mock pool. All methods are safe for concurrent use.
// The pool owns its listener, connections and goroutines; Close releases
// them all.
type Pool struct {
	cfg      Config
	ln       net.Listener
	behavior atomic.Pointer[Behavior]
	changed  notify.Cond
	done     chan struct{}
	wg       sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	mu       sync.Mutex // guards everything below
	closed   bool
	rng      *rand.Rand
	seq      uint64
	seedHash string
	current  *jobRecord
	jobs     map[string]*jobRecord
	jobOrder []string
	conns    map[*session]struct{}
	history  []*session // logged-in sessions, oldest first, bounded
	stats    Stats
}

// Start listens on cfg.Addr and serves until Close. It creates the first
// job before returning.
func Start(cfg Config) (*Pool, error) {
	cfg = cfg.withDefaults()
	if cfg.RejectRatio < 0 || cfg.RejectRatio > 1 {
		return nil, fmt.Errorf("mockpool: reject ratio %v outside 0..1", cfg.RejectRatio)
	}
	if !stratum.IsToken(cfg.Algo, stratum.MaxAlgoLen) {
		return nil, fmt.Errorf("mockpool: bad algo %q", cfg.Algo)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("mockpool: listen %s: %w", cfg.Addr, err)
	}
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS)
	}
	p := &Pool{
		cfg:   cfg,
		ln:    ln,
		done:  make(chan struct{}),
		rng:   rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6d6f636b706f6f6c)),
		jobs:  make(map[string]*jobRecord),
		conns: make(map[*session]struct{}),
	}
	p.behavior.Store(&Behavior{})
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(p.rng.Uint32())
	}
	p.seedHash = string(stratum.AppendHex(nil, seed[:]))
	p.mu.Lock()
	p.newJobLocked()
	p.mu.Unlock()

	p.wg.Add(1)
	go p.acceptLoop()
	if cfg.JobInterval > 0 {
		p.wg.Add(1)
		go p.jobTicker(cfg.JobInterval)
	}
	p.logf("mockpool: listening on %s (tls=%v, difficulty %d)", p.Addr(), cfg.TLS != nil, cfg.Difficulty)
	return p, nil
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
			p.closeErr = fmt.Errorf("mockpool: close listener: %w", err)
		}
		p.DropConnections()
		p.wg.Wait()
		p.changed.Notify()
	})
	return p.closeErr
}

// DropConnections closes every open connection; the pool keeps listening
// (a pool "hiccup"). It returns once the connections are closed, not
// necessarily once their readers have finished their bookkeeping.
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
		p.logf("mockpool: dropped %d connections", len(list))
	}
}

// SendReconnect sends {"jsonrpc":"2.0","method":"client.reconnect",
// "params":[host,port,0]} to every logged-in session.
func (p *Pool) SendReconnect(host string, port int) {
	line := []byte(`{"jsonrpc":"2.0","method":"client.reconnect","params":[`)
	line = stratum.AppendJSONString(line, host)
	line = append(line, ',')
	line = strconv.AppendInt(line, int64(port), 10)
	line = append(line, ",0]}\n"...)
	p.mu.Lock()
	targets := p.loggedInLocked()
	p.mu.Unlock()
	for _, s := range targets {
		s.mu.Lock()
		_ = s.writeLocked(line)
		s.mu.Unlock()
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
			p.logf("mockpool: accept: %v", err)
			select {
			case <-p.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		s := &session{p: p, conn: conn, remote: conn.RemoteAddr().String()}
		s.connected.Store(true)
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = conn.Close()
			return
		}
		p.conns[s] = struct{}{}
		p.stats.Connections++
		p.stats.ActiveConnections++
		p.wg.Add(1)
		p.mu.Unlock()
		p.changed.Notify()
		go s.serve()
	}
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

// addHistory records a session that just logged in. Caller holds p.mu.
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

func (p *Pool) logf(format string, args ...any) {
	if p.cfg.Logf != nil {
		p.cfg.Logf(format, args...)
	}
}
