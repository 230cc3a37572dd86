package reactor

import (
	"context"
	"errors"
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
//
// Behind a balancer the miner may come back on another go-proxy instance.
// With a shared store (NewStoreKeptSessions over registry.Store) every
// authorized passthrough miner's subscription id is recorded with its
// account before the miner can be asked to reconnect, so the instance
// that receives the resuming subscribe looks the account up, opens a pool
// session for it and answers once it is up, as above. And a miner is
// asked to reconnect at most once per ReconnectWindow per subscription id
// (the mark is in the store, so it holds across instances): a miner whose
// session's extranonce changes again within the window is disconnected
// without client.reconnect instead. No balancer can make the proxy send
// reconnects in a loop.

// KeptSessions is the proxy-wide index of kept passthrough sessions, by
// subscription id, and the record of which account a subscription id
// belongs to. The in-memory one (NewMemKeptSessions) serves one process;
// NewStoreKeptSessions shares the records through the account store
// between the instances behind a balancer.
//
// Keep and Forget are called on event loops and must not block (an
// in-memory map, or a write-behind queue in front of a shared store);
// Claim, Record and Reconnect are called from goroutines of their own and
// may block until ctx ends. All must be safe for concurrent use.
type KeptSessions interface {
	// Keep records the kept session subscribed as sub.
	Keep(sub string, k KeptSession)
	// Claim removes sub's entry and returns it; ok is false when there is
	// none or it has expired. Two claims of one entry in this process: one
	// wins. An entry recorded by another process is looked up, not removed
	// (several instances may resume the same account; each opens its own
	// pool session, and the reconnect bound stops any loop). An entry
	// recorded by another process names the account only: its Owner.Shard
	// is -1 and its Credentials are empty (the claimer resolves them).
	Claim(ctx context.Context, sub string) (k KeptSession, ok bool, err error)
	// Forget removes sub's entry if owner still holds it (a session
	// resumed or closed by its loop).
	Forget(sub string, owner KeptOwner)
	// Record notes that the miner subscribed as sub authorized (or
	// resumed) with account, so that a resume of sub finds the account on
	// any instance. It is called before the miner can be asked to
	// reconnect; an error matching registry.ErrNotFound means the account
	// is gone, another error fails the authorize (the store is
	// unavailable).
	Record(ctx context.Context, sub, account string) error
	// Reconnect reports whether the miner subscribed as sub may be sent
	// client.reconnect now, and if so records it: at most once per
	// ReconnectWindow per sub. A store that cannot tell answers false.
	Reconnect(ctx context.Context, sub string) (bool, error)
}

// ReconnectWindow is the shortest interval between two client.reconnect
// sent to a passthrough miner with the same subscription id.
const ReconnectWindow = 10 * time.Minute

// SessionRecordTTL is how long a recorded subscription id stays valid in
// a shared store; the records of connected miners are renewed (hourly, by
// go-proxy's expiry run) so they outlive an instance that dies.
const SessionRecordTTL = 24 * time.Hour

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
	// reconnected is when each subscription id was last sent
	// client.reconnect (entries older than ReconnectWindow are dropped).
	reconnected map[string]time.Time
	// pruneKept and pruneRec are the sizes at which the next Keep or
	// Reconnect drops expired entries (doubling, so a burst stays linear).
	pruneKept, pruneRec int
}

// NewMemKeptSessions returns the in-memory index a Proxy uses by default.
// It records no accounts (Record does nothing: a resume in this process
// finds the kept session itself) and bounds reconnects in memory.
func NewMemKeptSessions() KeptSessions {
	return &memKept{m: map[string]KeptSession{}, reconnected: map[string]time.Time{}, pruneKept: memKeptPrune, pruneRec: memKeptPrune}
}

// memKeptPrune is the size at which Keep first drops expired entries
// (every kept session is forgotten when it closes; this only bounds what
// a lost Forget could leave).
const memKeptPrune = 4096

func (k *memKept) Keep(sub string, e KeptSession) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.m) >= k.pruneKept {
		now := time.Now()
		for s, x := range k.m {
			if now.After(x.Expires) {
				delete(k.m, s)
			}
		}
		k.pruneKept = max(memKeptPrune, 2*len(k.m))
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

func (k *memKept) Record(context.Context, string, string) error { return nil }

func (k *memKept) Reconnect(_ context.Context, sub string) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now()
	if last, ok := k.reconnected[sub]; ok && now.Sub(last) < ReconnectWindow {
		return false, nil
	}
	if len(k.reconnected) >= k.pruneRec {
		for s, t := range k.reconnected {
			if now.Sub(t) >= ReconnectWindow {
				delete(k.reconnected, s)
			}
		}
		k.pruneRec = max(memKeptPrune, 2*len(k.reconnected))
	}
	k.reconnected[sub] = now
	return true, nil
}

// SessionStore is what NewStoreKeptSessions needs from the account store;
// registry.Store implements it (SQLite for one instance, PostgreSQL for
// several).
type SessionStore interface {
	PutSession(ctx context.Context, subID, account string, ttl time.Duration) error
	LookupSession(ctx context.Context, subID string) (string, error)
	MarkReconnect(ctx context.Context, subID string, window time.Duration) (bool, error)
}

// storeKept is the KeptSessions of instances sharing a store: kept
// sessions are indexed in memory (they live in this process), the
// subscription ids' accounts and reconnect marks in the store.
type storeKept struct {
	*memKept
	st SessionStore
}

// NewStoreKeptSessions returns a KeptSessions that records subscription
// ids and reconnects in st, so that a miner resuming on another instance
// (behind a balancer) finds its account there, and that the reconnect
// bound holds across instances. Sessions kept by this process are still
// found in memory first.
func NewStoreKeptSessions(st SessionStore) KeptSessions {
	return &storeKept{memKept: NewMemKeptSessions().(*memKept), st: st}
}

// Claim finds sub's kept session in this process, else its account in the
// store (Owner.Shard -1, no credentials). A session another instance still
// keeps is not released there: it closes when its registry.keep ends.
func (k *storeKept) Claim(ctx context.Context, sub string) (KeptSession, bool, error) {
	if e, ok, _ := k.memKept.Claim(ctx, sub); ok {
		return e, true, nil
	}
	acct, err := k.st.LookupSession(ctx, sub)
	if errors.Is(err, registry.ErrNotFound) {
		return KeptSession{}, false, nil
	}
	if err != nil {
		return KeptSession{}, false, err
	}
	return KeptSession{Owner: KeptOwner{Shard: -1}, Account: acct}, true, nil
}

func (k *storeKept) Record(ctx context.Context, sub, account string) error {
	return k.st.PutSession(ctx, sub, account, SessionRecordTTL)
}

func (k *storeKept) Reconnect(ctx context.Context, sub string) (bool, error) {
	return k.st.MarkReconnect(ctx, sub, ReconnectWindow)
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
		if err != nil {
			p.warnLimited("kept session lookup failed", "err", err)
		}
		if ok && k.Credentials.Pool == "" {
			// Recorded by another instance: the account's credentials
			// come from the account store.
			k, ok = p.keptCredentials(ctx, k)
		}
		cancel()
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

// keptCredentials fills in the credentials of an entry that names only
// its account; ok is false when they cannot be had (the failure is
// logged, rate-limited, unless the account is simply gone).
func (p *Proxy) keptCredentials(ctx context.Context, k KeptSession) (KeptSession, bool) {
	if p.accounts == nil {
		return k, false
	}
	cred, err := p.accounts.Credentials(ctx, k.Account)
	if err != nil {
		if !errors.Is(err, registry.ErrNotFound) {
			p.warnLimited("account lookup for a resuming miner failed", "err", err)
		}
		return k, false
	}
	if cred.Family != registry.FamilySV1 {
		return k, false
	}
	k.Credentials = cred
	return k, true
}

// recordSession renews, in the background, the record of the miner
// subscribed as sub using account (a resume; see KeptSessions.Record).
// A failure only shortens how long a resume elsewhere finds it.
func (p *Proxy) recordSession(sub, account string) {
	if _, mem := p.keptIdx.(*memKept); mem {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(p.ctx, accountTimeout)
		err := p.keptIdx.Record(ctx, sub, account)
		cancel()
		if err != nil && !errors.Is(err, registry.ErrNotFound) && p.ctx.Err() == nil {
			p.warnLimited("recording a resumed passthrough session failed", "err", err)
		}
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
	s.p.recordSession(sub, k.Account)
	if k.Owner.Shard < 0 {
		s.p.log.Debug("passthrough session resumed from the shared store", "shard", s.idx, "mapper", mp.id)
		return
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
