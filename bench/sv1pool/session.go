package sv1pool

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// garbageLine is what a Garbage pool answers: not JSON.
const garbageLine = "<html><body>502 this is not json</body></html>\n"

// errHangUp asks the reader to close the connection.
var errHangUp = errors.New("hang up")

// session is one pool connection. Its reader goroutine owns the parser,
// read buffer, hasher and target cache; everything under mu may also be
// touched by pushes and snapshots, and every write to conn happens with mu
// held. id is immutable.
type session struct {
	p         *Pool
	conn      net.Conn
	remote    string
	id        string      // subscription id, a hex token
	connected atomic.Bool // false once the reader has finished
	started   atomic.Bool // set once, under p.mu: difficulty and first job sent
	listed    atomic.Bool // set once, under p.mu: in p.history

	// Reader-owned.
	hasher     stratum.SV1Hasher
	lastDiff   float64
	lastTarget stratum.SV1Target

	mu         sync.Mutex
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
	wbuf       []byte
}

// activeJob is a job as a connection received it: the extranonce1 and
// difficulty in force when it was sent.
type activeJob struct {
	rec  *jobRecord
	e1   []byte
	diff float64
}

func (s *session) snapshot() Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Session{
		ID: s.id, RemoteAddr: s.remote, UserAgent: s.agent,
		Users:                append([]string(nil), s.users...),
		Extranonce1:          string(stratum.AppendHex(nil, s.e1)),
		Extranonce2Size:      s.p.cfg.Extranonce2Size,
		ExtranonceSubscribed: s.xsub,
		VersionRolling:       s.rolling,
		VersionMask:          s.mask,
		Difficulty:           s.diff,
		SuggestedDifficulty:  s.suggested,
		Submits:              s.submits, Accepted: s.accepted, Rejected: s.rejected,
		Connected: s.connected.Load(),
	}
	if len(s.users) > 0 {
		out.User = s.users[0]
	}
	return out
}

// serve reads lines until the connection ends, then unregisters it.
func (s *session) serve() {
	defer s.p.wg.Done()
	defer s.p.forget(s)
	defer s.conn.Close()

	var (
		parser fastjson.Parser
		req    stratum.SV1Request
		buf    = make([]byte, 0, stratum.MaxLineSize+4096)
	)
	for {
		n, err := s.conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		off := 0
		for {
			line, used, lerr := stratum.NextLine(buf[off:])
			if lerr != nil {
				s.p.logf("sv1pool: %s: %v, closing", s.remote, lerr)
				return
			}
			if used == 0 {
				break
			}
			off += used
			if len(line) == 0 {
				continue
			}
			if herr := s.handle(&parser, &req, line); herr != nil {
				if !errors.Is(herr, errHangUp) {
					s.p.logf("sv1pool: %s: %v, closing", s.remote, herr)
				}
				return
			}
		}
		buf = buf[:copy(buf, buf[off:])]
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.p.logf("sv1pool: %s: read: %v", s.remote, err)
			}
			return
		}
	}
}

// handle answers one request line. A non-nil error closes the connection.
func (s *session) handle(parser *fastjson.Parser, req *stratum.SV1Request, line []byte) error {
	// The behaviour is read before the request is counted, so that a test
	// that saw Requests grow knows which behaviour the line met.
	b := s.p.behavior.Load()
	s.p.update(func(st *Stats) { st.Requests++ })
	defer s.p.changed.Notify() // session state may have changed
	if b.Silent {
		return nil
	}
	if b.Garbage {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.writeLocked([]byte(garbageLine))
	}
	switch err := stratum.ParseSV1Request(parser, line, req); {
	case errors.Is(err, stratum.ErrBadID):
		return s.replyError(&stratum.NullID, stratum.ErrSV1Other)
	case err != nil:
		return fmt.Errorf("bad request: %w", err)
	}
	switch req.Method {
	case stratum.SV1MethodSubscribe:
		return s.handleSubscribe(req)
	case stratum.SV1MethodExtranonceSubscribe:
		s.mu.Lock()
		s.xsub = true
		s.mu.Unlock()
		return s.replyBool(&req.ID, true)
	case stratum.SV1MethodConfigure:
		return s.handleConfigure(req)
	case stratum.SV1MethodAuthorize:
		return s.handleAuthorize(b, req)
	case stratum.SV1MethodSuggestDifficulty:
		if err := req.SuggestDifficulty.Validate(); err != nil {
			return s.replyError(&req.ID, err)
		}
		s.mu.Lock()
		s.suggested = req.SuggestDifficulty.Difficulty
		s.mu.Unlock()
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
		p.addHistoryLocked(s)
	}
	p.mu.Unlock()

	s.mu.Lock()
	first := !s.subscribed
	s.subscribed = true
	if sub.UserAgent != nil {
		s.agent = string(sub.UserAgent)
	}
	s.wbuf = stratum.AppendSV1SubscribeReply(s.wbuf[:0], &req.ID, []byte(s.id), s.e1, p.cfg.Extranonce2Size)
	err := s.writeLocked(s.wbuf)
	if first {
		p.logf("sv1pool: %s subscribed (%q), extranonce1 %x", s.remote, s.agent, s.e1)
	}
	s.mu.Unlock()
	p.changed.Notify()
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
	s.mu.Lock()
	defer s.mu.Unlock()
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
	s.wbuf = stratum.AppendSV1ConfigureReply(s.wbuf[:0], &req.ID, &r)
	return s.writeLocked(s.wbuf)
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
	s.mu.Lock()
	if !slices.Contains(s.users, user) && len(s.users) < maxUsersPerSession {
		s.users = append(s.users, user)
	}
	s.mu.Unlock()
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
	s.mu.Lock() // lock order: p.mu, then s.mu
	if s.started.Load() || !s.subscribed || len(s.users) == 0 {
		s.mu.Unlock()
		p.mu.Unlock()
		return nil
	}
	// Visible to pushes from now on; a push that follows waits for s.mu, so
	// this first job goes out before it.
	s.started.Store(true)
	rec := p.current
	s.diff = p.diff // SetDifficulty may have come after the connection
	p.mu.Unlock()
	defer s.mu.Unlock()
	s.wbuf = stratum.AppendSV1SetDifficulty(s.wbuf[:0], s.diff)
	s.wbuf = s.appendJobLocked(s.wbuf, rec, true)
	return s.writeLocked(s.wbuf)
}

// sendJob pushes rec as mining.notify.
func (s *session) sendJob(rec *jobRecord, clean bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.connected.Load() {
		return
	}
	s.wbuf = s.appendJobLocked(s.wbuf[:0], rec, clean)
	_ = s.writeLocked(s.wbuf)
}

// appendJobLocked makes rec an active job of the connection (the only one
// when clean) and appends its mining.notify. Caller holds s.mu.
func (s *session) appendJobLocked(dst []byte, rec *jobRecord, clean bool) []byte {
	if clean {
		clear(s.active)
		s.active = s.active[:0]
	} else if len(s.active) >= maxActiveJobs {
		n := copy(s.active, s.active[1:])
		s.active[n] = activeJob{}
		s.active = s.active[:n]
	}
	s.active = append(s.active, activeJob{rec: rec, e1: s.e1, diff: s.diff})
	return stratum.AppendSV1Notify(dst, &rec.job, clean)
}

// findJobLocked returns the active job with this id. Caller holds s.mu.
func (s *session) findJobLocked(id []byte) (activeJob, bool) {
	for i := len(s.active) - 1; i >= 0; i-- {
		if s.active[i].rec.job.JobID == string(id) {
			return s.active[i], true
		}
	}
	return activeJob{}, false
}

func (s *session) replyBool(id *stratum.RequestID, v bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wbuf = stratum.AppendSV1BoolReply(s.wbuf[:0], id, v)
	return s.writeLocked(s.wbuf)
}

// replyError answers with err's stratum code and message (code 20 for an
// error that is not a *stratum.SV1Error).
func (s *session) replyError(id *stratum.RequestID, err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wbuf = stratum.AppendSV1ErrorReply(s.wbuf[:0], id, asSV1Error(err))
	return s.writeLocked(s.wbuf)
}

// asSV1Error returns err as a stratum v1 error, or ErrSV1Other.
func asSV1Error(err error) *stratum.SV1Error {
	var e *stratum.SV1Error
	if errors.As(err, &e) {
		return e
	}
	return stratum.ErrSV1Other
}

// push runs build with s.mu held, unless the connection is gone, and
// writes what it appended (nothing when it appends nothing). build may
// update the session's state. Caller must not hold s.mu.
func (s *session) push(build func(dst []byte) []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.connected.Load() {
		return
	}
	s.wbuf = build(s.wbuf[:0])
	if len(s.wbuf) > 0 {
		_ = s.writeLocked(s.wbuf)
	}
}

// writeLocked writes line with a deadline. Caller holds s.mu. On error the
// connection is closed (its reader then cleans up).
func (s *session) writeLocked(line []byte) error {
	if !s.connected.Load() {
		return net.ErrClosed
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := s.conn.Write(line); err != nil {
		_ = s.conn.Close()
		return fmt.Errorf("write: %w", err)
	}
	return nil
}
