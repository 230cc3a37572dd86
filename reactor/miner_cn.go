package reactor

import (
	"bytes"
	"crypto/subtle"

	"forge.lthn.ai/core/go-proxy/nonce"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// msgAlreadyLoggedIn answers a second login on one connection.
const msgAlreadyLoggedIn = "Already logged in"

// handleCN serves one CryptoNote request (loop-only).
func (m *miner) handleCN(line []byte) bool {
	s := m.s
	req := &s.cnReq
	switch err := stratum.ParseRequest(&s.parser, line, req); err {
	case nil:
	case stratum.ErrBadID:
		m.replyError(&stratum.NullID, stratum.MsgInvalidRequest)
		return true
	default:
		s.fc[0].BadLines++
		return false
	}
	switch req.Method {
	case stratum.MethodLogin:
		m.loginCN(req)
	case stratum.MethodSubmit:
		m.submitCN(req)
	case stratum.MethodKeepalived:
		m.lastSeen = s.now
		s.out = stratum.AppendStatusReply(s.out[:0], &req.ID, "KEEPALIVED")
		m.send(s.out)
	default:
		m.replyError(&req.ID, stratum.MsgInvalidMethod)
	}
	return true
}

// loginCN is RFC §6.1: validate, apply the access password and custom
// difficulty, name the worker, route to a pool connection, and answer as
// soon as that connection has a job.
func (m *miner) loginCN(req *stratum.Request) {
	s, cfg := m.s, m.s.cfg
	if m.state != stateWaitLogin {
		m.replyError(&req.ID, msgAlreadyLoggedIn)
		return
	}
	p := &req.Params
	if err := p.ValidateLogin(); err != nil {
		m.refuse(&req.ID, string(err.(stratum.ProtocolError)))
		return
	}
	if cfg.AccessPassword != "" && subtle.ConstantTimeCompare(p.Pass, []byte(cfg.AccessPassword)) != 1 {
		m.refuse(&req.ID, stratum.MsgInvalidPassword)
		return
	}
	login, suffix := ParseDiffSuffix(p.Login)
	m.customDiff = cfg.CustomDiff
	if suffix != 0 {
		m.customDiff = suffix
	}
	m.names = s.namesOf(s.intern(login), s.intern(p.Agent))
	m.rigID = string(p.RigID) // unique per rig: interning would only add a map entry
	m.extAlgo = p.NumAlgos > 0
	worker := s.workerName(m, p.Pass)
	m.newSession()
	t := s.routeFor(m, FamilyCryptoNote, m.routeWorker(worker), true)
	mp := s.routeCN(m, t)
	if mp == nil {
		m.refuse(&req.ID, stratum.MsgProxyFull)
		return
	}
	s.setTarget(m, t)
	m.state = stateWaitReady
	m.lastSeen = s.now
	m.deadline = s.now + int64(cfg.IdleTimeout)
	s.workerLogin(m, worker)
	m.loggedIn = true
	if h := s.p.hooks.OnLogin; h != nil {
		h(m.event())
	}
	if mp.hasJob && mp.state == mapperActive {
		mp.sendFirstJob(m, &req.ID)
	} else {
		id := req.ID // answered with the pool's first job
		m.loginID = &id
	}
}

// refuse answers a login with an error and closes the connection once the
// answer is written.
func (m *miner) refuse(id *stratum.RequestID, msg string) {
	m.replyError(id, msg)
	m.close()
}

// ParseDiffSuffix splits a "+N" difficulty suffix off a login
// ("WALLET+50000" → "WALLET", 50000). N must be all digits and at least 100
// (xmrig-proxy's floor); a numeric suffix below that is still removed but
// sets no difficulty. Anything else ("WALLET+abc") is returned unchanged
// with 0.
func ParseDiffSuffix(login []byte) ([]byte, uint64) {
	i := bytes.LastIndexByte(login, '+')
	if i <= 0 || i == len(login)-1 || len(login)-i-1 > 19 {
		return login, 0
	}
	var n uint64
	for _, c := range login[i+1:] {
		if c < '0' || c > '9' {
			return login, 0
		}
		n = n*10 + uint64(c-'0')
	}
	if n < 100 {
		n = 0
	}
	return login[:i], n
}

// submitCN is RFC §6.2 plus the share rate limit and pool back-pressure
// (flow.go), the NiceHash nonce check, the job window, the duplicate check
// (duplicate.go) and the miner's own difficulty (custom, or vardiff's for
// the job it names: vardiff.go). Shares that meet the miner's difficulty
// but not the pool's are answered here and never forwarded.
func (m *miner) submitCN(req *stratum.Request) {
	s := m.s
	p := &req.Params
	if !m.admitSubmit(&req.ID) {
		return
	}
	if m.state != stateReady || !bytes.Equal(p.SessionID, m.sessionID()) {
		m.invalidShare(&req.ID, stratum.MsgUnauthenticated)
		return
	}
	m.lastSeen = s.now
	s.workerSubmitted(m, float64(m.diff))
	if err := p.ValidateSubmit(); err != nil {
		m.invalidShare(&req.ID, string(err.(stratum.ProtocolError)))
		return
	}
	mp, fixed, js := m.cnShareSession(p.JobID, p.Nonce) // the session the miner left, for a share of its job
	var variant uint8
	if js == nonce.JobUnknown && m.vd != nil {
		mp, fixed, js, variant = m.vdShareSessionCN(p) // a job re-sent with the miner's own difficulty
	}
	if mp.kind == kindNiceHash && stratum.NonceFixedByte(p.Nonce) != byte(fixed) {
		m.invalidShare(&req.ID, stratum.MsgNiceHashNonce)
		return
	}
	var poolDiff uint64
	switch js {
	case nonce.JobCurrent:
		poolDiff = mp.jobDiff
	case nonce.JobPrevious:
		poolDiff = mp.prevDiff
	default:
		m.invalidShare(&req.ID, stratum.MsgInvalidJobID)
		return
	}
	if len(p.Algo) > 0 && mp.job.Algo != "" && string(p.Algo) != mp.job.Algo && string(p.Algo) != mp.prevAlgo {
		m.invalidShare(&req.ID, stratum.MsgIncorrectAlgo)
		return
	}
	key, expired := cnShareKey(p.Nonce), js == nonce.JobPrevious
	if mp.seen.Has(key, expired) {
		m.invalidShare(&req.ID, stratum.MsgDuplicateShare)
		return
	}
	actual := stratum.ResultDifficulty(p.Result)
	minerDiff := poolDiff
	if m.customDiff != 0 && m.customDiff < poolDiff {
		minerDiff = m.customDiff
	}
	minerDiff = m.vdJudgedCN(mp, js, variant, minerDiff)
	if actual < minerDiff {
		m.invalidShare(&req.ID, stratum.MsgLowDifficulty)
		return
	}
	if actual < poolDiff {
		if !recordShare(m, mp, &mp.seen, key, expired) {
			m.invalidShare(&req.ID, msgTooManyShares)
			return
		}
		m.localAccept(mp, &req.ID, minerDiff, actual)
		m.vdShare(mp, float64(minerDiff))
		return
	}
	if !mp.canSubmit() {
		m.invalidShare(&req.ID, stratum.MsgBadGateway)
		return
	}
	if !recordShare(m, mp, &mp.seen, key, expired) {
		m.invalidShare(&req.ID, msgTooManyShares)
		return
	}
	mp.submitCN(m, req, uint64(m.shareCredit(float64(minerDiff), float64(poolDiff))), actual, expired)
	m.vdShare(mp, float64(minerDiff))
}

// invalidShare answers a share the proxy rejects itself and counts it.
func (m *miner) invalidShare(id *stratum.RequestID, msg string) {
	s := m.s
	s.fc[m.family].Invalid++
	s.workerInvalid(m)
	m.replyError(id, msg)
	if h := s.p.hooks.OnReject; h != nil {
		e := m.shareEvent()
		e.Local = true
		e.Reason = msg
		h(e)
	}
}

// localAccept answers OK for a share below the pool's difficulty but at or
// above the miner's custom difficulty.
func (m *miner) localAccept(mp *mapper, id *stratum.RequestID, diff, actual uint64) {
	s := m.s
	s.fc[m.family].CustomAccepted++
	s.fc[m.family].CustomHashes += float64(diff)
	s.credit(m, mp, float64(diff))
	if s.cfg.CustomDiffStats || m.vdCounts() {
		s.recordAccept(m, float64(diff), float64(diff), actual, 0)
	}
	s.out = stratum.AppendStatusReply(s.out[:0], id, "OK")
	m.send(s.out)
	if h := s.p.hooks.OnAccept; h != nil {
		e := m.shareEvent()
		e.Diff = diff
		e.Actual = actual
		e.Local = true
		h(e)
	}
}
