package mockpool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/bench/internal/poolserver"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// session is one pool connection. Its reader goroutine owns the parser and
// request; everything under the Conn's lock may also be touched by
// broadcasts and snapshots.
type session struct {
	*poolserver.Conn
	p        *Pool
	loggedIn atomic.Bool // set once, under p.mu, at the first successful login
	// reserved is written into the last bytes of every blob this session
	// gets, as a real pool's per-login reserved bytes make each login's
	// work different: identical nonces on two sessions are not duplicate
	// work, and two proxies sessions cannot be handed the same search.
	reserved uint32

	// Reader-owned.
	parser fastjson.Parser
	req    stratum.Request

	// Guarded by the Conn's lock.
	id        string
	login     string
	pass      string
	agent     string
	rigID     string
	algos     []string
	cur, prev *jobRecord
	curSeen   map[uint32]struct{} // nonces seen on cur
	prevSeen  map[uint32]struct{} // nonces seen on prev
	submits   int64
	accepted  int64
}

func (s *session) snapshot() Session {
	s.Lock()
	defer s.Unlock()
	return Session{
		ID: s.id, RemoteAddr: s.RemoteAddr(),
		Login: s.login, Pass: s.pass, Agent: s.agent, RigID: s.rigID,
		Algos:   append([]string(nil), s.algos...),
		Submits: s.submits, Accepted: s.accepted, Connected: s.Connected(),
	}
}

// HandleLine answers one request line. A non-nil error closes the
// connection.
func (s *session) HandleLine(line []byte) error {
	// Load the behaviour before counting the line, so a test that waits for
	// Requests knows which behaviour the line met.
	b := s.p.behavior.Load()
	s.p.update(func(st *Stats) { st.Requests++ })
	if answered, err := s.Misbehave(b.Silent, b.Garbage); answered {
		return err
	}
	req := &s.req
	switch err := stratum.ParseRequest(&s.parser, line, req); {
	case errors.Is(err, stratum.ErrBadID):
		return s.Send(func(dst []byte) []byte {
			return stratum.AppendErrorReply(dst, &stratum.NullID, stratum.MsgInvalidRequest)
		})
	case err != nil:
		return fmt.Errorf("bad request: %w", err)
	}
	switch req.Method {
	case stratum.MethodLogin:
		return s.handleLogin(b, req)
	case stratum.MethodSubmit:
		return s.handleSubmit(b, req)
	case stratum.MethodKeepalived:
		s.p.update(func(st *Stats) { st.Keepalives++ })
		return s.Send(func(dst []byte) []byte {
			return stratum.AppendStatusReply(dst, &req.ID, "KEEPALIVED")
		})
	default:
		return s.Send(func(dst []byte) []byte {
			return stratum.AppendErrorReply(dst, &req.ID, stratum.MsgInvalidMethod)
		})
	}
}

// setJobLocked makes rec the session's current job. Caller holds the lock.
func (s *session) setJobLocked(rec *jobRecord) {
	if s.cur == rec {
		return
	}
	s.prev, s.prevSeen = s.cur, s.curSeen
	s.cur, s.curSeen = rec, make(map[uint32]struct{})
}

// sendJob makes rec current and pushes it as a job notification.
func (s *session) sendJob(rec *jobRecord) {
	s.Push(func(dst []byte) []byte {
		s.setJobLocked(rec)
		job := s.own(&rec.job)
		return stratum.AppendJobNotify(dst, &job, []byte(s.id), jobOptions())
	})
}

// own returns the job as this session sees it: the blob's last four bytes
// carry the session's reserved value.
func (s *session) own(j *stratum.Job) stratum.Job {
	out := *j
	var r [4]byte
	binary.BigEndian.PutUint32(r[:], s.reserved)
	b := []byte(j.Blob)
	copy(b[len(b)-8:], stratum.AppendHex(nil, r[:]))
	out.Blob = string(b)
	return out
}

// jobOptions is how a pool sends a job: the blob untouched, with the algo
// member.
func jobOptions() stratum.JobOptions { return stratum.JobOptions{FixedByte: -1, Algo: true} }

// loginExtensions are the extensions the pool advertises.
const loginExtensions = stratum.ExtAlgo | stratum.ExtKeepalive

func (s *session) handleLogin(b *Behavior, req *stratum.Request) error {
	if b.RejectLogin != "" {
		msg := b.RejectLogin
		return s.Send(func(dst []byte) []byte { return stratum.AppendErrorReply(dst, &req.ID, msg) })
	}
	pp := &req.Params
	if err := pp.ValidateLogin(); err != nil {
		msg := err.Error()
		return s.Send(func(dst []byte) []byte { return stratum.AppendErrorReply(dst, &req.ID, msg) })
	}
	p := s.p
	p.mu.Lock()
	rec := p.current
	first := !s.loggedIn.Load()
	var id string
	if first {
		var raw [16]byte
		for i := range raw {
			raw[i] = byte(p.rng.Uint32())
		}
		id = string(stratum.AppendHex(nil, raw[:]))
		p.stats.Logins++
		p.srv.Remember(s)
		// Visible to broadcasts from now on; a broadcast that follows waits
		// for the session lock, so this login reply goes out before its job.
		s.loggedIn.Store(true)
	}
	s.Lock() // lock order: p.mu, then the session's
	p.mu.Unlock()
	defer s.Unlock()
	if first {
		s.id = id
		s.login, s.pass = string(pp.Login), string(pp.Pass)
		s.agent, s.rigID = string(pp.Agent), string(pp.RigID)
		for _, a := range pp.Algos[:pp.NumAlgos] {
			s.algos = append(s.algos, string(a))
		}
	}
	s.setJobLocked(rec)
	job := s.own(&rec.job)
	err := s.SendLocked(func(dst []byte) []byte {
		return stratum.AppendLoginReply(dst, &req.ID, []byte(s.id), &job, jobOptions(), loginExtensions)
	})
	if err == nil {
		err = s.MisbehaveAfterLoginLocked(b.GarbageAfterLogin, b.CloseMidLine,
			stratum.AppendJobNotify(nil, &job, []byte(s.id), jobOptions()))
	}
	if first {
		p.srv.Logf("%s logged in as %q session %s", s.RemoteAddr(), s.login, s.id)
	}
	p.srv.Notify()
	return err
}
