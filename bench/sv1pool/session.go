package sv1pool

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/bench/internal/poolserver"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// session is one pool connection. Its reader goroutine owns the parser,
// request, hasher and target cache; everything under the Conn's lock may
// also be touched by pushes and snapshots. id is immutable.
type session struct {
	*poolserver.Conn
	p       *Pool
	id      string      // subscription id, a hex token
	started atomic.Bool // set once, under p.mu: difficulty and first job sent
	listed  atomic.Bool // set once, under p.mu: in the server's history

	// Reader-owned.
	parser     fastjson.Parser
	req        stratum.SV1Request
	hasher     stratum.SV1Hasher
	scrypt     *stratum.ScryptHasher // made for a scrypt pool's first share
	lastDiff   float64
	lastTarget stratum.SV1Target

	// Guarded by the Conn's lock.
	agent      string
	subscribed bool
	xsub       bool   // mining.extranonce.subscribe (or configure subscribe-extranonce)
	e1         []byte // current extranonce1; replaced, never modified in place
	rolling    bool   // version rolling negotiated
	minerMask  uint32 // mask the miner asked for
	mask       uint32 // negotiated mask (0 without rolling)
	diff       float64
	suggested  float64
	users      []string
	active     []activeJob // jobs the connection may submit to, oldest first
	submits    int64
	accepted   int64
	rejected   int64
}

// activeJob is a job as a connection received it: the extranonce1 and
// difficulty in force when it was sent.
type activeJob struct {
	rec  *jobRecord
	e1   []byte
	diff float64
}

func (s *session) snapshot() Session {
	s.Lock()
	defer s.Unlock()
	out := Session{
		ID: s.id, RemoteAddr: s.RemoteAddr(), UserAgent: s.agent,
		Users:                append([]string(nil), s.users...),
		Extranonce1:          string(stratum.AppendHex(nil, s.e1)),
		Extranonce2Size:      s.p.cfg.Extranonce2Size,
		ExtranonceSubscribed: s.xsub,
		VersionRolling:       s.rolling,
		VersionMask:          s.mask,
		Difficulty:           s.diff,
		SuggestedDifficulty:  s.suggested,
		Submits:              s.submits, Accepted: s.accepted, Rejected: s.rejected,
		Connected: s.Connected(),
	}
	if len(s.users) > 0 {
		out.User = s.users[0]
	}
	return out
}

// HandleLine answers one request line. A non-nil error closes the
// connection.
func (s *session) HandleLine(line []byte) error {
	// The behaviour is read before the request is counted, so that a test
	// that saw Requests grow knows which behaviour the line met.
	b := s.p.behavior.Load()
	s.p.update(func(st *Stats) { st.Requests++ })
	defer s.p.srv.Notify() // session state may have changed
	if answered, err := s.Misbehave(b.Silent, b.Garbage); answered {
		return err
	}
	req := &s.req
	switch err := stratum.ParseSV1Request(&s.parser, line, req); {
	case errors.Is(err, stratum.ErrBadID):
		return s.replyError(&stratum.NullID, stratum.ErrSV1Other)
	case err != nil:
		return fmt.Errorf("bad request: %w", err)
	}
	switch req.Method {
	case stratum.SV1MethodSubscribe:
		return s.handleSubscribe(req)
	case stratum.SV1MethodExtranonceSubscribe:
		s.Lock()
		s.xsub = true
		s.Unlock()
		return s.replyBool(&req.ID, true)
	case stratum.SV1MethodConfigure:
		return s.handleConfigure(req)
	case stratum.SV1MethodAuthorize:
		return s.handleAuthorize(b, req)
	case stratum.SV1MethodSuggestDifficulty:
		if err := req.SuggestDifficulty.Validate(); err != nil {
			return s.replyError(&req.ID, err)
		}
		s.Lock()
		s.suggested = req.SuggestDifficulty.Difficulty
		s.Unlock()
		return s.replyBool(&req.ID, true)
	case stratum.SV1MethodSubmit:
		return s.handleSubmit(b, req)
	default:
		return s.replyError(&req.ID, stratum.ErrSV1UnknownMethod)
	}
}

// handleSubscribe answers mining.subscribe with the connection's
// extranonce1. A repeated subscribe gets the same answer.
func (s *session) handleSubscribe(req *stratum.SV1Request) error {
	sub := &req.Subscribe
	sub.Sanitize()
	p := s.p
	p.mu.Lock()
	if !s.listed.Load() {
		s.listed.Store(true)
		p.stats.Subscribes++
		p.srv.Remember(s)
	}
	p.mu.Unlock()

	s.Lock()
	first := !s.subscribed
	s.subscribed = true
	if sub.UserAgent != nil {
		s.agent = string(sub.UserAgent)
	}
	err := s.SendLocked(func(dst []byte) []byte {
		return stratum.AppendSV1SubscribeReply(dst, &req.ID, []byte(s.id), s.e1, p.cfg.Extranonce2Size)
	})
	if first {
		p.srv.Logf("%s subscribed (%q), extranonce1 %x", s.RemoteAddr(), s.agent, s.e1)
	}
	s.Unlock()
	p.srv.Notify()
	if err != nil {
		return err
	}
	return s.maybeStart()
}

// handleConfigure answers BIP310 mining.configure: version rolling with the
// pool's mask AND the miner's when Config.VersionRolling, subscribe-extranonce
// granted, minimum-difficulty and info refused.
func (s *session) handleConfigure(req *stratum.SV1Request) error {
	c := &req.Configure
	if err := c.Validate(); err != nil {
		return s.replyError(&req.ID, err)
	}
	p := s.p
	p.mu.Lock()
	poolMask := p.versionMask
	p.mu.Unlock()
	r := stratum.SV1ConfigureResult{Requested: c.Extensions}
	s.Lock()
	defer s.Unlock()
	if c.Extensions&stratum.SV1ExtVersionRolling != 0 && p.cfg.VersionRolling {
		if mask := poolMask & c.VersionMask; mask != 0 {
			s.rolling, s.minerMask, s.mask = true, c.VersionMask, mask
			r.VersionRolling, r.VersionMask = true, mask
		}
	}
	if c.Extensions&stratum.SV1ExtSubscribeExtranonce != 0 {
		s.xsub = true
		r.SubscribeExtranonce = true
	}
	return s.SendLocked(func(dst []byte) []byte { return stratum.AppendSV1ConfigureReply(dst, &req.ID, &r) })
}

// handleAuthorize answers mining.authorize and records the user.
func (s *session) handleAuthorize(b *Behavior, req *stratum.SV1Request) error {
	a := &req.Authorize
	if b.RejectAuthorize {
		return s.replyError(&req.ID, stratum.ErrSV1Unauthorized)
	}
	if err := a.Validate(); err != nil {
		return s.replyError(&req.ID, err)
	}
	user, pass := string(a.User), string(a.Pass)
	if f := s.p.cfg.Authorize; f != nil {
		if err := f(user, pass); err != nil {
			return s.replyError(&req.ID, &stratum.SV1Error{Code: stratum.SV1CodeUnauthorized, Message: err.Error()})
		}
	}
	s.Lock()
	if !slices.Contains(s.users, user) && len(s.users) < maxUsersPerSession {
		s.users = append(s.users, user)
	}
	s.Unlock()
	// Count before answering, so that a client that has its answer sees it
	// in Stats.
	s.p.update(func(st *Stats) { st.Authorizes++ })
	if err := s.replyBool(&req.ID, true); err != nil {
		return err
	}
	return s.maybeStart()
}

// maybeStart sends the difficulty and the current job (clean_jobs true) to
// a connection that has just become subscribed and authorized.
func (s *session) maybeStart() error {
	p := s.p
	p.mu.Lock()
	s.Lock() // lock order: p.mu, then the session's
	if s.started.Load() || !s.subscribed || len(s.users) == 0 {
		s.Unlock()
		p.mu.Unlock()
		return nil
	}
	// Visible to pushes from now on; a push that follows waits for the
	// session lock, so this first job goes out before it.
	s.started.Store(true)
	rec := p.current
	s.diff = p.diff // SetDifficulty may have come after the connection
	p.mu.Unlock()
	defer s.Unlock()
	err := s.SendLocked(func(dst []byte) []byte {
		return s.appendJobLocked(stratum.AppendSV1SetDifficulty(dst, s.diff), rec, true)
	})
	if b := p.behavior.Load(); err == nil {
		err = s.MisbehaveAfterLoginLocked(b.GarbageAfterLogin, b.CloseMidLine, stratum.AppendSV1Notify(nil, &rec.job, true))
	}
	return err
}

// sendJob pushes rec as mining.notify.
func (s *session) sendJob(rec *jobRecord, clean bool) {
	s.Push(func(dst []byte) []byte { return s.appendJobLocked(dst, rec, clean) })
}

// appendJobLocked makes rec an active job of the connection (the only one
// when clean, but for the job it replaces with Config.KeepReplacedJob) and
// appends its mining.notify. Caller holds the session lock.
func (s *session) appendJobLocked(dst []byte, rec *jobRecord, clean bool) []byte {
	if clean {
		var replaced activeJob
		if s.p.cfg.KeepReplacedJob && len(s.active) > 0 {
			replaced = s.active[len(s.active)-1]
		}
		clear(s.active)
		s.active = s.active[:0]
		if replaced.rec != nil {
			s.active = append(s.active, replaced)
		}
	} else if len(s.active) >= maxActiveJobs {
		n := copy(s.active, s.active[1:])
		s.active[n] = activeJob{}
		s.active = s.active[:n]
	}
	s.active = append(s.active, activeJob{rec: rec, e1: s.e1, diff: s.diff})
	return stratum.AppendSV1Notify(dst, &rec.job, clean)
}

// findJobLocked returns the active job with this id. Caller holds the
// session lock.
func (s *session) findJobLocked(id []byte) (activeJob, bool) {
	for i := len(s.active) - 1; i >= 0; i-- {
		if s.active[i].rec.job.JobID == string(id) {
			return s.active[i], true
		}
	}
	return activeJob{}, false
}

func (s *session) replyBool(id *stratum.RequestID, v bool) error {
	return s.Send(func(dst []byte) []byte { return stratum.AppendSV1BoolReply(dst, id, v) })
}

// replyError answers with err's stratum code and message (code 20 for an
// error that is not a *stratum.SV1Error).
func (s *session) replyError(id *stratum.RequestID, err error) error {
	return s.Send(func(dst []byte) []byte { return stratum.AppendSV1ErrorReply(dst, id, asSV1Error(err)) })
}

// asSV1Error returns err as a stratum v1 error, or ErrSV1Other.
func asSV1Error(err error) *stratum.SV1Error {
	var e *stratum.SV1Error
	if errors.As(err, &e) {
		return e
	}
	return stratum.ErrSV1Other
}
