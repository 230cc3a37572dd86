package reactor

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/panjf2000/gnet/v2"

	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// A pool connection of a mapper: dialling, the login, client.reconnect,
// and what happens when it closes or cannot be opened. (Which pool it
// dials, and when a higher-priority pool takes over again, is failover.go.)

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
	// coalesced holds the lines written while the shard's fan-out runs,
	// sent at the next slice (fanout.go); its memory is kept for reuse.
	coalesced []byte
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

// write sends b to the pool; the caller may reuse b at once. While the
// shard's fan-out runs, b is appended to the connection's coalesced
// output and sent at the start of the next slice with the other lines
// written meanwhile (fanout.go); otherwise it goes out now.
func (pc *poolConn) write(b []byte) {
	s := pc.mp.s
	if len(pc.coalesced) > 0 || s.fanBusy() {
		if len(pc.coalesced) == 0 {
			s.fan.flush = append(s.fan.flush, pc)
		}
		pc.coalesced = append(pc.coalesced, b...)
		if len(pc.coalesced) >= maxCoalesced {
			pc.flushCoalesced()
		}
		return
	}
	pc.writeNow(b)
}

// flushCoalesced writes the coalesced output now, keeping its buffer.
func (pc *poolConn) flushCoalesced() {
	b := pc.coalesced
	pc.coalesced = nil // a write re-entered from writeNow starts anew
	if len(b) > 0 && !pc.dead {
		pc.writeNow(b)
	}
	if pc.coalesced == nil {
		pc.coalesced = b[:0]
	}
}

// maxCoalesced is the most a pool connection's coalesced output holds
// before it is written without waiting for the next slice.
const maxCoalesced = 32 << 10

// buffered returns the bytes written to the pool and not yet sent.
func (pc *poolConn) buffered() int { return pc.conn.buffered() + len(pc.coalesced) }

// writeNow sends b to the pool. A pool that stopped reading (1 MiB
// waiting) or a connection already failing is closed: its closed() fails
// over and answers the submits it owed, instead of every later share
// failing quietly (and logging) on a dead link.
func (pc *poolConn) writeNow(b []byte) {
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
