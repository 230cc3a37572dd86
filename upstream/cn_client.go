package upstream

import (
	"errors"
	"fmt"

	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// Errors a CryptoNote pool can cause; each ends the connection.
var (
	// ErrLoginRefused means the pool answered the login with an error.
	ErrLoginRefused = errors.New("upstream: login refused")
	// ErrProtocol means the pool broke the protocol (a malformed line, a
	// login reply without a session id or a valid job).
	ErrProtocol = errors.New("upstream: protocol violation")
)

// CNEventKind classifies what a pool line meant.
type CNEventKind uint8

// Event kinds of a CryptoNote pool connection.
const (
	// CNNothing: the line needs no action (a keepalive answer, an answer
	// to a request that already timed out, an unknown notification).
	CNNothing CNEventKind = iota
	// CNLogin: the login succeeded; Job is the first job.
	CNLogin
	// CNJob: a new job.
	CNJob
	// CNResult: the answer to a submit; Pending identifies it, Accepted
	// says whether the pool took the share, Message is its error text.
	CNResult
	// CNReconnect: the pool asked the proxy to reconnect (Host/Port, or the
	// same pool when Host is empty) after Wait seconds.
	CNReconnect
)

// CNEvent is what Handle makes of one line. Message and Host are views
// valid until the next Handle on the same parser.
type CNEvent[T any] struct {
	Kind     CNEventKind
	Job      stratum.Job
	Pending  Pending[T]
	Accepted bool
	Message  []byte
	Host     []byte
	Port     int
	Wait     int
}

// CNClient is the protocol state of one CryptoNote pool connection: the
// login, the pool session id, request ids, and the submits awaiting an
// answer (tagged with T). One event loop owns it; it is not safe for
// concurrent use. Times are in the caller's nanosecond clock.
type CNClient[T any] struct {
	login    stratum.PoolLogin
	session  string
	nextID   uint64
	loginID  uint64
	ready    bool
	pending  pendingRing[T]
	lastSend int64
	owed     owedClock
}

// NewCNClient returns the state of a new connection that will log in with
// login and keep at most maxPending submits in flight.
func NewCNClient[T any](login stratum.PoolLogin, maxPending int) *CNClient[T] {
	return &CNClient[T]{login: login, nextID: 1, pending: newPendingRing[T](maxPending)}
}

// Ready reports whether the login succeeded.
func (c *CNClient[T]) Ready() bool { return c.ready }

// Session returns the pool's session id ("" before login).
func (c *CNClient[T]) Session() string { return c.session }

// InFlight returns the number of submits awaiting an answer.
func (c *CNClient[T]) InFlight() int { return c.pending.n }

// AppendLogin appends the login request line.
func (c *CNClient[T]) AppendLogin(dst []byte, now int64) []byte {
	c.loginID = c.id()
	c.lastSend = now
	c.owed.sent(now)
	return stratum.AppendPoolLogin(dst, c.loginID, &c.login)
}

// AppendSubmit appends a submit line for a validated share and records it
// as pending under tag. When the ring of pending submits is full, the
// oldest unanswered one is returned as evicted: the caller must answer its
// miner (the pool is not keeping up).
func (c *CNClient[T]) AppendSubmit(dst []byte, tag T, jobID, nonce, result, algo []byte, now int64) (out []byte, evicted Pending[T], wasEvicted bool) {
	id := c.id()
	evicted, wasEvicted = c.pending.put(id, now, tag)
	c.lastSend = now
	c.owed.sent(now)
	return stratum.AppendPoolSubmit(dst, id, c.session, jobID, nonce, result, algo), evicted, wasEvicted
}

// AppendKeepalive appends a keepalived line when nothing was sent for at
// least idle; otherwise it returns dst unchanged.
func (c *CNClient[T]) AppendKeepalive(dst []byte, now, idle int64) []byte {
	if !c.ready || now-c.lastSend < idle {
		return dst
	}
	c.lastSend = now
	c.owed.sent(now)
	return stratum.AppendPoolKeepalived(dst, c.id(), c.session)
}

func (c *CNClient[T]) id() uint64 {
	id := c.nextID
	c.nextID++
	return id
}

// Handle interprets one line from the pool. It returns ErrProtocol (wrapping
// the cause) for malformed lines and broken login replies, ErrLoginRefused
// for a refused login (the error text is in ev.Message), and
// stratum.ErrInvalidJob for a job notification that failed validation (the
// connection may continue; the job is dropped).
func (c *CNClient[T]) Handle(p *fastjson.Parser, line []byte, now int64, ev *CNEvent[T]) error {
	*ev = CNEvent[T]{}
	var m stratum.PoolMessage
	err := stratum.ParsePoolMessage(p, line, &m)
	if errors.Is(err, stratum.ErrMalformed) {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	switch m.Kind {
	case stratum.PoolJobNotify:
		if err != nil {
			return err
		}
		if !c.ready {
			return fmt.Errorf("%w: job before login", ErrProtocol)
		}
		ev.Kind, ev.Job = CNJob, m.Job
		return nil
	case stratum.PoolReconnect:
		ev.Kind, ev.Host, ev.Port, ev.Wait = CNReconnect, m.Host, m.Port, m.Wait
		return nil
	case stratum.PoolUnknown:
		return nil
	}
	if !m.HasID {
		return nil
	}
	// Any answer (even to a submit already expired locally, or to a
	// keepalived) shows the pool is alive.
	defer func() { c.owed.answered(now, c.pending.n > 0) }()
	if m.ID == c.loginID && !c.ready {
		if m.Error != nil {
			ev.Message = m.Error
			return fmt.Errorf("%w: %s", ErrLoginRefused, m.Error)
		}
		if err != nil {
			return fmt.Errorf("%w: login reply: %v", ErrProtocol, err)
		}
		if !m.HasJob || !stratum.IsToken(m.SessionID, 128) {
			return fmt.Errorf("%w: login reply without session id or job", ErrProtocol)
		}
		c.session = string(m.SessionID)
		c.ready = true
		ev.Kind, ev.Job = CNLogin, m.Job
		return nil
	}
	pd, ok := c.pending.take(m.ID)
	if !ok {
		return nil
	}
	ev.Kind, ev.Pending = CNResult, pd
	ev.Accepted = m.Error == nil
	ev.Message = m.Error
	return nil
}

// Expire removes submits sent before deadline and passes each to fn (the
// caller answers their miners with a timeout error).
func (c *CNClient[T]) Expire(deadline int64, fn func(Pending[T])) { c.pending.expire(deadline, fn) }

// Drain removes every pending submit and passes it to fn; used when the
// connection is gone.
func (c *CNClient[T]) Drain(fn func(Pending[T])) { c.pending.expire(1<<63-1, fn) }

// Stalled reports whether the pool has owed an answer (to the login, a
// submit or a keepalived) for longer than timeout: a hung pool, even when
// the submits it owed were already expired and answered locally.
func (c *CNClient[T]) Stalled(now, timeout int64) bool { return c.owed.stalled(now, timeout) }
