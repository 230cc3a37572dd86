package mockpool

import (
	"errors"
	"fmt"
	"io"
	"net"
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

// session is one pool connection. Its reader goroutine owns the parser and
// read buffer; everything under mu may also be touched by broadcasts and
// snapshots, and every write to conn happens with mu held.
type session struct {
	p         *Pool
	conn      net.Conn
	remote    string
	loggedIn  atomic.Bool // set once, under p.mu, at the first successful login
	connected atomic.Bool // false once the reader has finished

	mu        sync.Mutex
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
	wbuf      []byte
}

func (s *session) snapshot() Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Session{
		ID: s.id, RemoteAddr: s.remote,
		Login: s.login, Pass: s.pass, Agent: s.agent, RigID: s.rigID,
		Algos:   append([]string(nil), s.algos...),
		Submits: s.submits, Accepted: s.accepted, Connected: s.connected.Load(),
	}
}

// serve reads lines until the connection ends, then unregisters it.
func (s *session) serve() {
	defer s.p.wg.Done()
	defer s.p.forget(s)
	defer s.conn.Close()

	var (
		parser fastjson.Parser
		req    stratum.Request
		buf    = make([]byte, 0, stratum.MaxLineSize+4096)
	)
	for {
		n, err := s.conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		off := 0
		for {
			line, used, lerr := stratum.NextLine(buf[off:])
			if lerr != nil {
				s.p.logf("mockpool: %s: %v, closing", s.remote, lerr)
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
					s.p.logf("mockpool: %s: %v, closing", s.remote, herr)
				}
				return
			}
		}
		buf = buf[:copy(buf, buf[off:])]
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.p.logf("mockpool: %s: read: %v", s.remote, err)
			}
			return
		}
	}
}

// handle answers one request line. A non-nil error closes the connection.
func (s *session) handle(parser *fastjson.Parser, req *stratum.Request, line []byte) error {
	// Load the behaviour before counting the line, so a test that waits for
	// Requests knows which behaviour the line met.
	b := s.p.behavior.Load()
	s.p.update(func(st *Stats) { st.Requests++ })
	if b.Silent {
		return nil
	}
	if b.Garbage {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.writeLocked([]byte(garbageLine))
	}
	switch err := stratum.ParseRequest(parser, line, req); {
	case errors.Is(err, stratum.ErrBadID):
		return s.reply(func(dst []byte) []byte {
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
		return s.reply(func(dst []byte) []byte {
			return stratum.AppendStatusReply(dst, &req.ID, "KEEPALIVED")
		})
	default:
		return s.reply(func(dst []byte) []byte {
			return stratum.AppendErrorReply(dst, &req.ID, stratum.MsgInvalidMethod)
		})
	}
}

// reply writes the line built by build, under the session lock.
func (s *session) reply(build func(dst []byte) []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wbuf = build(s.wbuf[:0])
	return s.writeLocked(s.wbuf)
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

// setJobLocked makes rec the session's current job. Caller holds s.mu.
func (s *session) setJobLocked(rec *jobRecord) {
	if s.cur == rec {
		return
	}
	s.prev, s.prevSeen = s.cur, s.curSeen
	s.cur, s.curSeen = rec, make(map[uint32]struct{})
}

// sendJob makes rec current and pushes it as a job notification.
func (s *session) sendJob(rec *jobRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.connected.Load() {
		return
	}
	s.setJobLocked(rec)
	s.wbuf = stratum.AppendJobNotify(s.wbuf[:0], &rec.job, []byte(s.id), jobOptions())
	_ = s.writeLocked(s.wbuf)
}

// jobOptions is how a pool sends a job: the blob untouched, with the algo
// member.
func jobOptions() stratum.JobOptions { return stratum.JobOptions{FixedByte: -1, Algo: true} }

// loginExtensions are the extensions the pool advertises.
const loginExtensions = stratum.ExtAlgo | stratum.ExtKeepalive

func (s *session) handleLogin(b *Behavior, req *stratum.Request) error {
	if b.RejectLogin != "" {
		msg := b.RejectLogin
		return s.reply(func(dst []byte) []byte { return stratum.AppendErrorReply(dst, &req.ID, msg) })
	}
	pp := &req.Params
	if err := pp.ValidateLogin(); err != nil {
		msg := err.Error()
		return s.reply(func(dst []byte) []byte { return stratum.AppendErrorReply(dst, &req.ID, msg) })
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
		p.addHistoryLocked(s)
		// Visible to broadcasts from now on; a broadcast that follows waits
		// for s.mu, so this login reply goes out before its job.
		s.loggedIn.Store(true)
	}
	s.mu.Lock() // lock order: p.mu, then s.mu
	p.mu.Unlock()
	defer s.mu.Unlock()
	if first {
		s.id = id
		s.login, s.pass = string(pp.Login), string(pp.Pass)
		s.agent, s.rigID = string(pp.Agent), string(pp.RigID)
		for _, a := range pp.Algos[:pp.NumAlgos] {
			s.algos = append(s.algos, string(a))
		}
	}
	s.setJobLocked(rec)
	s.wbuf = stratum.AppendLoginReply(s.wbuf[:0], &req.ID, []byte(s.id), &rec.job, jobOptions(), loginExtensions)
	err := s.writeLocked(s.wbuf)
	if first {
		p.logf("mockpool: %s logged in as %q session %s", s.remote, s.login, s.id)
	}
	p.changed.Notify()
	return err
}
