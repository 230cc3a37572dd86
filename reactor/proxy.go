package reactor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2"

	"forge.lthn.ai/core/go-proxy/internal/logsafe"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// Proxy is a running go-proxy: listeners, event loops and pool sessions.
// Create it with New, then Start; Stop ends it. Its methods are safe for
// concurrent use.
type Proxy struct {
	log   *slog.Logger
	hooks Hooks
	cfg   atomic.Pointer[Config]

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	eng          gnet.Engine
	loops        int
	shardsMu     sync.Mutex
	shards       atomic.Pointer[[]*shard]
	discoverOnce atomic.Bool
	ready        chan struct{}
	readyOnce    sync.Once
	done         chan struct{}
	runErr       error
	startErr     atomic.Pointer[error] // why discovery failed, if it did
	stopping     atomic.Bool
	started      atomic.Bool
	launched     atomic.Bool // the engine goroutine was started

	binds     []*bindInfo
	tlsConfig *tls.Config
	poolRoots *x509.CertPool
	limiter   *RateLimiter
	// quit is closed when Stop begins: accept back-offs end early.
	quit chan struct{}
	// enrolls carries accepted connections to reapEnrolls (acceptor.go).
	enrolls chan enrollment
	fds     fdPlan
	inner   *innerListener // gnet's own listener, unreachable once started

	// refused (the connection cap and shutdown), rateLimited, banned,
	// proxyUntrusted, badHeaders and tlsFailures count connections turned
	// away before they reach a shard; Summary's Refused is the sum of the
	// first four.
	refused, rateLimited, banned, proxyUntrusted, badHeaders, tlsFailures atomic.Uint64
	// proxyFrom is proxy-protocol-from, parsed (replaced by reloads).
	proxyFrom atomic.Pointer[[]netip.Prefix]

	conns     atomic.Int64 // open miner connections, gnet and TLS
	maxConns  int64
	fdBudget  int64 // miners + pool sessions (0: none, for loop-free tests)
	upstreams atomic.Int64
	minerSeq  atomic.Uint64
	mapperSeq atomic.Uint64

	warn warnLimiter
	agg  aggregate
	// workerNames counts distinct worker names across the loops.
	workerNames workerNames
	// dial connects a pool connection (dialPool; tests replace it).
	dial func(s *shard, pc *poolConn)
	// accounts resolves SV1 passthrough account names.
	accounts Accounts
	// keptIdx indexes kept passthrough sessions proxy-wide (kept.go).
	keptIdx KeptSessions
	// router is the proxy-wide side of routing (router.go).
	router router
}

// bindInfo is what a listener's connections need to know about it.
type bindInfo struct {
	cfg           BindConfig
	port          int
	family        Family
	proxyProtocol bool
	tls           bool
	ln            net.Listener // bound by Start (acceptor.go)
}

// Option customises a Proxy.
type Option func(*Proxy)

// WithLogger sets the logger (default slog.Default()). The proxy wraps its
// handler with internal/logsafe: every message and attribute it logs is
// escaped (control, bidi and separator characters, bad UTF-8).
func WithLogger(l *slog.Logger) Option { return func(p *Proxy) { p.log = l } }

// WithHooks installs callbacks for miner and share events.
func WithHooks(h Hooks) Option { return func(p *Proxy) { p.hooks = h } }

// WithPoolRoots sets the certificate roots used to verify TLS pools that
// have no tls-fingerprint (default: the system roots).
func WithPoolRoots(roots *x509.CertPool) Option { return func(p *Proxy) { p.poolRoots = roots } }

// New validates cfg and prepares a Proxy. It binds nothing yet.
func New(cfg *Config, opts ...Option) (*Proxy, error) {
	c := cfg.Clone()
	c.Normalize()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := &Proxy{log: slog.Default(), ready: make(chan struct{}), done: make(chan struct{}),
		quit: make(chan struct{}), enrolls: make(chan enrollment, enrollBacklog)}
	for _, o := range opts {
		o(p)
	}
	// Pool messages and hosts, miner strings and errors carrying them are
	// escaped in every line, whatever handler the embedder gave.
	if p.log == nil {
		p.log = slog.Default()
	}
	p.log = logsafe.Logger(p.log)
	if p.keptIdx == nil {
		p.keptIdx = NewMemKeptSessions()
	}
	p.cfg.Store(c)
	p.router.table.Store(buildRoutes(c, nil))
	p.dial = p.dialPool
	empty := []*shard{}
	p.shards.Store(&empty)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.limiter = NewRateLimiter(c.RateLimit)
	p.setProxyFrom(c)
	p.agg.start = time.Now().Unix()
	for _, b := range c.Bind {
		bi := &bindInfo{cfg: b, port: b.Port, proxyProtocol: b.ProxyProtocol, tls: b.TLS}
		switch b.Family {
		case "cryptonote":
			bi.family = FamilyCryptoNote
		case "sv1":
			bi.family = FamilySV1
		}
		p.binds = append(p.binds, bi)
	}
	return p, nil
}

// Config returns the configuration in force. Do not modify it.
func (p *Proxy) Config() *Config { return p.cfg.Load() }

// Start binds the listeners, starts the event loops and the first pool
// sessions, and returns once miners can connect. It fails if a port
// cannot be bound. The proxy then runs until Stop, or until its engine
// fails (see Done and Err).
func (p *Proxy) Start(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("reactor: already started")
	}
	cfg := p.cfg.Load()
	if cfg.SV1Mode == "passthrough" && p.accounts == nil {
		return errors.New("reactor: sv1-mode passthrough needs an account store (WithAccounts)")
	}
	p.applyGCPercent(cfg)
	p.loops = cfg.EventLoops
	if p.loops == 0 {
		p.loops = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxUpstreams > 0 && p.loops > cfg.MaxUpstreams {
		p.loops = cfg.MaxUpstreams
	}
	p.fds = planDescriptors(cfg, openFilesLimit(), p.loops)
	p.maxConns, p.fdBudget = int64(p.fds.Miners), int64(p.fds.Shared)
	hasTLS := false
	for _, b := range p.binds {
		hasTLS = hasTLS || b.tls
	}
	if hasTLS {
		tc, fp, generated, err := serverTLS(&cfg.TLS)
		if err != nil {
			return fmt.Errorf("reactor: tls: %w", err)
		}
		p.tlsConfig = tc
		if generated {
			p.log.Warn("tls: no certificate configured, generated a self-signed one", "sha256", fp)
		} else {
			p.log.Info("tls: certificate loaded", "sha256", fp)
		}
	}
	// Miners are accepted by go-proxy itself (acceptor.go); gnet only
	// gets an internal listener nobody can reach.
	if err := p.listenMiners(cfg); err != nil {
		return err
	}
	inner, err := newInnerListener()
	if err != nil {
		p.closeListeners()
		return fmt.Errorf("reactor: internal listener: %w", err)
	}
	p.inner = inner
	p.launched.Store(true)
	go p.run(inner)
	select {
	case <-p.ready:
	case <-p.done:
		p.closeListeners()
		err := p.runErr
		if e := p.startErr.Load(); e != nil {
			err = *e
		}
		return fmt.Errorf("reactor: engine did not start: %w", err)
	case <-ctx.Done():
		// Binding and loop discovery are bounded: wait for their outcome,
		// then stop, so no port stays bound after Start gave up.
		select {
		case <-p.ready:
		case <-p.done:
		}
		_ = p.Stop(context.Background())
		return ctx.Err()
	}
	inner.unlink()
	p.serveMiners()
	p.log.Info("proxy started", "binds", len(p.binds), "event_loops", p.loops, "max_connections", p.maxConns, "mode", cfg.Mode)
	p.logBudget(cfg)
	return nil
}

// logBudget reports the descriptor budget (limits.go) and where PROXY
// headers are accepted from.
func (p *Proxy) logBudget(cfg *Config) {
	f := p.fds
	p.log.Info("descriptor budget", "open_files_limit", f.Limit, "reserved", f.Reserved,
		"miners_and_pool_sessions", f.Shared, "miners_max", f.Miners, "http_max_connections", httpConns(cfg))
	if f.Limit-f.Reserved < 2 {
		p.log.Warn("the open-files limit leaves no room for miners beyond the fixed reserve; raise it (ulimit -n, LimitNOFILE)", "open_files_limit", f.Limit, "reserved", f.Reserved)
	}
	for _, b := range p.binds {
		if b.proxyProtocol {
			p.log.Info("PROXY protocol headers accepted only from proxy-protocol-from", "networks", cfg.ProxyProtocolFrom)
			break
		}
	}
}

// httpConns is the API's connection cap, 0 when the API is off.
func httpConns(cfg *Config) int {
	if !cfg.HTTP.Enabled {
		return 0
	}
	return cfg.HTTP.MaxConnections
}

// run is the engine goroutine.
func (p *Proxy) run(inner *innerListener) {
	defer inner.cleanup()
	cfg := p.cfg.Load()
	// Socket options of miner connections (keepalive, no-delay, send
	// buffer) are set on go-proxy's own listeners (minerListenConfig):
	// gnet's listener options would only reach its internal listener.
	err := gnet.Rotate(&engine{p: p}, []string{inner.addr},
		gnet.WithNumEventLoop(p.loops),
		gnet.WithReusePort(true),
		gnet.WithReuseAddr(true),
		gnet.WithTicker(true),
		gnet.WithWriteBufferCap(16<<10),
		gnet.WithReadBufferCap(32<<10),
		gnet.WithLogger(gnetLogger{p.log}),
		gnet.WithLogLevel(gnetLogLevel(cfg.LogLevel)),
	)
	if err == nil && !p.stopping.Load() {
		err = errors.New("reactor: event engine stopped unexpectedly")
	}
	p.runErr = err
	if err != nil && !p.stopping.Load() {
		p.log.Error("event engine failed", "err", err)
	}
	close(p.done)
}

// Done is closed when the engine has stopped, after Stop or on failure.
func (p *Proxy) Done() <-chan struct{} { return p.done }

// Err returns why the engine stopped (nil after a clean Stop).
func (p *Proxy) Err() error {
	select {
	case <-p.done:
		if p.stopping.Load() {
			return nil
		}
		return p.runErr
	default:
		return nil
	}
}

// discover makes sure every event loop has a shard: it enrolls one probe
// connection per loop through the engine's round-robin balancer. If it
// cannot, the engine is stopped and Start reports why.
func (p *Proxy) discover() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.discoveryFailed(err)
		return
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for i := 0; i < p.loops; i++ {
		ch, err := p.eng.Register(gnet.NewNetAddrContext(gnet.NewContext(context.Background(), &probe{p: p}), ln.Addr()))
		if err != nil {
			p.discoveryFailed(err)
			return
		}
		<-ch
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(p.shardList()) < p.loops && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.readyOnce.Do(func() { close(p.ready) })
}

// discoveryFailed records why the loops could not be enrolled and stops
// the engine: Start then returns the error instead of waiting for ever.
func (p *Proxy) discoveryFailed(err error) {
	err = fmt.Errorf("loop discovery: %w", err)
	p.log.Error("event loop discovery failed", "err", err)
	p.startErr.Store(&err)
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = p.eng.Stop(stopCtx)
}

// shardList returns the shards (copy-on-write; do not modify).
func (p *Proxy) shardList() []*shard { return *p.shards.Load() }

// shardFor returns the shard of a loop, creating it on first use. It runs
// on that loop.
func (p *Proxy) shardFor(el gnet.EventLoop) *shard {
	for _, s := range p.shardList() {
		if s.el == el {
			return s
		}
	}
	p.shardsMu.Lock()
	old := p.shardList()
	for _, s := range old {
		if s.el == el {
			p.shardsMu.Unlock()
			return s
		}
	}
	s := newShard(p, el, len(old), p.cfg.Load())
	list := append(append([]*shard(nil), old...), s)
	p.shards.Store(&list)
	p.shardsMu.Unlock()
	s.fanInit()
	s.start()
	return s
}

// admit applies the connection cap and the per-IP rate limit to a new
// connection; checkIP is false when the real address comes later in a
// PROXY header.
func (p *Proxy) admit(ip netip.Addr, checkIP bool) bool {
	if p.stopping.Load() {
		p.refused.Add(1)
		return false
	}
	if p.conns.Add(1) > p.maxConns || p.overBudget() {
		p.conns.Add(-1)
		p.refused.Add(1)
		p.warnLimited("connection limit reached, refusing miners", "limit", p.maxConns, "pool_sessions", p.upstreams.Load())
		return false
	}
	if checkIP && !p.allowIP(ip) {
		p.conns.Add(-1)
		return false
	}
	return true
}

// allowIP applies the per-IP rate limit and counts refusals. Safe from any
// goroutine.
func (p *Proxy) allowIP(ip netip.Addr) bool {
	switch p.limiter.Allow(ip) {
	case Allowed:
		return true
	case Banned:
		p.banned.Add(1)
	default:
		p.rateLimited.Add(1)
	}
	return false
}

// setProxyFrom installs cfg's proxy-protocol-from (already validated).
func (p *Proxy) setProxyFrom(cfg *Config) {
	pfs, _ := proxyPrefixes(cfg.ProxyProtocolFrom)
	p.proxyFrom.Store(&pfs)
}

// trustedProxy reports whether a connection from ip may send a PROXY
// header (proxy-protocol-from). A connection on a proxy-protocol bind from
// anywhere else is closed and counted, so a forged header cannot choose
// the address the per-IP limits see. Safe from any goroutine.
func (p *Proxy) trustedProxy(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, pf := range *p.proxyFrom.Load() {
		if pf.Contains(ip) {
			return true
		}
	}
	p.proxyUntrusted.Add(1)
	p.warnLimited("PROXY protocol connection from outside proxy-protocol-from, closing", "addr", ip.String())
	return false
}

// enabledPools returns the enabled pools of one family, in order.
func (p *Proxy) enabledPools(cfg *Config, f Family) []upstream.PoolConfig {
	var out []upstream.PoolConfig
	for _, pc := range cfg.Pools {
		if !pc.IsEnabled() {
			continue
		}
		pf := FamilyCryptoNote
		if pc.FamilyOrDefault() == upstream.SV1 {
			pf = FamilySV1
		}
		if pf == f {
			out = append(out, pc)
		}
	}
	return out
}

// reserveUpstream takes one unit of the max-upstreams budget.
func (p *Proxy) reserveUpstream() bool {
	max := p.upstreamLimit()
	for {
		n := p.upstreams.Load()
		if max > 0 && n >= max {
			return false
		}
		if p.upstreams.CompareAndSwap(n, n+1) {
			if p.overBudget() {
				p.upstreams.Add(-1)
				p.warnLimited("file descriptor budget reached: no new pool session", "budget", p.fdBudget, "miners", p.conns.Load())
				return false
			}
			return true
		}
	}
}

// overBudget reports whether miners and pool sessions together exceed the
// file-descriptor budget. Safe from any goroutine.
func (p *Proxy) overBudget() bool {
	return p.fdBudget > 0 && p.conns.Load()+p.upstreams.Load() > p.fdBudget
}

// Stop stops accepting miners, waits up to 5 s (or ctx) for submits in
// flight to be answered, then closes every connection (TLS ones too) and
// waits for the engine to end, or for ctx. Stop on a proxy that never
// started, or whose Start failed, returns at once.
func (p *Proxy) Stop(ctx context.Context) error {
	if !p.launched.Load() {
		p.stopping.Store(true) // never started (or Start failed early)
		return nil
	}
	if !p.stopping.CompareAndSwap(false, true) {
		select {
		case <-p.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	close(p.quit)
	p.closeListeners()
	drain, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for p.inFlight(drain) > 0 && drain.Err() == nil {
		select {
		case <-drain.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.cancel()
	var err error
	if p.eng.Validate() == nil {
		stopCtx, c2 := context.WithTimeout(context.Background(), 10*time.Second)
		err = p.eng.Stop(stopCtx)
		c2()
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.wg.Wait()
	return err
}

// inFlight counts submits awaiting a pool answer across shards.
func (p *Proxy) inFlight(ctx context.Context) int {
	total := 0
	for _, s := range p.shardList() {
		n, err := onLoop(ctx, s, func() int {
			c := 0
			for _, mp := range s.mappers {
				for _, pc := range append([]*poolConn{mp.conn}, mp.retiring...) {
					if pc != nil && pc.proto != nil {
						c += pc.proto.InFlight()
					}
				}
			}
			return c
		})
		if err != nil {
			return 0
		}
		total += n
	}
	return total
}

// onLoop runs fn on the shard's loop and waits for its result.
func onLoop[T any](ctx context.Context, s *shard, fn func() T) (T, error) {
	ch := make(chan T, 1)
	var zero T
	err := s.el.Execute(ctx, gnet.RunnableFunc(func(context.Context) error { ch <- fn(); return nil }))
	if err != nil {
		return zero, err
	}
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-s.p.done:
		return zero, errors.New("reactor: stopped")
	}
}

// afterTick runs on the ticker goroutine after the shard sweeps are posted.
func (p *Proxy) afterTick() {
	now := time.Now()
	p.limiter.Tick(now)
	p.aggregate(now.Unix())
	p.router.tick(p, now.Unix())
}

// epoch anchors mono.
var epoch = time.Now()

// mono is a monotonic clock in nanoseconds, read once per forwarded share
// and once per pool answer (for the latency figure).
func mono() int64 { return int64(time.Since(epoch)) }

// b2s views b as a string without copying; the string is valid only while
// b is unchanged (here: for the duration of one encoder call).
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func itoa(n int) string { return strconv.Itoa(n) }

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
