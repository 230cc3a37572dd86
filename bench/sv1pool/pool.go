package sv1pool

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"forge.lthn.ai/core/go-proxy/bench/internal/poolserver"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// Pool is a running stratum v1 pool. All methods are safe for concurrent
// use. The pool owns its listener, connections and goroutines; Close
// releases them all.
type Pool struct {
	cfg      Config
	pow      stratum.SV1Algo              // cfg.Algo
	srv      *poolserver.Server[*session] // listener, connections, session history
	behavior atomic.Pointer[Behavior]
	sent     poolserver.JobLog

	mu          sync.Mutex // guards everything below; taken before srv's lock
	rng         *rand.Rand
	e1Seq       uint64 // last extranonce1 handed out
	diff        float64
	versionMask uint32
	chain       chainState
	jobSeq      uint32
	current     *jobRecord
	stats       Stats // but Connections and ActiveConnections, which srv counts
	overlaps    []string
}

// Start listens on cfg.Addr and serves until Close. It creates the first
// job before returning.
func Start(cfg Config) (*Pool, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	srv, err := poolserver.Listen[*session](poolserver.Config{Name: "sv1pool", Addr: cfg.Addr, TLS: cfg.TLS, Logf: cfg.Logf, Relay: cfg.Relay})
	if err != nil {
		return nil, err
	}
	p := &Pool{
		cfg:         cfg,
		pow:         stratum.ParseSV1Algo(cfg.Algo),
		srv:         srv,
		rng:         rand.New(rand.NewPCG(uint64(cfg.Seed), 0x7376317030306c)),
		diff:        cfg.Difficulty,
		versionMask: DefaultVersionMask,
	}
	p.behavior.Store(&Behavior{})
	p.mu.Lock()
	p.newJobLocked(true)
	p.mu.Unlock()

	srv.Serve(p.newSession)
	if cfg.JobInterval > 0 {
		srv.Every(cfg.JobInterval, func() { p.BroadcastJob(false) })
	}
	srv.Logf("listening on %s (tls=%v, difficulty %g, extranonce %d+%d, version rolling %v)",
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
	case !stratum.ParseSV1Algo(c.Algo).Hashable():
		return fmt.Errorf("sv1pool: algorithm %q: only sha256d and scrypt are checked", c.Algo)
	}
	return nil
}

func validDifficulty(d float64) bool {
	return d > 0 && d <= stratum.MaxSV1Difficulty && !math.IsInf(d, 0)
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
// necessarily once their readers have finished their bookkeeping (wait for
// Stats.ActiveConnections for that).
func (p *Pool) DropConnections() { p.srv.DropConnections() }

// newSession creates the session of a new connection with a fresh
// subscription id and extranonce1.
func (p *Pool) newSession(c *poolserver.Conn) *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	var raw [8]byte
	for i := range raw {
		raw[i] = byte(p.rng.Uint32())
	}
	return &session{
		Conn: c,
		p:    p,
		id:   string(stratum.AppendHex(nil, raw[:])),
		e1:   p.nextExtranonce1Locked(),
	}
}

// nextExtranonce1Locked returns a fresh extranonce1: the next counter value,
// big-endian in Extranonce1Size bytes. Caller holds p.mu.
func (p *Pool) nextExtranonce1Locked() []byte {
	p.e1Seq++
	n := p.cfg.Extranonce1Size
	if n < 8 && p.e1Seq == 1<<(8*n) {
		p.srv.Logf("all %d extranonce1 values used; they repeat from now on", uint64(1)<<(8*n))
	}
	e1 := make([]byte, n)
	v := p.e1Seq
	for i := n - 1; i >= 0 && v > 0; i-- {
		e1[i] = byte(v)
		v >>= 8
	}
	return e1
}

// started selects the sessions that have received their first job (for
// Server.Sessions).
func started(s *session) bool { return s.started.Load() }
