package reactor

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"forge.lthn.ai/core/go-proxy/registry"
	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// A passthrough pool session is kept registry.keep seconds after its miner
// leaves, so the miner can resume it with its subscription id. The miner
// comes back on whichever event loop the kernel picks, so the kept
// sessions are indexed proxy-wide: a resuming mining.subscribe that lands
// on a loop that does not hold the session claims the entry, the owning
// loop releases its session, and this loop opens a pool session for the
// same account (credentials from the entry) and answers the subscribe once
// that session is up, with its extranonce — the miner needs no further
// client.reconnect, and the authorize that follows finds its session.

// KeptSessions is the proxy-wide index of kept passthrough sessions, by
// subscription id. The in-memory one (NewMemKeptSessions) serves one
// process; a store shared by several processes can implement it too.
//
// Keep and Forget are called on event loops and must not block (an
// in-memory map, or a write-behind queue in front of a shared store);
// Claim is called from a goroutine of its own and may block until ctx
// ends. All three must be safe for concurrent use.
type KeptSessions interface {
	// Keep records the kept session subscribed as sub.
	Keep(sub string, k KeptSession)
	// Claim removes sub's entry and returns it; ok is false when there is
	// none or it has expired. Two claims of one entry: one wins.
	Claim(ctx context.Context, sub string) (k KeptSession, ok bool, err error)
	// Forget removes sub's entry if owner still holds it (a session
	// resumed or closed by its loop).
	Forget(sub string, owner KeptOwner)
}

// KeptOwner names the pool session holding a kept entry: the event loop
// (shard index, as in UpstreamView.Shard) and its session id
// (UpstreamView.ID).
type KeptOwner struct {
	Shard  int
	Mapper uint64
}

// KeptSession is one kept passthrough session: who holds it, the account,
// and the pool entry with its credentials (the password is redacted
// wherever the value is printed or logged).
type KeptSession struct {
	Owner       KeptOwner
	Account     string
	Credentials registry.Credentials
	Expires     time.Time
}

// WithKeptSessions replaces the in-memory index of kept passthrough
// sessions (for a store shared by several processes).
func WithKeptSessions(k KeptSessions) Option { return func(p *Proxy) { p.keptIdx = k } }

// memKept is the in-memory KeptSessions.
type memKept struct {
	mu sync.Mutex
	m  map[string]KeptSession
}

// NewMemKeptSessions returns the in-memory index a Proxy uses by default.
func NewMemKeptSessions() KeptSessions { return &memKept{m: map[string]KeptSession{}} }

// memKeptPrune is the size at which Keep first drops expired entries
// (every kept session is forgotten when it closes; this only bounds what
// a lost Forget could leave).
const memKeptPrune = 4096

func (k *memKept) Keep(sub string, e KeptSession) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.m) >= memKeptPrune {
		now := time.Now()
		for s, x := range k.m {
			if now.After(x.Expires) {
				delete(k.m, s)
			}
		}
	}
	k.m[sub] = e
}

func (k *memKept) Claim(_ context.Context, sub string) (KeptSession, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.m[sub]
	if !ok {
		return KeptSession{}, false, nil
	}
	delete(k.m, sub)
	if time.Now().After(e.Expires) {
		return KeptSession{}, false, nil
	}
	return e, true, nil
}

func (k *memKept) Forget(sub string, owner KeptOwner) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, ok := k.m[sub]; ok && e.Owner == owner {
		delete(k.m, sub)
	}
}

// keptTimeout bounds one Claim.
const keptTimeout = 5 * time.Second

// sv1Resume is a passthrough miner's resume while it is under way: the
// subscribe waits for its session, and an authorize sent meanwhile is
// held and answered after the subscribe.
type sv1Resume struct {
	held     bool
	heldID   stratum.RequestID
	heldName string
}

// keptEntry describes mp, kept keep seconds, for the proxy-wide index.
func (mp *mapper) keptEntry(keep int) KeptSession {
	pool := upstream.PoolConfig{}
	if len(mp.pools) > 0 {
		pool = mp.pools[0]
	}
	return KeptSession{
		Owner:   KeptOwner{Shard: mp.s.idx, Mapper: mp.id},
		Account: mp.account,
		Credentials: registry.Credentials{
			Name: mp.account, Pool: pool.URL, User: pool.User, Password: pool.Pass,
			Algorithm: pool.Algo, Divider: mp.sv.divider, Family: registry.FamilySV1,
		},
		Expires: time.Now().Add(secs(keep)),
	}
}

// forgetKept drops mp's entries, local and proxy-wide, when it stops
// being kept (resumed here, or closed).
func (mp *mapper) forgetKept() {
	s := mp.s
	if mp.subID == "" || s.kept[mp.subID] != mp {
		return
	}
	delete(s.kept, mp.subID)
	if k := s.p.keptIdx; k != nil {
		k.Forget(mp.subID, KeptOwner{Shard: s.idx, Mapper: mp.id})
	}
}

// sv1ClaimKept looks for the miner's kept session on the other loops (the
// subscribe asked for session sub, which this loop does not hold). The
// subscribe stays unanswered until the lookup ends.
func (m *miner) sv1ClaimKept(sub string) {
	s, p := m.s, m.s.p
	m.sv.resume = &sv1Resume{}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(p.ctx, keptTimeout)
		k, ok, err := p.keptIdx.Claim(ctx, sub)
		cancel()
		if err != nil {
			p.warnLimited("kept session lookup failed", "err", err)
		}
		owner := p.shardByIndex(k.Owner.Shard)
		if !ok || owner == nil || owner == s {
			s.exec(func() { m.sv1KeptClaimed(sub, k, ok) })
			return
		}
		// The owner releases its session first, so the pool sees one
		// session of the account at a time and max-upstreams holds.
		owner.exec(func() {
			owner.releaseKept(sub, k.Owner.Mapper)
			s.exec(func() { m.sv1KeptClaimed(sub, k, true) })
		})
	}()
}

// releaseKept closes the session kept for sub if it is still mapper id
// and still kept (loop-only).
func (s *shard) releaseKept(sub string, id uint64) {
	if mp := s.kept[sub]; mp != nil && mp.id == id && mp.state == mapperIdle {
		mp.close()
	}
}

// shardByIndex returns the shard of event loop idx, or nil.
func (p *Proxy) shardByIndex(idx int) *shard {
	for _, s := range p.shardList() {
		if s.idx == idx {
			return s
		}
	}
	return nil
}

// sv1KeptClaimed continues a resuming subscribe on the miner's loop: with
// the claimed entry, a pool session for its account opens and the
// subscribe is answered once it is up (sv1Align); without one, the
// subscribe is answered as a fresh one. (A miner that left while the
// lookup ran loses the kept session: it was released for it.)
func (m *miner) sv1KeptClaimed(sub string, k KeptSession, ok bool) {
	s := m.s
	if m.state >= stateClosing || m.sv.resume == nil {
		return
	}
	if !ok || m.mp != nil {
		m.sv1AnswerPassthroughSubscribe()
		return
	}
	if !s.p.reserveUpstream() {
		m.sv.resume = nil
		m.sv1Refuse(stratum.MsgProxyFull)
		return
	}
	mp := s.newPassthroughMapper(k.Account, k.Credentials)
	mp.table.Add(m)
	m.mp, m.fixed = mp, 0
	if id, err := uuid.Parse(sub); err == nil {
		m.session = id // the same subscription id, as on the loop that kept it
	}
	s.p.log.Debug("passthrough session resumed on another event loop", "shard", s.idx, "from", k.Owner.Shard, "mapper", mp.id)
}

// sv1AnswerPassthroughSubscribe answers the pending subscribe with what
// the miner's session has (an empty extranonce before the account's pool
// session is up), then an authorize held meanwhile.
func (m *miner) sv1AnswerPassthroughSubscribe() {
	s, sv := m.s, m.sv
	sv.subPending = false
	e1, size := []byte(nil), 8
	if m.mp != nil && m.mp.sv.hasSession {
		e1, size = m.mp.sv.e1, m.mp.sv.n
	}
	sv.e1n = uint8(copy(sv.e1[:], e1))
	sv.e2size = size
	s.out = stratum.AppendSV1SubscribeReply(s.out[:0], &sv.subID, m.sessionID(), sv.e1[:sv.e1n], size)
	m.send(s.out)
	m.sv1RunHeldAuthorize()
}

// sv1ResumeReady answers a resumed miner's subscribe now that its session
// is up (called from sv1Align with the extranonce set), starts it if it
// is authorized, then answers an authorize held meanwhile.
func (m *miner) sv1ResumeReady() {
	m.sv1Placed()
	m.sv1RunHeldAuthorize()
}

// sv1RunHeldAuthorize ends a resume: an authorize that arrived while the
// subscribe was pending is answered now, after the subscribe.
func (m *miner) sv1RunHeldAuthorize() {
	r := m.sv.resume
	m.sv.resume = nil
	if r == nil || !r.held || m.state >= stateClosing {
		return
	}
	var req stratum.SV1Request
	req.ID = r.heldID
	m.sv1AuthorizePassthrough(&req, []byte(r.heldName))
}

// sv1HoldAuthorize keeps an authorize sent while a resume is under way;
// it reports false when there is none.
func (m *miner) sv1HoldAuthorize(id stratum.RequestID, name []byte) bool {
	r := m.sv.resume
	if r == nil {
		return false
	}
	if r.held {
		m.replySV1Error(&id, errSV1AuthorizeInProgress)
		return true
	}
	r.held, r.heldID, r.heldName = true, id, string(name)
	return true
}
