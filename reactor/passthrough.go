package reactor

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

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

// errSV1StoreUnavailable answers an authorize whose account could not be
// looked up because the account store did not answer (the miner should
// try again; its account may well exist).
var errSV1StoreUnavailable = &stratum.SV1Error{Code: stratum.SV1CodeOther, Message: "Account store unavailable, try again later"}

// accountTimeout bounds one account lookup.
const accountTimeout = 5 * time.Second

// accountWait bounds how long a passthrough authorize keeps retrying an
// account store that fails (a database restarting, a broken connection
// being replaced) before the miner gets errSV1StoreUnavailable. A
// variable for the tests only.
var accountWait = 20 * time.Second

// sv1AuthorizePassthrough resolves the account off the loop, then opens
// (or resumes) the miner's own pool session with the account's
// credentials. An unknown name gets error 24 and the connection closes.
func (m *miner) sv1AuthorizePassthrough(req *stratum.SV1Request, name []byte) {
	s := m.s
	if m.sv1HoldAuthorize(req.ID, name) {
		return // answered after the resuming subscribe (see kept.go)
	}
	if mp := m.mp; mp != nil && strings.EqualFold(mp.account, string(name)) {
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
	if m.session == ([16]byte{}) {
		m.newSession() // an authorize before the subscribe
	}
	id, acct, sub, p := req.ID, string(name), string(m.sessionID()), s.p
	m.state = stateWaitReady
	m.deadline = s.now + int64(s.cfg.LoginTimeout) + int64((accountWait+accountTimeout)/time.Second)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		cred, err := p.resolveAccount(acct, sub)
		s.exec(func() { m.sv1AccountResolved(id, acct, cred, err) })
	}()
}

// resolveAccount looks up the credentials of account name and records that
// the miner subscribed as sub uses it (KeptSessions.Record: before the
// miner can be asked to reconnect, so its resume finds the account on any
// instance), retrying while the store fails for up to accountWait. An
// unknown account fails at once with registry.ErrNotFound.
func (p *Proxy) resolveAccount(name, sub string) (registry.Credentials, error) {
	deadline := time.Now().Add(accountWait)
	pause := 250 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(p.ctx, accountTimeout)
		cred, err := p.accounts.Credentials(ctx, name)
		if err == nil && cred.Family == registry.FamilySV1 {
			err = p.keptIdx.Record(ctx, sub, name)
			if err == nil {
				_ = p.accounts.Touch(ctx, name, time.Now())
			}
		}
		cancel()
		if err == nil || errors.Is(err, registry.ErrNotFound) || p.ctx.Err() != nil || time.Now().Add(pause).After(deadline) {
			return cred, err
		}
		select {
		case <-p.ctx.Done():
			return cred, err
		case <-time.After(pause):
		}
		pause = min(2*pause, 4*time.Second)
	}
}

// sv1AccountResolved continues an authorize on the loop.
func (m *miner) sv1AccountResolved(id stratum.RequestID, name string, cred registry.Credentials, err error) {
	s := m.s
	m.sv.authorizing = false
	if m.state >= stateClosing || m.sv.authorized || m.mp != nil {
		return
	}
	if err != nil && !errors.Is(err, registry.ErrNotFound) {
		s.p.warnLimited("account lookup failed", "err", err)
		m.replySV1Error(&id, errSV1StoreUnavailable)
		m.close()
		return
	}
	if err != nil || cred.Family != registry.FamilySV1 {
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
		if m.state < stateClosing && !m.sv.realign {
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
	if sv.session != "" && m.mp == nil && !sv.authorizing && !sv.authorized {
		if mp := s.kept[sv.session]; mp != nil && mp.state != mapperClosed {
			mp.forgetKept()
			mp.table.Release()
			if _, ok := mp.table.Add(m); ok {
				m.mp, m.fixed = mp, 0
				mp.state = mapperActive
				if id, err := uuid.Parse(mp.subID); err == nil {
					m.session = id
				}
				s.p.recordSession(mp.subID, mp.account)
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

// sv1AskReconnect asks a passthrough miner that cannot be told its new
// extranonce (no mining.extranonce.subscribe) to reconnect, if the
// reconnect bound allows (KeptSessions.Reconnect: once per
// ReconnectWindow per subscription id, across instances with a shared
// store); otherwise the miner is disconnected without client.reconnect and
// comes back at its own pace. Until the answer the miner gets no job: its
// extranonce is dead.
func (m *miner) sv1AskReconnect() {
	if m.sv.realign {
		return
	}
	m.sv.realign = true
	s, p := m.s, m.s.p
	sub := string(m.sessionID())
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(p.ctx, keptTimeout)
		ok, err := p.keptIdx.Reconnect(ctx, sub)
		cancel()
		if err != nil && p.ctx.Err() == nil {
			p.warnLimited("recording a passthrough reconnect failed", "err", err)
		}
		s.exec(func() { m.sv1ReconnectDecided(ok) })
	}()
}

// sv1ReconnectDecided sends the reconnect sv1AskReconnect asked for, or
// closes the miner without one.
func (m *miner) sv1ReconnectDecided(ok bool) {
	m.sv.realign = false
	if m.state >= stateClosing {
		return
	}
	if ok {
		m.sv1Reconnect()
		return
	}
	m.s.p.log.Debug("passthrough miner disconnected without client.reconnect: one was sent within the reconnect window, or its session is not recorded", "miner", m.id)
	m.close()
}
