package reactor

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/panjf2000/gnet/v2"

	"forge.lthn.ai/core/go-proxy/nonce"
	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// mapperKind is how a mapper shares its pool connection.
type mapperKind uint8

const (
	kindNiceHash mapperKind = iota // up to 256 miners, one fixed nonce byte each
	kindSimple                     // one miner at a time, reusable
	kindSV1Agg                     // SV1 miners sharing the session by extranonce prefix
	kindSV1Pass                    // one SV1 miner on its account's own session
)

// mapperState is the state of a mapper's pool connection.
type mapperState uint8

const (
	mapperConnecting mapperState = iota // dialing or logging in
	mapperActive                        // logged in, has sent work
	mapperRetry                         // waiting to retry after a failure
	mapperIdle                          // simple mode: no miner, kept for reuse
	mapperClosed                        // gone; ignore late events
)

// mapper is one upstream pool session of a shard with the miners it
// serves: xmrig-proxy's NonceMapper (nicehash) or SimpleMapper (simple).
// It survives its pool connection: when the connection drops, failover
// dials again and the miners stay. Loop-only.
type mapper struct {
	s      *shard
	id     uint64
	family Family
	kind   mapperKind
	state  mapperState
	pools  []upstream.PoolConfig // enabled pools of the family, in order
	fo     *upstream.Failover
	conn   *poolConn // current connection, nil while none
	gen    uint32    // bumped for every dial; stale events carry old values
	retry  *time.Timer
	// redirect is a client.reconnect target used for the next dial only.
	redirect *redirectTo

	job      stratum.Job
	hasJob   bool
	jobDiff  uint64
	prevDiff uint64
	prevAlgo string
	jobs     nonce.Jobs
	// jobSeq counts jobs; idleJob is jobSeq when the mapper went idle, so
	// a simple-mode mapper is reused only after a fresh job.
	jobSeq  uint64
	idleJob uint64

	table  *nonce.Table[miner] // nicehash, SV1
	single *miner              // simple
	sv     *sv1Up              // SV1 session state
	// account and subID identify a passthrough session (kept for resume).
	account string
	subID   string

	emptySince int64 // unix seconds since the mapper has had no miner
	idleSince  int64
	// waitBeforeReconnect delays the redial after a client.reconnect
	// (at most maxReconnectWait).
	waitBeforeReconnect time.Duration
	// sendJobFn and expireFn are method values made once, so broadcasting
	// and expiring allocate nothing.
	sendJobFn func(uint32, *miner)
	expireFn  func(upstream.Pending[submitTag])
	// retiring are replaced connections still owed submit answers.
	retiring []*poolConn
	// pending is a connection being prepared to replace conn: a reload's
	// connection to the new pool list (swap: it takes over once logged
	// in), or a probe of a higher-priority pool while a backup is in use
	// (probe: it takes over once it has been healthy for the stability
	// period). pendingIdx is its pool's index in pools.
	pending    *poolConn
	pendingIdx int
	// seen is the CryptoNote duplicate check (SV1's is sv.seen); win
	// numbers its window (duplicate.go).
	seen nonce.Seen[uint32]
	win  uint32
	// held are miners waiting for the pool connection to drain (flow.go).
	held, heldSpare []*miner
}

// redirectTo is where a followed client.reconnect sends the next dial, and
// the configured pool entry it stands for (whose redirect-hosts decide
// where that connection may be sent next).
type redirectTo struct {
	to, entry upstream.PoolConfig
}

// maxReconnectWait bounds the wait a pool's client.reconnect may ask for:
// miners have no work while the session waits, and a pool that is really
// down is better found by a failed dial (which fails over) than waited for.
const maxReconnectWait = 60 * time.Second

// poolConn is one pool connection of a mapper, with its own protocol
// state. It is an endpoint of the shard.
type poolConn struct {
	mp   *mapper
	gen  uint32
	pool upstream.PoolConfig // where it connects (a redirect's target, or entry)
	// entry is the configured pool it stands for: its host and
	// redirect-hosts decide which client.reconnect targets are followed.
	entry  upstream.PoolConfig
	conn   connRef
	proto  poolProto // cn or sv, once attached
	addr   string    // the pool's host:port (labels, logs)
	cn     *upstream.CNClient[submitTag]
	sv     *upstream.SV1Client[submitTag]
	opened bool
	dead   bool
	// activeAt is when the pool accepted the login (mono clock).
	activeAt int64
	// swap marks a reload candidate, probe a probe of a higher-priority
	// pool (see mapper.pending).
	swap, probe bool
	// gotJob: the pool has sent work on this connection. lastJob is a
	// CryptoNote probe's newest job, handed to the miners if it takes over
	// (an SV1 client keeps its own).
	gotJob  bool
	lastJob stratum.Job
	// Why the connection ends: the pool stopped answering (stalled), or
	// asked for it (reconnect). Anything else is a plain failure.
	stalled, reconnect bool
}

// poolProto is what both protocol clients (upstream.CNClient and
// upstream.SV1Client) offer the mapper's family-neutral code.
type poolProto interface {
	Ready() bool
	InFlight() int
	Expire(deadline int64, fn func(upstream.Pending[submitTag]))
	Drain(fn func(upstream.Pending[submitTag]))
	Stalled(now, timeout int64) bool
}

// submitTag routes a pool's answer back to the miner that submitted.
type submitTag struct {
	m  *miner
	id stratum.RequestID
	// diff is the difficulty credited if accepted; hashes the work it
	// stands for (diff for CryptoNote, diff·2^32/divider for SV1).
	diff    float64
	hashes  float64
	actual  uint64
	expired bool
}

// maxPendingSubmits bounds the submits in flight per pool connection.
const maxPendingSubmits = 256

func (s *shard) newMapper(fam Family, kind mapperKind) *mapper {
	mp := &mapper{
		s:      s,
		id:     s.p.mapperSeq.Add(1),
		family: fam,
		kind:   kind,
		pools:  s.p.enabledPools(s.cfg, fam),
	}
	mp.init()
	s.mappers = append(s.mappers, mp)
	mp.dial()
	return mp
}

// init sets up what every mapper needs before its first dial.
func (mp *mapper) init() {
	s := mp.s
	mp.fo = upstream.NewFailover(len(mp.pools), s.cfg.failoverPolicy())
	mp.sendJobFn = mp.sendJob
	mp.expireFn = func(p upstream.Pending[submitTag]) { mp.failSubmit(p, stratum.MsgPoolTimeout) }
	mp.emptySince = s.now
	switch mp.kind {
	case kindNiceHash:
		mp.table = nonce.NewNiceHash[miner]()
	case kindSV1Pass:
		mp.table = nonce.NewTable[miner](1)
	}
	if mp.family == FamilySV1 {
		algo := ""
		if len(mp.pools) > 0 {
			algo = mp.pools[0].Algo
		}
		pow, label, divider := algoInfo(algo)
		mp.sv = &sv1Up{pow: pow, algo: label, divider: divider}
	}
}

// dial starts a connection to the pool the failover strategy picks.
func (mp *mapper) dial() {
	if len(mp.pools) == 0 {
		mp.state = mapperRetry
		return
	}
	entry := mp.pools[mp.fo.Next()]
	pool := entry
	if r := mp.redirect; r != nil {
		pool, entry, mp.redirect = r.to, r.entry, nil
	}
	mp.gen++
	mp.state = mapperConnecting
	pc := &poolConn{mp: mp, gen: mp.gen, pool: pool, entry: entry}
	mp.conn = pc
	mp.s.p.dial(mp.s, pc)
}

// scheduleDial dials again after wait (at once when wait is 0).
func (mp *mapper) scheduleDial(wait time.Duration) {
	mp.state = mapperRetry
	if wait <= 0 {
		mp.dial()
		return
	}
	gen := mp.gen
	s := mp.s
	mp.retry = time.AfterFunc(wait, func() {
		s.exec(func() {
			if mp.gen == gen && mp.state == mapperRetry {
				mp.dial()
			}
		})
	})
}

// dialPool connects pc in a goroutine and attaches the connection to the
// shard: plain TCP is enrolled in the shard's gnet loop, TLS runs as a
// stream.
func (p *Proxy) dialPool(s *shard, pc *poolConn) {
	d := upstream.Dialer{Timeout: secs(s.cfg.ConnectTimeout), RootCAs: p.poolRoots}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		nc, err := d.Dial(p.ctx, &pc.pool)
		if err != nil {
			s.exec(func() { pc.mp.connectFailed(pc, err) })
			return
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			ch, err := s.el.Enroll(gnet.NewContext(context.Background(), pc), tc)
			if err == nil {
				// gnet answers on ch once the loop has registered the
				// connection; a loop that is shutting down never does, so
				// stopping must not wait for it.
				select {
				case res := <-ch:
					err = res.Err
				case <-p.ctx.Done():
					return
				}
			}
			if err != nil {
				tc.Close()
				s.exec(func() { pc.mp.connectFailed(pc, err) })
			}
			return
		}
		st := newStream(nc, s, pc)
		s.exec(func() {
			pc.conn = connRef{x: st}
			st.start()
			pc.attached()
		})
	}()
}

// attached runs on the loop once the transport is up: send the login.
func (pc *poolConn) attached() {
	mp := pc.mp
	if (pc != mp.conn && pc != mp.pending) || mp.state == mapperClosed || pc.dead {
		pc.conn.close()
		return
	}
	pc.opened = true
	s := mp.s
	if ep, err := pc.pool.Endpoint(); err == nil {
		pc.addr = ep.Address()
	}
	if mp.family == FamilySV1 {
		pc.sv = upstream.NewSV1Client[submitTag](mp.sv1Login(pc), maxPendingSubmits)
		pc.proto = pc.sv
		s.out = pc.sv.AppendHandshake(s.out[:0], mono())
	} else {
		pc.cn = upstream.NewCNClient[submitTag](stratum.PoolLogin{
			Login: pc.pool.User, Pass: pc.pool.Pass, Agent: s.cfg.UserAgent, RigID: pc.pool.RigID, Algos: algoList(pc.pool.Algo),
		}, maxPendingSubmits)
		pc.proto = pc.cn
		s.out = pc.cn.AppendLogin(s.out[:0], mono())
	}
	pc.write(s.out)
}

// write sends b to the pool. A pool that stopped reading (1 MiB waiting)
// or a connection already failing is closed: its closed() fails over and
// answers the submits it owed, instead of every later share failing
// quietly (and logging) on a dead link.
func (pc *poolConn) write(b []byte) {
	if !pc.conn.write(b, 1<<20) {
		pc.mp.s.p.warnLimited("pool connection write failed; closing it", "pool", pc.pool.URL)
		pc.conn.close()
	}
}

// handleError decides what a protocol error from the pool means: an
// invalid job is dropped (the connection lives on), anything else ends
// the connection. It returns whether to keep it.
func (pc *poolConn) handleError(err error) bool {
	s := pc.mp.s
	pc.poolError(errorReason(err))
	if errors.Is(err, stratum.ErrInvalidJob) {
		s.p.warnLimited("invalid job from pool", "pool", pc.pool.URL)
		return true
	}
	s.p.log.Warn("pool connection failed", "pool", pc.pool.URL, "err", err)
	return false
}

// loggedIn runs when a pool accepted the connection's login: a reload
// candidate takes over, and the mapper becomes active on its current
// connection. It returns false when pc is not (or no longer) current.
func (pc *poolConn) loggedIn() bool {
	mp := pc.mp
	if pc.probe {
		// A probe only logs in; it takes over once it has been healthy
		// for the stability period (mapper.observe).
		pc.activeAt = mono()
		mp.fo.ProbeLoggedIn()
		mp.s.p.log.Debug("pool probe logged in", "pool", pc.pool.URL, "mapper", mp.id)
		return false
	}
	if pc.swap {
		mp.fo.SwitchedTo(mp.pendingIdx)
		mp.swapTo(pc)
	}
	if pc != mp.conn {
		return false
	}
	pc.activeAt = mono()
	mp.fo.LoggedIn(time.Duration(pc.activeAt))
	if mp.state != mapperIdle { // an idle simple session stays idle (reuse-timeout)
		mp.state = mapperActive
	}
	mp.s.fc[mp.family].PoolConnects++
	mp.s.p.log.Info("pool connected", "pool", pc.pool.URL, "mapper", mp.id, "shard", mp.s.idx)
	return true
}

// reconnectRequested handles client.reconnect: the connection ends and
// the same pool is dialled again after wait seconds (at most
// maxReconnectWait). A new host:port is followed only when the pool entry
// allows that host (its own host on any port, or one of its
// redirect-hosts): a pool's credentials never go to a host its entry does
// not vouch for. A refused redirect is logged and becomes a plain
// reconnect. The redirect keeps the transport and the certificate pin.
func (pc *poolConn) reconnectRequested(host []byte, port, wait int) {
	mp := pc.mp
	pc.reconnect = true
	mp.waitBeforeReconnect = min(secs(wait), maxReconnectWait)
	if len(host) == 0 || port <= 0 {
		mp.s.p.log.Info("pool asked to reconnect", "pool", pc.pool.URL, "wait", mp.waitBeforeReconnect)
		if pc.pool.URL != pc.entry.URL {
			mp.redirect = &redirectTo{to: pc.pool, entry: pc.entry} // back to where it was sent
		}
		return
	}
	target := net.JoinHostPort(string(host), itoa(port))
	if !pc.entry.AllowsRedirect(string(host)) {
		mp.s.p.warnLimited("pool redirect refused: host not allowed for this pool (add it to the pool's redirect-hosts to follow it); reconnecting to the same pool",
			"pool", pc.pool.URL, "to", target)
		if pc.pool.URL != pc.entry.URL {
			mp.redirect = &redirectTo{to: pc.pool, entry: pc.entry}
		}
		return
	}
	to := pc.pool
	// A pool reached over TLS (by its stratum+ssl:// scheme or "tls") is
	// redialled over TLS; tls-fingerprint is kept with the entry.
	if ep, err := pc.pool.Endpoint(); err == nil && ep.TLS {
		to.TLS = true
	}
	to.URL = target
	mp.redirect = &redirectTo{to: to, entry: pc.entry}
	mp.s.p.log.Info("pool asked to reconnect", "pool", pc.pool.URL, "to", target, "wait", mp.waitBeforeReconnect)
}

// closed runs when a pool connection is gone (loop-only). Submits still
// waiting on it are answered with an error; the mapper fails over.
func (pc *poolConn) closed() {
	if pc.dead {
		return
	}
	pc.dead = true
	mp := pc.mp
	if pc == mp.conn || pc == mp.pending {
		mp.s.fc[mp.family].PoolFailures++
	}
	if pc.proto != nil {
		pc.proto.Drain(func(p upstream.Pending[submitTag]) { mp.failSubmit(p, stratum.MsgBadGateway) })
	}
	mp.dropRetiring(pc)
	switch {
	case mp.state == mapperClosed:
	case pc == mp.pending:
		mp.pending = nil
		if pc.probe {
			mp.s.p.log.Debug("pool probe failed", "pool", pc.pool.URL, "mapper", mp.id)
			mp.probeFailed()
			return
		}
		mp.pendingFailed()
	case pc == mp.conn:
		mp.conn = nil
		if mp.state == mapperIdle {
			mp.close()
			return
		}
		mp.cancelProbe()
		prev := mp.fo.Current()
		var next int
		var wait time.Duration
		if pc.reconnect {
			next, wait = mp.fo.Reconnect()
			wait = max(wait, mp.waitBeforeReconnect)
		} else {
			next, wait = mp.fo.Failed(pc.stalled)
		}
		mp.waitBeforeReconnect = 0
		if pc.activeAt != 0 {
			mp.s.p.log.Warn("pool connection lost, reconnecting", "pool", pc.pool.URL, "mapper", mp.id, "next", mp.pools[next].URL, "wait", wait)
		}
		mp.failedOver(prev, next)
		mp.scheduleDial(wait)
	}
}

// failedOver logs a move of the session to another pool of its list.
func (mp *mapper) failedOver(prev, next int) {
	if prev == next {
		mp.s.p.log.Debug("pool retry", "pool", mp.pools[next].URL, "mapper", mp.id)
		return
	}
	mp.redirect = nil // a redirect belongs to the pool that asked for it
	mp.s.p.log.Warn("pool failed; switching to the next pool", "from", mp.pools[prev].URL, "to", mp.pools[next].URL, "mapper", mp.id)
}

// connectFailed handles a dial that did not produce a connection.
func (mp *mapper) connectFailed(pc *poolConn, err error) {
	if mp.state == mapperClosed {
		return
	}
	mp.s.fc[mp.family].PoolFailures++
	if pc == mp.pending {
		mp.pending = nil
		if pc.probe {
			mp.s.p.log.Debug("pool probe unreachable", "pool", pc.pool.URL, "mapper", mp.id, "err", err)
			mp.probeFailed()
			return
		}
		mp.s.p.warnLimited("pool unreachable", "pool", pc.pool.URL, "err", err)
		mp.pendingFailed()
		return
	}
	if pc != mp.conn {
		return
	}
	mp.conn = nil
	mp.cancelProbe()
	prev := mp.fo.Current()
	var next int
	var w time.Duration
	if errors.Is(err, upstream.ErrFingerprint) {
		mp.s.p.log.Error("pool certificate does not match tls-fingerprint", "pool", pc.pool.URL, "err", err)
		next, w = mp.fo.Abandon()
	} else {
		mp.s.p.warnLimited("pool unreachable", "pool", pc.pool.URL, "err", err)
		next, w = mp.fo.Failed(false)
	}
	mp.failedOver(prev, next)
	mp.scheduleDial(w)
}

// canSubmit reports whether a share can be forwarded now.
func (mp *mapper) canSubmit() bool {
	return mp.state == mapperActive && mp.conn != nil && mp.conn.proto != nil && mp.conn.proto.Ready()
}

// failSubmit answers a forwarded share that will get no pool answer.
func (mp *mapper) failSubmit(p upstream.Pending[submitTag], msg string) {
	s := mp.s
	t := &p.Tag
	m := t.m
	if msg == stratum.MsgPoolTimeout {
		s.fc[m.family].Timeouts++ // not the shares lost with a closed connection
	}
	if m.state == stateReady {
		if m.family == FamilySV1 {
			s.out = stratum.AppendSV1ErrorReply(s.out[:0], &t.id, &stratum.SV1Error{Code: stratum.SV1CodeOther, Message: msg})
		} else {
			s.out = stratum.AppendErrorReply(s.out[:0], &t.id, msg)
		}
		m.send(s.out)
	}
	if h := s.p.hooks.OnReject; h != nil {
		e := m.shareEvent()
		e.Diff = uint64(t.diff)
		e.Actual = t.actual
		e.Reason = msg
		h(e)
	}
}

// addMiner gives m a place on the mapper; false when it is full.
func (mp *mapper) addMiner(m *miner) bool {
	switch mp.kind {
	case kindNiceHash:
		slot, ok := mp.table.Add(m)
		if !ok {
			return false
		}
		m.fixed = slot
	case kindSimple:
		if mp.single != nil {
			return false
		}
		mp.single = m
		if mp.state == mapperIdle {
			mp.state = mapperActive
		}
	}
	m.mp = mp
	return true
}

// removeMiner releases m's place (its fixed byte stays dead until the
// next job).
func (mp *mapper) removeMiner(m *miner) {
	s := mp.s
	switch mp.kind {
	case kindNiceHash:
		mp.table.Remove(m.fixed, m)
		if mp.table.Len() == 0 {
			mp.emptySince = s.now
		}
	case kindSimple:
		if mp.single == m {
			mp.single = nil
			if s.cfg.ReuseTimeout > 0 && mp.state == mapperActive {
				mp.state = mapperIdle
				mp.idleSince = s.now
				mp.idleJob = mp.jobSeq
			} else {
				mp.close()
			}
		}
	case kindSV1Agg:
		if mp.table != nil {
			mp.table.Remove(m.fixed, m)
			if mp.table.Len() == 0 {
				mp.emptySince = s.now
			}
		}
	case kindSV1Pass:
		if mp.table.Remove(m.fixed, m) {
			mp.keepPassthrough(m)
		}
	}
	m.mp = nil
}

// reusable reports whether an idle simple-mode mapper may take a new
// miner: connected, and it received a job after its last miner left.
func (mp *mapper) reusable() bool {
	return mp.state == mapperIdle && mp.canSubmitIdle() && mp.jobSeq > mp.idleJob
}

func (mp *mapper) canSubmitIdle() bool {
	return mp.conn != nil && mp.conn.proto != nil && mp.conn.proto.Ready()
}

// tick runs the mapper's once-a-second duties: submit timeouts, a pool
// that stopped answering, keepalives, retiring connections, garbage
// collection of unused mappers.
func (mp *mapper) tick() {
	s, cfg := mp.s, mp.s.cfg
	mn := mono()
	for _, pc := range [...]*poolConn{mp.conn, mp.pending} {
		if pc == nil || pc.proto == nil || pc.dead {
			continue
		}
		pc.proto.Expire(mn-int64(cfg.submitTimeout()), mp.expireFn)
		if pc.proto.Stalled(mn, int64(cfg.poolTimeout())) {
			s.p.warnLimited("pool not answering, dropping connection", "pool", pc.pool.URL)
			pc.stalled = true
			pc.conn.close()
			continue
		}
		if ka := pc.pool.Keepalive; ka > 0 && pc.cn != nil {
			if out := pc.cn.AppendKeepalive(s.out[:0], mn, int64(ka)); len(out) > 0 {
				s.out = out
				pc.write(out)
			}
		}
	}
	for _, pc := range mp.retiring {
		if pc.proto != nil {
			pc.proto.Expire(mn-int64(cfg.submitTimeout()), mp.expireFn)
		}
		pc.closeIfRetired()
	}
	mp.observe(mn)
	mp.resumeIfDrained()
	switch {
	case (mp.kind == kindNiceHash || mp.kind == kindSV1Agg) && mp.table != nil && mp.table.Len() == 0 &&
		mp != s.firstMapper(mp.family) && s.now-mp.emptySince >= mapperGCAfter:
		mp.close()
	case mp.kind == kindSimple && mp.state == mapperIdle && s.now-mp.idleSince >= int64(cfg.ReuseTimeout):
		mp.close()
	case mp.kind == kindSV1Pass && mp.state == mapperIdle && s.now-mp.idleSince >= int64(cfg.Registry.Keep):
		mp.close()
	}
}

// observe reports the health of the session and of a probe to the
// failover strategy once a second, moves the session to a probe that has
// been healthy for the stability period, and starts a probe when one is
// due.
func (mp *mapper) observe(mn int64) {
	now, limit := time.Duration(mn), mp.s.cfg.submitTimeout()
	if pc := mp.conn; pc != nil && !pc.dead && pc.activeAt != 0 {
		if mp.fo.Observe(now, pc.healthy(mn, limit)) {
			mp.s.p.log.Debug("pool session stable", "pool", pc.pool.URL, "mapper", mp.id)
		}
	}
	switch pc := mp.pending; {
	case pc == nil:
		if mp.state == mapperActive {
			if i, ok := mp.fo.ProbeDue(now); ok {
				mp.dialProbe(i)
			}
		}
	case pc.probe && !pc.dead && pc.activeAt != 0:
		if mp.fo.ProbeObserve(now, pc.healthy(mn, limit)) {
			mp.probeTakeOver(pc)
		}
	}
}

// healthy reports whether the pool is doing its job on pc: logged in, it
// has sent work, and it has not owed an answer (to a submit, the login, a
// keepalived) for longer than limit.
func (pc *poolConn) healthy(mn int64, limit time.Duration) bool {
	return pc.proto != nil && pc.proto.Ready() && pc.gotJob && !pc.proto.Stalled(mn, int64(limit))
}

// dialProbe starts a probe of pool i: a connection of its own that logs in
// while the miners stay on the current pool.
func (mp *mapper) dialProbe(i int) {
	pool := mp.pools[i]
	pc := &poolConn{mp: mp, pool: pool, entry: pool, probe: true}
	mp.pending, mp.pendingIdx = pc, i
	mp.s.p.log.Debug("probing pool", "pool", pool.URL, "mapper", mp.id)
	mp.s.p.dial(mp.s, pc)
}

// probeFailed moves on to the next higher-priority pool to probe, if any.
func (mp *mapper) probeFailed() {
	if i, ok := mp.fo.ProbeFailed(time.Duration(mono())); ok {
		mp.dialProbe(i)
	}
}

// cancelProbe closes a probe in progress (the session it would replace
// failed; failover decides what comes next).
func (mp *mapper) cancelProbe() {
	pc := mp.pending
	if pc == nil || !pc.probe {
		return
	}
	mp.pending = nil
	pc.dead = true
	pc.conn.close()
}

// probeTakeOver moves the session to a probe that stayed healthy for the
// stability period: the miners get its work without reconnecting, and the
// old connection retires once its submits are answered.
func (mp *mapper) probeTakeOver(pc *poolConn) {
	from := ""
	if mp.conn != nil {
		from = mp.conn.pool.URL
	}
	mp.swapTo(pc)
	mp.state = mapperActive
	mp.s.fc[mp.family].PoolConnects++
	mp.s.p.log.Info("pool healthy again; moving the session back to it", "pool", pc.pool.URL, "from", from, "mapper", mp.id, "shard", mp.s.idx)
	if pc.sv != nil {
		sv := pc.sv
		mp.sv1Session(pc, sv.Extranonce1(), sv.Extranonce2Size(), sv.VersionMask(), sv.Difficulty())
		if j, ok := sv.LastJob(); ok {
			j.CleanJobs = true // work from the old session is void
			mp.sv1SetJob(&j)
		}
		return
	}
	mp.setJob(&pc.lastJob, false)
}

// mapperGCAfter is how long an extra shared session (nicehash, SV1
// aggregate) may stay empty before it is closed: long enough for a miner
// that reconnects at once, short enough that a burst of logins (whose
// departed miners leave slots dead until the next job) does not keep its
// pool connections for a minute. The shard's first session is never
// closed; new miners fill the oldest sessions first.
const mapperGCAfter = 10

// close ends the mapper: pool connections closed, no more dials.
func (mp *mapper) close() {
	if mp.state == mapperClosed {
		return
	}
	mp.state = mapperClosed
	mp.gen++
	if mp.retry != nil {
		mp.retry.Stop()
	}
	mp.resumeHeld()
	for _, pc := range append([]*poolConn{mp.conn, mp.pending}, mp.retiring...) {
		if pc != nil && !pc.dead {
			pc.conn.close()
		}
	}
	mp.forgetKept()
	mp.s.removeMapper(mp)
	mp.s.p.upstreams.Add(-1)
}

// dropRetiring forgets a retiring connection.
func (mp *mapper) dropRetiring(pc *poolConn) {
	for i, r := range mp.retiring {
		if r == pc {
			mp.retiring = append(mp.retiring[:i], mp.retiring[i+1:]...)
			return
		}
	}
}

// closeIfRetired closes a replaced connection once nothing is owed on it.
func (pc *poolConn) closeIfRetired() {
	mp := pc.mp
	if pc == mp.conn || pc == mp.pending || pc.dead {
		return
	}
	if pc.proto == nil || pc.proto.InFlight() == 0 {
		pc.dead = true
		pc.conn.close()
		mp.dropRetiring(pc)
	}
}

func newNiceHashTable() *nonce.Table[miner] { return nonce.NewNiceHash[miner]() }
