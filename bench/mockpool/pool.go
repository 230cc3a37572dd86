package mockpool

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"

	"forge.lthn.ai/core/go-proxy/bench/internal/poolserver"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// Pool is a running mock pool. All methods are safe for concurrent use.
// The pool owns its listener, connections and goroutines; Close releases
// them all.
type Pool struct {
	cfg      Config
	srv      *poolserver.Server[*session] // listener, connections, session history
	behavior atomic.Pointer[Behavior]
	sent     poolserver.JobLog
	reserved atomic.Uint32 // last per-session reserved value handed out

	mu       sync.Mutex // guards everything below; taken before srv's lock
	rng      *rand.Rand
	seq      uint64
	seedHash string
	current  *jobRecord
	stats    Stats // but Connections and ActiveConnections, which srv counts
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
	srv, err := poolserver.Listen[*session](poolserver.Config{Name: "mockpool", Addr: cfg.Addr, TLS: cfg.TLS, Logf: cfg.Logf, Relay: cfg.Relay})
	if err != nil {
		return nil, err
	}
	p := &Pool{
		cfg: cfg,
		srv: srv,
		rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6d6f636b706f6f6c)),
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

	srv.Serve(func(c *poolserver.Conn) *session {
		return &session{Conn: c, p: p, reserved: p.reserved.Add(1)}
	})
	if cfg.JobInterval > 0 {
		srv.Every(cfg.JobInterval, func() { p.BroadcastJob() })
	}
	srv.Logf("listening on %s (tls=%v, difficulty %d)", p.Addr(), cfg.TLS != nil, cfg.Difficulty)
	return p, nil
}

// Addr returns the address the pool listens on, as host:port.
func (p *Pool) Addr() string { return p.srv.Addr() }

// SetBehavior changes how the pool treats new and existing connections from
// their next line on.
func (p *Pool) SetBehavior(b Behavior) {
	p.behavior.Store(&b)
	p.srv.Notify()
}

// Close stops listening, drops every connection and waits for the pool's
// goroutines to end. It is idempotent; later calls return the first result.
func (p *Pool) Close() error { return p.srv.Close() }

// DropConnections closes every open connection; the pool keeps listening
// (a pool "hiccup"). It returns once the connections are closed, not
// necessarily once their readers have finished their bookkeeping.
func (p *Pool) DropConnections() { p.srv.DropConnections() }

// SendReconnect sends {"jsonrpc":"2.0","method":"client.reconnect",
// "params":[host,port,0]} to every logged-in session.
func (p *Pool) SendReconnect(host string, port int) {
	line := []byte(`{"jsonrpc":"2.0","method":"client.reconnect","params":[`)
	line = stratum.AppendJSONString(line, host)
	line = append(line, ',')
	line = strconv.AppendInt(line, int64(port), 10)
	line = append(line, ",0]}\n"...)
	for _, s := range p.srv.Sessions(loggedIn) {
		s.Push(func(dst []byte) []byte { return append(dst, line...) })
	}
}
