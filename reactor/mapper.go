package reactor

import (
	"time"

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
	pools  []upstream.PoolConfig // the target's chain: its enabled pools, in order
	fo     *upstream.Failover
	// tgt is the routing target the session serves (nil: not routed —
	// SV1 passthrough); orphan marks a session whose target a reload
	// removed: it takes no miner and closes once empty.
	tgt    *target
	orphan bool
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
	// stamp is the shard-unique stamp of the current job (miner.jobMark);
	// fan is the sliced fan-out of that job to the miners (fanout.go).
	stamp uint32
	fan   fanCursor

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
	// expireFn is a method value made once, so expiring allocates nothing.
	expireFn func(upstream.Pending[submitTag])
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

// newMapper opens a pool session of target t (nil: the enabled pools of
// the family, for shards without a route table).
func (s *shard) newMapper(fam Family, kind mapperKind, t *target) *mapper {
	mp := &mapper{
		s:      s,
		id:     s.p.mapperSeq.Add(1),
		family: fam,
		kind:   kind,
		tgt:    t,
	}
	if t != nil {
		mp.pools = t.pools
	} else {
		mp.pools = s.p.enabledPools(s.cfg, fam)
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
		(mp.orphan || mp != s.firstMapper(mp.family, mp.tgt)) && s.now-mp.emptySince >= mapperGCAfter:
		mp.close()
	case mp.kind == kindSimple && mp.state == mapperIdle && s.now-mp.idleSince >= int64(cfg.ReuseTimeout):
		mp.close()
	case mp.kind == kindSV1Pass && mp.state == mapperIdle && s.now-mp.idleSince >= int64(cfg.Registry.Keep):
		mp.close()
	}
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
	mp.s.fanDrop(mp)
	mp.s.removeMapper(mp)
	mp.s.p.upstreams.Add(-1)
}

func newNiceHashTable() *nonce.Table[miner] { return nonce.NewNiceHash[miner]() }
