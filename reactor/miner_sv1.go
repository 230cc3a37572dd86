package reactor

import (
	"crypto/subtle"

	"encoding/binary"
	"forge.lthn.ai/core/go-proxy/upstream"
	"time"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// sv1Miner is the stratum v1 state of a miner (nil for CryptoNote ones).
type sv1Miner struct {
	subscribed, authorized bool
	authorizing            bool // passthrough: the account lookup is in flight
	xsub                   bool // asked for mining.set_extranonce updates
	queued                 bool // waiting for a pool session
	subPending             bool // subscribe answered once placed
	subID                  stratum.RequestID
	minerMask              uint32 // mask the miner asked for (0: no rolling)
	mask                   uint32 // mask granted
	e1                     [2 * stratum.MaxSV1ExtranonceSize]byte
	e1n                    uint8
	e2size                 int
	diff                   float64    // difficulty last sent
	custom                 float64    // requested difficulty (+N, suggest, custom-diff)
	session                string     // subscribe's session id (passthrough resume)
	worker                 string     // worker name, until the login completes
	resume                 *sv1Resume // passthrough resume under way (kept.go)
	realign                bool       // passthrough: a reconnect is being decided; no jobs meanwhile
}

// errSV1Gateway answers shares while no pool session can take them.
var errSV1Gateway = &stratum.SV1Error{Code: stratum.SV1CodeOther, Message: stratum.MsgBadGateway}

// errSV1AlreadySubscribed answers a second subscribe.
var errSV1AlreadySubscribed = &stratum.SV1Error{Code: stratum.SV1CodeOther, Message: "Already subscribed"}

// handleSV1 serves one stratum v1 request (loop-only).
func (m *miner) handleSV1(line []byte) bool {
	s := m.s
	if m.sv == nil {
		m.sv = &sv1Miner{}
	}
	req := &s.sv1Req
	switch err := stratum.ParseSV1Request(&s.parser, line, req); err {
	case nil:
	case stratum.ErrBadID:
		m.replySV1Error(&stratum.NullID, stratum.ErrSV1Other)
		return true
	default:
		s.fc[0].BadLines++
		return false
	}
	switch req.Method {
	case stratum.SV1MethodSubscribe:
		m.sv1Subscribe(req)
	case stratum.SV1MethodAuthorize:
		m.sv1Authorize(req)
	case stratum.SV1MethodConfigure:
		m.sv1Configure(req)
	case stratum.SV1MethodExtranonceSubscribe:
		m.sv.xsub = true
		m.replySV1Bool(&req.ID, true)
	case stratum.SV1MethodSuggestDifficulty:
		if err := req.SuggestDifficulty.Validate(); err != nil {
			m.replySV1Error(&req.ID, err.(*stratum.SV1Error))
			break
		}
		m.sv1SetCustom(req.SuggestDifficulty.Difficulty)
		m.replySV1Bool(&req.ID, true)
	case stratum.SV1MethodSubmit:
		m.sv1Submit(req)
	default:
		m.replySV1Error(&req.ID, stratum.ErrSV1UnknownMethod)
	}
	return true
}

func (m *miner) replySV1Bool(id *stratum.RequestID, v bool) {
	s := m.s
	s.out = stratum.AppendSV1BoolReply(s.out[:0], id, v)
	m.send(s.out)
}

func (m *miner) replySV1Error(id *stratum.RequestID, e *stratum.SV1Error) {
	s := m.s
	s.out = stratum.AppendSV1ErrorReply(s.out[:0], id, e)
	m.send(s.out)
}

// sv1Subscribe answers mining.subscribe once the miner has an extranonce:
// at once when a pool session has room, otherwise when one is ready.
func (m *miner) sv1Subscribe(req *stratum.SV1Request) {
	s, sv := m.s, m.sv
	if sv.subscribed {
		m.replySV1Error(&req.ID, errSV1AlreadySubscribed)
		return
	}
	sub := &req.Subscribe
	sub.Sanitize()
	m.names = s.namesOf(m.userName(), s.intern(sub.UserAgent))
	sv.session = string(sub.SessionID)
	sv.subscribed, sv.subID, sv.subPending = true, req.ID, true
	if m.session == ([16]byte{}) {
		m.newSession()
	}
	if s.cfg.SV1Mode == "passthrough" {
		// The account (and so the pool) is known only at authorize.
		m.sv1PassthroughSubscribe()
		return
	}
	// The route by port (the worker is not known before authorize), or
	// the plan of a miner a rebalance asked to reconnect.
	t := s.sv1Planned(m, sub.SessionID)
	if t == nil {
		t = s.routeFor(m, FamilySV1, "", false)
	}
	s.setTarget(m, t)
	placed, full := s.routeSV1(m)
	switch {
	case full:
		m.sv1Refuse(stratum.MsgProxyFull)
	case placed:
		m.sv1Placed()
	default:
		// Queued for a session still connecting. The login deadline
		// stands until authorize (then WaitReady's applies): an
		// unauthenticated socket is not held longer because of a slow pool.
	}
}

// sv1Placed runs when the miner got a session: answer the subscribe and
// start mining if it is authorized.
func (m *miner) sv1Placed() {
	sv := m.sv
	if sv.subPending {
		sv.subPending = false
		s := m.s
		s.out = stratum.AppendSV1SubscribeReply(s.out[:0], &sv.subID, m.sessionID(), sv.e1[:sv.e1n], sv.e2size)
		m.send(s.out)
	}
	if sv.authorized {
		m.sv1Start()
	}
}

// sv1Refuse answers a pending subscribe with an error and closes.
func (m *miner) sv1Refuse(msg string) {
	if m.sv.subPending {
		m.sv.subPending = false
		m.replySV1Error(&m.sv.subID, &stratum.SV1Error{Code: stratum.SV1CodeOther, Message: msg})
	}
	m.close()
}

// sv1SetExtranonce computes the miner's extranonce1 (the session's
// extranonce1 followed by its k-byte prefix) and extranonce2 size.
func (m *miner) sv1SetExtranonce(mp *mapper, slot uint32) {
	sv, up := m.sv, mp.sv
	e1 := append(sv.e1[:0], up.e1...)
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], slot)
	e1 = append(e1, p[4-up.k:]...)
	sv.e1n = uint8(len(e1))
	sv.e2size = up.n - up.k
	if sv.minerMask != 0 && sv.mask != sv.minerMask&up.mask {
		m.sv1MaskChanged(up.mask)
	}
}

// sv1Align brings the miner's extranonce in line with its session after a
// (re)connection or an extranonce change; nothing is sent when it already
// matches.
func (m *miner) sv1Align(mp *mapper, slot uint32) {
	sv, up := m.sv, mp.sv
	if sv.e2size == up.n-up.k && int(sv.e1n) == len(up.e1)+up.k &&
		string(sv.e1[:len(up.e1)]) == string(up.e1) && sv.subscribed && !sv.subPending {
		var p [4]byte
		binary.BigEndian.PutUint32(p[:], slot)
		if string(sv.e1[len(up.e1):sv.e1n]) == string(p[4-up.k:]) {
			return
		}
	}
	if sv.subPending {
		m.sv1SetExtranonce(mp, slot) // the subscribe answer will carry it
		if sv.resume != nil && mp.kind == kindSV1Pass {
			m.sv1ResumeReady() // a session moved from another loop is up
		}
		return
	}
	m.sv1NewExtranonce(mp, slot)
}

// sv1NewExtranonce tells the miner about a changed session extranonce, or
// asks it to reconnect when it cannot be told.
func (m *miner) sv1NewExtranonce(mp *mapper, slot uint32) {
	if !m.sv.xsub {
		if mp.kind == kindSV1Pass {
			m.sv1AskReconnect() // bounded per subscription id (passthrough.go)
			return
		}
		m.sv1Reconnect()
		return
	}
	m.sv1SetExtranonce(mp, slot)
	s := m.s
	s.out = stratum.AppendSV1SetExtranonce(s.out[:0], m.sv.e1[:m.sv.e1n], m.sv.e2size)
	m.send(s.out)
}

// sv1Reconnect asks the miner to reconnect to the proxy and closes it.
func (m *miner) sv1Reconnect() {
	s := m.s
	s.out = stratum.AppendSV1Reconnect(s.out[:0], "", 0, 0)
	m.send(s.out)
	m.close()
}

// sv1MaskChanged applies a session's new version-rolling mask.
func (m *miner) sv1MaskChanged(up uint32) {
	sv := m.sv
	if sv.minerMask == 0 {
		return
	}
	mask := sv.minerMask & up
	if mask == sv.mask {
		return
	}
	sv.mask = mask
	if sv.subscribed {
		s := m.s
		s.out = stratum.AppendSV1SetVersionMask(s.out[:0], mask)
		m.send(s.out)
	}
}

// sv1Configure answers BIP310 mining.configure.
func (m *miner) sv1Configure(req *stratum.SV1Request) {
	s, sv, c := m.s, m.sv, &req.Configure
	if err := c.Validate(); err != nil {
		m.replySV1Error(&req.ID, err.(*stratum.SV1Error))
		return
	}
	res := stratum.SV1ConfigureResult{Requested: c.Extensions}
	if c.Extensions&stratum.SV1ExtVersionRolling != 0 {
		up := uint32(defaultVersionMask)
		if m.mp != nil && m.mp.sv != nil && m.mp.sv.hasSession {
			up = m.mp.sv.mask
		}
		sv.minerMask = c.VersionMask
		sv.mask = c.VersionMask & up
		res.VersionRolling, res.VersionMask = sv.mask != 0, sv.mask
	}
	if c.Extensions&stratum.SV1ExtMinimumDifficulty != 0 {
		if c.MinimumDifficulty > 0 {
			m.sv1SetCustom(c.MinimumDifficulty)
		}
		res.MinimumDifficulty = true
	}
	if c.Extensions&stratum.SV1ExtSubscribeExtranonce != 0 {
		sv.xsub, res.SubscribeExtranonce = true, true
	}
	s.out = stratum.AppendSV1ConfigureReply(s.out[:0], &req.ID, &res)
	m.send(s.out)
}

// sv1SetCustom records a difficulty the miner asked for (suggest,
// minimum-difficulty, "+N", custom-diff); it applies below the pool's, and
// turns vardiff off for the miner (from the next sweep).
func (m *miner) sv1SetCustom(d float64) {
	if _, ok := stratum.SV1TargetFromDifficulty(d); !ok {
		return
	}
	m.sv.custom = d
}

// sv1Authorize answers mining.authorize (aggregate mode: any name, the
// pool sees the proxy's own account).
func (m *miner) sv1Authorize(req *stratum.SV1Request) {
	s, sv, a := m.s, m.sv, &req.Authorize
	if err := a.Validate(); err != nil {
		m.replySV1Error(&req.ID, stratum.ErrSV1Unauthorized)
		return
	}
	if sv.authorized {
		m.replySV1Bool(&req.ID, true) // another worker on the same connection
		return
	}
	if s.cfg.AccessPassword != "" && subtle.ConstantTimeCompare(a.Pass, []byte(s.cfg.AccessPassword)) != 1 {
		m.replySV1Error(&req.ID, stratum.ErrSV1Unauthorized)
		m.close()
		return
	}
	user, suffix := ParseDiffSuffix(a.User)
	if suffix != 0 {
		m.sv1SetCustom(float64(suffix))
	} else if s.cfg.CustomDiff != 0 && sv.custom == 0 {
		m.sv1SetCustom(float64(s.cfg.CustomDiff))
	}
	m.names = s.namesOf(s.intern(user), m.agentName())
	sv.worker = s.workerName(m, a.Pass)
	if s.cfg.SV1Mode == "passthrough" {
		m.sv1AuthorizePassthrough(req, user)
		return
	}
	sv.authorized = true
	s.workerLogin(m, sv.worker)
	m.loggedIn = true
	if h := s.p.hooks.OnLogin; h != nil {
		h(m.event())
	}
	m.replySV1Bool(&req.ID, true)
	m.sv1Reroute()
	if m.state >= stateClosing {
		return // asked to reconnect to land on its route
	}
	if sv.subscribed && !sv.subPending && m.mp != nil {
		m.sv1Start()
	} else {
		m.state = stateWaitReady
		m.deadline = s.now + int64(s.cfg.IdleTimeout)
	}
}

// sv1Start sends a subscribed, authorized, placed miner its difficulty and
// the session's newest job (clean), once the session has one.
func (m *miner) sv1Start() {
	s, mp := m.s, m.mp
	if mp == nil || len(mp.sv.jobs) == 0 {
		m.state = stateWaitReady
		m.deadline = s.now + int64(s.cfg.IdleTimeout)
		return
	}
	m.sv.diff = m.sv1Difficulty(mp)
	m.diff = sv1Whole(m.sv.diff)
	s.out = stratum.AppendSV1SetDifficulty(s.out[:0], m.sv.diff)
	m.send(s.out)
	m.send(mp.sv.lineClean)
	m.jobMark = mp.stamp
	m.state = stateReady
	m.lastSeen = s.now
	s.workerMapper(m, mp)
}

// sv1Difficulty is the difficulty the miner gets with the session's newest
// job: vardiff's when it runs for the miner (vardiff.go), else its own when
// lower than the pool's, the pool's otherwise.
func (m *miner) sv1Difficulty(mp *mapper) float64 {
	return m.vdJob(mp, m.sv1BaseDifficulty(mp))
}

// sv1BaseDifficulty is the difficulty without vardiff: the miner's own
// when lower than the pool's, the pool's otherwise. A lower difficulty
// needs the proxy to check every share before forwarding it, so it is only
// granted on pools whose algorithm the proxy can hash (sha256d, scrypt);
// elsewhere the miner would send the pool shares it mostly rejects.
func (m *miner) sv1BaseDifficulty(mp *mapper) float64 {
	if c := m.sv.custom; c > 0 && c < mp.sv.diff && mp.sv.pow.Hashable() {
		return c
	}
	return mp.sv.diff
}

// sv1SendJob sends the session's newest job to the miner (fan-out).
func (m *miner) sv1SendJob(mp *mapper) {
	if m.sv.realign {
		return // its extranonce is dead: a reconnect is being decided
	}
	switch m.state {
	case stateWaitReady:
		if m.sv.authorized && !m.sv.subPending {
			m.sv1Start()
		}
	case stateReady:
		if d := m.sv1Difficulty(mp); d != m.sv.diff {
			m.sv.diff, m.diff = d, sv1Whole(d)
			s := m.s
			s.out = stratum.AppendSV1SetDifficulty(s.out[:0], d)
			m.send(s.out)
			if m.wk != nil {
				m.wk.Difficulty = d
			}
		}
		if mp.fan.clean {
			m.send(mp.sv.lineClean)
		} else {
			m.send(mp.sv.line)
		}
	}
}

// sv1Submit checks a share locally (rate limit and pool back-pressure,
// job, duplicate, and for sha256d and scrypt pools the real header hash
// against the pool's target and the miner's difficulty for the job it
// names), answers what it can, and forwards the rest with the miner's
// prefix under the pool's job id. A share for the job the last clean job
// replaced is forwarded too: the pool decides, and it counts as expired.
func (m *miner) sv1Submit(req *stratum.SV1Request) {
	s, sv, sub := m.s, m.sv, &req.Submit
	if !m.admitSubmit(&req.ID) {
		return
	}
	switch {
	case !sv.subscribed:
		m.sv1Invalid(&req.ID, stratum.ErrSV1NotSubscribed)
		return
	case !sv.authorized:
		m.sv1Invalid(&req.ID, stratum.ErrSV1Unauthorized)
		return
	case m.state != stateReady || m.mp == nil:
		m.sv1Invalid(&req.ID, stratum.ErrSV1JobNotFound)
		return
	}
	m.lastSeen = s.now
	s.workerSubmitted(m, sv.diff)
	// The session the miner left at a move, for a share of its job.
	mp, job, expired, variant, e1, e2size := m.sv1ShareSession(sub)
	if err := sub.Validate(e2size, sv.mask); err != nil {
		m.sv1Invalid(&req.ID, err.(*stratum.SV1Error))
		return
	}
	if job == nil {
		m.sv1Invalid(&req.ID, stratum.ErrSV1JobNotFound)
		return
	}
	if len(e1) < len(mp.sv.e1) || string(e1[:len(mp.sv.e1)]) != string(mp.sv.e1) {
		// Work for an extranonce the session no longer has (a change the
		// miner has not applied yet): nobody could verify it.
		m.sv1Invalid(&req.ID, stratum.ErrSV1JobNotFound)
		return
	}
	prefix := e1[len(mp.sv.e1):]
	key := sv1ShareKey{job: job.seq, ntime: sub.NTimeValue, nonce: sub.NonceValue,
		version: stratum.SV1RollVersion(job.bin.Version, sub.VersionBitsValue, sv.mask)}
	n := copy(key.e2[:], prefix)
	e2, _ := stratum.DecodeHex(key.e2[n:n], sub.Extranonce2) // validated; fits: the session's size
	if mp.sv.seen.Has(key, expired) {
		m.sv1Invalid(&req.ID, stratum.ErrSV1Duplicate)
		return
	}
	var actual float64
	judged := job.diff // the difficulty the share is judged at
	if pow := mp.sv.pow; pow.Hashable() {
		h, _ := s.hasher.ShareHashAlgo(pow, s.scryptHasher(pow), job.bin, e1, e2, sub.NTimeValue, sub.NonceValue, sub.VersionBitsValue, sv.mask)
		actual = pow.HashDifficulty(&h)
		judged = m.sv1Judged(mp, job, variant)
		if !job.target.Meets(&h) {
			if judged < job.diff && actual >= judged {
				if !recordShare(m, mp, &mp.sv.seen, key, expired) {
					m.sv1Invalid(&req.ID, errSV1TooManyShares)
					return
				}
				m.sv1LocalAccept(mp, &req.ID, judged, actual)
				m.vdShare(mp, judged)
				return
			}
			m.sv1Invalid(&req.ID, stratum.ErrSV1LowDifficulty)
			return
		}
	}
	if !mp.canSubmit() {
		m.sv1Invalid(&req.ID, errSV1Gateway)
		return
	}
	if !recordShare(m, mp, &mp.sv.seen, key, expired) {
		m.sv1Invalid(&req.ID, errSV1TooManyShares)
		return
	}
	pc := mp.conn
	credit := m.shareCredit(judged, job.diff)
	tag := submitTag{m: m, id: req.ID, diff: credit, hashes: credit * hashesPerDiff / mp.sv.divider, actual: uint64(actual), expired: expired}
	var evicted upstream.Pending[submitTag]
	var wasEvicted bool
	s.out, evicted, wasEvicted = pc.sv.AppendSubmit(s.out[:0], tag, prefix, sub, mono())
	pc.write(s.out)
	if wasEvicted {
		mp.failSubmit(evicted, stratum.MsgPoolTimeout)
	}
	m.vdShare(mp, judged)
}

// hashesPerDiff is the hashes behind a difficulty-1 sha256d share.
const hashesPerDiff = 1 << 32

// sv1Invalid answers a share the proxy rejects itself and counts it.
func (m *miner) sv1Invalid(id *stratum.RequestID, e *stratum.SV1Error) {
	s := m.s
	s.fc[m.family].Invalid++
	s.workerInvalid(m)
	m.replySV1Error(id, e)
	if h := s.p.hooks.OnReject; h != nil {
		ev := m.shareEvent()
		ev.Local = true
		ev.Reason = e.Message
		h(ev)
	}
}

// sv1LocalAccept answers true for a share meeting the miner's difficulty
// but not the pool's; it is not forwarded.
func (m *miner) sv1LocalAccept(mp *mapper, id *stratum.RequestID, diff, actual float64) {
	s := m.s
	c := &s.fc[m.family]
	c.CustomAccepted++
	hashes := diff * hashesPerDiff / mp.sv.divider
	c.CustomHashes += hashes
	s.credit(m, mp, hashes)
	if s.cfg.CustomDiffStats || m.vdCounts() {
		s.recordAccept(m, diff, hashes, uint64(actual), 0)
	}
	m.replySV1Bool(id, true)
	if h := s.p.hooks.OnAccept; h != nil {
		e := m.shareEvent()
		e.Diff = uint64(diff)
		e.Actual = uint64(actual)
		e.Local = true
		h(e)
	}
}

func durationNs(ns int64) time.Duration { return time.Duration(ns) }
