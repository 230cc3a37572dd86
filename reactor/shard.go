package reactor

import (
	"context"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/stats"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// shard is everything one event loop owns: its miners, the mappers (pool
// sessions) they use, a JSON parser, an output buffer and counters. Only
// that loop's goroutine touches a shard; other goroutines post work with
// exec (one task per event, never one per miner).
type shard struct {
	p   *Proxy
	el  gnet.EventLoop
	idx int
	cfg *Config // current configuration; replaced on the loop by reloads

	now    int64 // unix seconds, refreshed by the 1 Hz tick
	parser fastjson.Parser
	out    []byte
	cnReq  stratum.Request
	sv1Req stratum.SV1Request
	hasher stratum.SV1Hasher
	// scrypt is the scrypt working memory (128 KiB), made when a share
	// of a scrypt pool is first checked; vd the vardiff settings per bind
	// (vardiff.go).
	scrypt *stratum.ScryptHasher
	vd     vdTable
	// sessText and target are scratch for a session id and a custom
	// difficulty target while one line is encoded.
	sessText [36]byte
	target   [16]byte
	// sv1Wait holds SV1 miners waiting for a pool session with room;
	// kept holds passthrough sessions parked for resumption, by
	// subscription id.
	sv1Wait []*miner
	kept    map[string]*mapper

	miners  []*miner // slab; nil entries are free
	free    []int32
	count   int
	mappers []*mapper

	// table is the route table in force here (replaced by reloads on the
	// loop); tl is this loop's side of each of its targets, by target idx
	// (route_shard.go).
	table *routeTable
	tl    []targetLocal
	rt    routeScratch
	// fc holds the counters per Family: index 0 (FamilyUnknown) collects
	// connection-level counts, 1 CryptoNote, 2 SV1.
	fc      [3]stats.Counters
	st      shardStats
	pub     atomic.Pointer[published]
	strs    map[string]string // interned login strings
	places  map[stats.Placement]*stats.Placement
	minute  int64
	tickRun gnet.Runnable
	// forgetFn is workerForgotten as a value made once (no allocation
	// per sweep).
	forgetFn func(*stats.Worker)
	// poolErrs counts what the shard's pools sent wrong.
	poolErrs poolErrors
	// fan is the sliced fan-out of jobs to miners (fanout.go).
	fan fanout
	// load counts the miners assigned to this loop, including those on
	// their way to it (pickShard adds, miner.closed and unadmit remove).
	// Atomic: the acceptors read it.
	load atomic.Int64
	// names are the interned (user, agent) pairs (loginnames.go).
	names map[loginNames]*loginNames
}

// maxInterned bounds the interned string table of a shard.
const maxInterned = 1 << 16

func newShard(p *Proxy, el gnet.EventLoop, idx int, cfg *Config) *shard {
	s := &shard{p: p, el: el, idx: idx, cfg: cfg, now: time.Now().Unix(), out: make([]byte, 0, 4096), strs: map[string]string{}, kept: map[string]*mapper{}, places: map[stats.Placement]*stats.Placement{}}
	s.st.workers = stats.NewWorkers(max(1, cfg.WorkersMax/max(1, p.loops)))
	s.setTable(p.router.table.Load())
	s.tickRun = gnet.RunnableFunc(func(context.Context) error { s.tick(); return nil })
	s.forgetFn = s.workerForgotten
	s.fan.size = fanSliceSize
	return s
}

// exec runs fn on the shard's loop. Safe from any goroutine; a stopped
// engine drops the task.
func (s *shard) exec(fn func()) {
	_ = s.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error { fn(); return nil }))
}

// start creates the shard's first pool session for each configured family
// so the first miners find work waiting.
// The first sessions are those of the implicit routes (all the family's
// enabled pools); the targets of configured routes open theirs when their
// first miner comes.
func (s *shard) start() {
	if t := s.table.implicitTarget(FamilyCryptoNote); t != nil && s.p.reserveUpstream() {
		s.newMapper(FamilyCryptoNote, s.cnKind(), t)
	}
	if t := s.table.implicitTarget(FamilySV1); s.cfg.SV1Mode == "aggregate" && t != nil && s.p.reserveUpstream() {
		s.newMapper(FamilySV1, kindSV1Agg, t)
	}
}

func (s *shard) cnKind() mapperKind {
	if s.cfg.Mode == "simple" {
		return kindSimple
	}
	return kindNiceHash
}

// addMiner accepts a connection.
func (s *shard) addMiner(conn connRef, addr netip.AddrPort, b *bindInfo) *miner {
	m := &miner{s: s, conn: conn, bind: b, id: s.p.minerSeq.Add(1), addr: packAddr(addr), connectedAt: s.now, family: FamilyUnknown}
	m.state = stateWaitLogin
	if b.proxyProtocol {
		m.state = stateWaitProxy
	}
	m.deadline = s.now + int64(s.cfg.LoginTimeout)
	if n := len(s.free); n > 0 {
		m.slab = s.free[n-1]
		s.free = s.free[:n-1]
		s.miners[m.slab] = m
	} else {
		m.slab = int32(len(s.miners))
		s.miners = append(s.miners, m)
	}
	s.count++
	s.fc[0].Connections++
	return m
}

// removeMiner frees the miner's slab entry.
func (s *shard) removeMiner(m *miner) {
	if m.slab < 0 || int(m.slab) >= len(s.miners) || s.miners[m.slab] != m {
		return
	}
	s.miners[m.slab] = nil
	s.free = append(s.free, m.slab)
	m.slab = -1
	s.count--
}

// removeMapper forgets a closed mapper.
func (s *shard) removeMapper(mp *mapper) {
	if i := slices.Index(s.mappers, mp); i >= 0 {
		s.mappers = slices.Delete(s.mappers, i, i+1)
	}
}

// tick is the shard's 1 Hz sweep: login, ready and idle timeouts, then the
// mappers' duties, then publishing counters.
func (s *shard) tick() {
	s.now = time.Now().Unix()
	cfg := s.cfg
	idle := int64(cfg.IdleTimeout)
	newMinute := s.now/60 != s.minute
	for _, m := range s.miners {
		if m == nil {
			continue
		}
		m.refill(cfg.SubmitRateLimit.PerSecond, newMinute)
		if m.vd != nil {
			m.vdTick()
		}
		switch m.state {
		case stateWaitProxy, stateWaitLogin:
			if s.now >= m.deadline {
				s.fc[0].LoginTimeouts++
				m.close()
			}
		case stateWaitReady:
			if s.now >= m.deadline {
				s.fc[0].IdleTimeouts++
				m.close()
			}
		case stateReady:
			// SV1 miners are not idle-closed: ASICs send nothing but
			// shares, and on a shared aggregate session one miner's share
			// interval can exceed any fixed timeout. Dead peers are found
			// by TCP keepalive (60 s) and the outbound cap instead.
			if m.family != FamilySV1 && s.now-m.lastSeen >= idle {
				s.fc[0].IdleTimeouts++
				s.p.warnLimited("miner idle, closing", "miner", m.id, "addr", m.addr.String())
				m.close()
			}
		}
	}
	for i := 0; i < len(s.mappers); i++ {
		mp := s.mappers[i]
		mp.tick()
		if i < len(s.mappers) && s.mappers[i] != mp {
			i-- // mp closed itself and was removed
		}
	}
	s.routesTick()
	if newMinute {
		s.minute = s.now / 60
		s.st.workers.Tick(s.now)
	}
	s.publish()
}

// intern returns a shared copy of b, so the many miners that log in with
// the same wallet or agent share one string.
func (s *shard) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if v, ok := s.strs[string(b)]; ok {
		return v
	}
	v := string(b)
	if len(s.strs) >= maxInterned {
		clear(s.strs)
	}
	s.strs[v] = v
	return v
}

// countFraming counts a connection closed for a framing error: a miner's
// bad line, or a fault of the pool (see poolConn.framingError).
func (s *shard) countFraming(ep endpoint, err error) {
	if pc, ok := ep.(*poolConn); ok {
		pc.framingError(err)
		return
	}
	s.fc[0].BadLines++
}
