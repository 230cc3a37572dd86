package reactor

import (
	"context"

	"errors"
	"github.com/google/uuid"
	"time"

	"forge.lthn.ai/core/go-proxy/registry"
	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// Accounts resolves the account names SV1 miners authorize with in
// passthrough mode. Every registry.Store implements it. It is called from
// goroutines, never from an event loop, and must be safe for concurrent
// use. An unknown name returns an error wrapping registry.ErrNotFound.
type Accounts interface {
	Credentials(ctx context.Context, name string) (registry.Credentials, error)
	Touch(ctx context.Context, name string, t time.Time) error
}

// WithAccounts sets the account store used by sv1-mode "passthrough".
func WithAccounts(a Accounts) Option { return func(p *Proxy) { p.accounts = a } }

// errSV1AuthorizeInProgress answers an authorize sent while the
// connection's first one is still being looked up.
var errSV1AuthorizeInProgress = &stratum.SV1Error{Code: stratum.SV1CodeOther, Message: "Authorization in progress"}

// accountTimeout bounds one account lookup.
const accountTimeout = 5 * time.Second

// sv1AuthorizePassthrough resolves the account off the loop, then opens
// (or resumes) the miner's own pool session with the account's
// credentials. An unknown name gets error 24 and the connection closes.
func (m *miner) sv1AuthorizePassthrough(req *stratum.SV1Request, name []byte) {
	s := m.s
	if m.sv1HoldAuthorize(req.ID, name) {
		return // answered after the resuming subscribe (see kept.go)
	}
	if mp := m.mp; mp != nil && mp.account == string(name) {
		m.sv1Authorized(req.ID) // resumed session of the same account
		return
	}
	if m.mp != nil {
		m.mp.removeMiner(m) // resumed a session of another account: drop it
		m.mp = nil
	}
	if s.p.accounts == nil {
		m.replySV1Error(&req.ID, stratum.ErrSV1Unauthorized)
		m.close()
		return
	}
	if m.sv.authorizing {
		// One account per connection: a second authorize while the first
		// is being looked up would open a second pool session.
		m.replySV1Error(&req.ID, errSV1AuthorizeInProgress)
		return
	}
	m.sv.authorizing = true
	id, acct, p := req.ID, string(name), s.p
	m.state = stateWaitReady
	m.deadline = s.now + int64(s.cfg.LoginTimeout)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(p.ctx, accountTimeout)
		cred, err := p.accounts.Credentials(ctx, acct)
		if err == nil {
			_ = p.accounts.Touch(ctx, acct, time.Now())
		}
		cancel()
		s.exec(func() { m.sv1AccountResolved(id, acct, cred, err) })
	}()
}

// sv1AccountResolved continues an authorize on the loop.
func (m *miner) sv1AccountResolved(id stratum.RequestID, name string, cred registry.Credentials, err error) {
	s := m.s
	m.sv.authorizing = false
	if m.state >= stateClosing || m.sv.authorized || m.mp != nil {
		return
	}
	if err != nil || cred.Family != registry.FamilySV1 {
		if err != nil && !errors.Is(err, registry.ErrNotFound) {
			s.p.warnLimited("account lookup failed", "err", err)
		}
		m.replySV1Error(&id, stratum.ErrSV1Unauthorized)
		m.close()
		return
	}
	if !s.p.reserveUpstream() {
		m.replySV1Error(&id, &stratum.SV1Error{Code: stratum.SV1CodeOther, Message: stratum.MsgProxyFull})
		m.close()
		return
	}
	mp := s.newPassthroughMapper(name, cred)
	mp.table.Add(m)
	m.mp, m.fixed = mp, 0
	m.sv1Authorized(id)
}

// sv1Authorized finishes a passthrough authorize.
func (m *miner) sv1Authorized(id stratum.RequestID) {
	s := m.s
	m.sv.authorized = true
	s.workerLogin(m, m.sv.worker)
	m.loggedIn = true
	if h := s.p.hooks.OnLogin; h != nil {
		h(m.event())
	}
	m.replySV1Bool(&id, true)
	mp := m.mp
	if mp.sv.hasSession {
		m.sv1Align(mp, 0)
		if m.state < stateClosing {
			m.sv1Start()
		}
		return
	}
	m.state = stateWaitReady
	m.deadline = s.now + int64(s.cfg.IdleTimeout)
}

// newPassthroughMapper opens the pool session of one account.
func (s *shard) newPassthroughMapper(name string, cred registry.Credentials) *mapper {
	pool := upstream.PoolConfig{URL: cred.Pool, User: cred.User, Pass: cred.Password, Family: upstream.SV1, Algo: cred.Algorithm}
	mp := &mapper{s: s, id: s.p.mapperSeq.Add(1), family: FamilySV1, kind: kindSV1Pass, pools: []upstream.PoolConfig{pool}, account: name}
	mp.init()
	var clamped bool
	mp.sv.divider, clamped = clampDivider(cred.Divider)
	if clamped {
		// A store written by an older version (or by hand) may hold one:
		// the counters must stay finite.
		s.p.warnLimited("account's algorithm divider out of range; using a bounded one", "algorithm", cred.Algorithm, "divider", cred.Divider, "using", mp.sv.divider)
	}
	s.mappers = append(s.mappers, mp)
	mp.dial()
	return mp
}

// sv1PassthroughSubscribe answers a passthrough subscribe: at once from a
// session this loop keeps when the miner resumes one (subscribe's session
// id), once a session kept by another loop has been moved here (see
// kept.go), or at once with an empty extranonce otherwise (replaced once
// the account's pool answers).
func (m *miner) sv1PassthroughSubscribe() {
	s, sv := m.s, m.sv
	if sv.session != "" {
		if mp := s.kept[sv.session]; mp != nil && mp.state != mapperClosed {
			mp.forgetKept()
			mp.table.Release()
			if _, ok := mp.table.Add(m); ok {
				m.mp, m.fixed = mp, 0
				mp.state = mapperActive
				if id, err := uuid.Parse(mp.subID); err == nil {
					m.session = id
				}
			}
		} else if s.p.keptIdx != nil {
			m.sv1ClaimKept(sv.session)
			return
		}
	}
	m.sv1AnswerPassthroughSubscribe()
}

// keepPassthrough parks an account's session after its miner left, so the
// miner can resume it with its subscription id.
func (mp *mapper) keepPassthrough(m *miner) {
	s := mp.s
	keep := s.cfg.Registry.Keep
	if keep <= 0 || mp.state != mapperActive {
		mp.close()
		return
	}
	mp.state = mapperIdle
	mp.idleSince = s.now
	mp.subID = string(m.sessionID())
	s.kept[mp.subID] = mp
	if k := s.p.keptIdx; k != nil {
		k.Keep(mp.subID, mp.keptEntry(keep)) // findable from every loop
	}
	if mp.account != "" && s.p.accounts != nil {
		name, p := mp.account, s.p
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			ctx, cancel := context.WithTimeout(p.ctx, accountTimeout)
			_ = p.accounts.Touch(ctx, name, time.Now())
			cancel()
		}()
	}
}
