package upstream

import (
	"errors"
	"fmt"

	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// SV1Login is what the proxy sends when it opens a stratum v1 pool
// connection.
type SV1Login struct {
	User, Pass, Agent string
	// VersionMask, when non-zero, asks for BIP310 version rolling with this
	// mask (go-proxy asks for the widest, 1fffe000, and hands each miner
	// the AND of the pool's answer and the miner's mask).
	VersionMask uint32
	// ExtranonceSubscribe sends mining.extranonce.subscribe so the pool
	// may change extranonce1 without a reconnect.
	ExtranonceSubscribe bool
	// Session resumes a previous subscription when the pool supports it.
	Session string
}

// SV1EventKind classifies what a pool line meant.
type SV1EventKind uint8

// Event kinds of a stratum v1 pool connection.
const (
	SV1Nothing SV1EventKind = iota
	// SV1Ready: subscribed and authorized; Extranonce1/Size, Difficulty,
	// VersionMask and (if one arrived already) Job describe the session.
	SV1Ready
	// SV1Job: a mining.notify after SV1Ready.
	SV1Job
	// SV1Difficulty: a mining.set_difficulty after SV1Ready.
	SV1Difficulty
	// SV1Extranonce: mining.set_extranonce; the new Extranonce1 and Size.
	SV1Extranonce
	// SV1VersionMask: mining.set_version_mask.
	SV1VersionMask
	// SV1Result: the answer to a submit.
	SV1Result
	// SV1Reconnect: client.reconnect (Host/Port empty = the same pool).
	SV1Reconnect
)

// SV1Event is what Handle makes of one line. Byte slices are views valid
// until the next Handle on the same parser, except Extranonce1, which the
// client owns until the next extranonce change.
type SV1Event[T any] struct {
	Kind        SV1EventKind
	Job         stratum.SV1Job
	HasJob      bool
	Difficulty  float64
	Extranonce1 []byte
	Size        int
	VersionMask uint32
	Pending     Pending[T]
	Accepted    bool
	Message     []byte
	Code        int
	Host        []byte
	Port        int
	Wait        int
}

// SV1Client is the protocol state of one stratum v1 pool connection. One
// event loop owns it; it is not safe for concurrent use. Times are in the
// caller's nanosecond clock.
type SV1Client[T any] struct {
	login      SV1Login
	nextID     uint64
	confID     uint64
	subID      uint64
	xsubID     uint64
	authID     uint64
	subscribed bool
	authorized bool
	ready      bool
	e1         []byte
	size       int
	session    string
	mask       uint32
	rolling    bool
	diff       float64
	job        stratum.SV1Job
	hasJob     bool
	pending    pendingRing[T]
	lastSend   int64
	owed       owedClock
}

// NewSV1Client returns the state of a new connection.
func NewSV1Client[T any](login SV1Login, maxPending int) *SV1Client[T] {
	return &SV1Client[T]{login: login, nextID: 1, diff: 1, pending: newPendingRing[T](maxPending)}
}

// Ready reports whether the handshake completed.
func (c *SV1Client[T]) Ready() bool { return c.ready }

// Extranonce1 returns the pool's extranonce1 (owned by the client).
func (c *SV1Client[T]) Extranonce1() []byte { return c.e1 }

// Extranonce2Size returns the pool's extranonce2 size.
func (c *SV1Client[T]) Extranonce2Size() int { return c.size }

// VersionMask returns the granted version-rolling mask (0 = no rolling).
func (c *SV1Client[T]) VersionMask() uint32 {
	if !c.rolling {
		return 0
	}
	return c.mask
}

// Difficulty returns the pool's current share difficulty (1 until told).
func (c *SV1Client[T]) Difficulty() float64 { return c.diff }

// LastJob returns the newest job the pool sent (ok false before the first).
func (c *SV1Client[T]) LastJob() (job stratum.SV1Job, ok bool) { return c.job, c.hasJob }

// Session returns the subscription id the pool gave, for resuming.
func (c *SV1Client[T]) Session() string { return c.session }

// InFlight returns the number of submits awaiting an answer.
func (c *SV1Client[T]) InFlight() int { return c.pending.n }

func (c *SV1Client[T]) id() uint64 {
	id := c.nextID
	c.nextID++
	return id
}

// AppendHandshake appends the opening requests, pipelined: configure
// (when version rolling is wanted), subscribe, extranonce.subscribe (when
// wanted) and authorize.
func (c *SV1Client[T]) AppendHandshake(dst []byte, now int64) []byte {
	if c.login.VersionMask != 0 {
		c.confID = c.id()
		dst = stratum.AppendSV1PoolConfigure(dst, c.confID, c.login.VersionMask, 2)
	}
	c.subID = c.id()
	dst = stratum.AppendSV1PoolSubscribe(dst, c.subID, c.login.Agent, c.login.Session)
	if c.login.ExtranonceSubscribe {
		c.xsubID = c.id()
		dst = stratum.AppendSV1PoolExtranonceSubscribe(dst, c.xsubID)
	}
	c.authID = c.id()
	dst = stratum.AppendSV1PoolAuthorize(dst, c.authID, c.login.User, c.login.Pass)
	c.lastSend = now
	c.owed.sent(now)
	return dst
}

// AppendSubmit appends a share for the pool: the miner's submit with
// prefix written before its extranonce2 and worker as the pool's user.
// The ring's oldest unanswered submit is returned when it had to make room.
func (c *SV1Client[T]) AppendSubmit(dst []byte, tag T, prefix []byte, s *stratum.SV1Submit, now int64) (out []byte, evicted Pending[T], wasEvicted bool) {
	id := c.id()
	evicted, wasEvicted = c.pending.put(id, now, tag)
	c.lastSend = now
	c.owed.sent(now)
	return stratum.AppendSV1PoolSubmit(dst, id, c.login.User, prefix, s), evicted, wasEvicted
}

// msgRejected is the message of a rejection the pool gave no reason for.
var msgRejected = []byte("rejected")

// Handle interprets one line from the pool. It returns ErrProtocol for a
// malformed line or a broken handshake answer, ErrLoginRefused when the
// pool refuses subscribe or authorize, and stratum.ErrInvalidJob for a
// notify that failed validation (the connection may continue).
func (c *SV1Client[T]) Handle(p *fastjson.Parser, line []byte, now int64, ev *SV1Event[T]) error {
	*ev = SV1Event[T]{}
	var m stratum.SV1PoolMessage
	err := stratum.ParseSV1PoolMessage(p, line, &m)
	if errors.Is(err, stratum.ErrMalformed) {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	switch m.Kind {
	case stratum.SV1PoolNotify:
		if err != nil {
			return err
		}
		c.job, c.hasJob = m.Job, true
		if c.ready {
			ev.Kind, ev.Job, ev.HasJob = SV1Job, m.Job, true
		}
		return nil
	case stratum.SV1PoolSetDifficulty:
		if err != nil {
			return nil // an unusable difficulty is ignored
		}
		c.diff = m.Difficulty
		if c.ready {
			ev.Kind, ev.Difficulty = SV1Difficulty, m.Difficulty
		}
		return nil
	case stratum.SV1PoolSetExtranonce:
		// A pool that announces an unusable extranonce cannot be mined
		// on: miners would work on a space nobody can verify.
		if err != nil || !c.setExtranonce(m.Extranonce1, m.Extranonce2Size) {
			return fmt.Errorf("%w: bad mining.set_extranonce", ErrProtocol)
		}
		if c.ready {
			ev.Kind, ev.Extranonce1, ev.Size = SV1Extranonce, c.e1, c.size
		}
		return nil
	case stratum.SV1PoolSetVersionMask:
		if err != nil {
			return nil
		}
		c.mask = m.VersionMask
		c.rolling = c.login.VersionMask != 0
		if c.ready {
			ev.Kind, ev.VersionMask = SV1VersionMask, c.VersionMask()
		}
		return nil
	case stratum.SV1PoolReconnect:
		ev.Kind, ev.Host, ev.Port, ev.Wait = SV1Reconnect, m.Host, m.Port, m.Wait
		return nil
	case stratum.SV1PoolResponse:
	default:
		return nil
	}
	if !m.HasID {
		return nil
	}
	// Any answer shows the pool is alive; the handshake's other answers and
	// pending submits stay owed.
	defer func() { c.owed.answered(now, !c.ready || c.pending.n > 0) }()
	switch {
	case m.ID == c.confID && c.confID != 0:
		c.confID = 0
		if m.Error == nil && m.VersionRolling {
			c.rolling, c.mask = true, m.VersionMask
		}
		return nil
	case m.ID == c.xsubID && c.xsubID != 0:
		c.xsubID = 0 // refused or not: the pool just won't send set_extranonce
		return nil
	case m.ID == c.subID && c.subID != 0:
		c.subID = 0
		if m.Error != nil {
			ev.Message = m.Error
			return fmt.Errorf("%w: subscribe: %s", ErrLoginRefused, m.Error)
		}
		if m.Result != stratum.SV1ResultSubscribe || !c.setExtranonce(m.Extranonce1, m.Extranonce2Size) {
			return fmt.Errorf("%w: bad subscribe result", ErrProtocol)
		}
		c.session = string(m.SessionID)
		c.subscribed = true
		return c.maybeReady(ev)
	case m.ID == c.authID && c.authID != 0:
		c.authID = 0
		if m.Error != nil || m.Result != stratum.SV1ResultBool || !m.ResultBool {
			ev.Message = m.Error
			return fmt.Errorf("%w: authorize: %s", ErrLoginRefused, m.Error)
		}
		c.authorized = true
		return c.maybeReady(ev)
	}
	pd, ok := c.pending.take(m.ID)
	if !ok {
		return nil
	}
	ev.Kind, ev.Pending = SV1Result, pd
	ev.Accepted = m.Error == nil && m.Result == stratum.SV1ResultBool && m.ResultBool
	if !ev.Accepted {
		ev.Message, ev.Code = m.Error, m.ErrorCode
		if ev.Message == nil {
			ev.Message = msgRejected
		}
	}
	return nil
}

// setExtranonce stores a hex extranonce1 and size from the pool.
func (c *SV1Client[T]) setExtranonce(hex []byte, size int) bool {
	e1, ok := stratum.DecodeHex(c.e1[:0], hex)
	if !ok || size < 1 || size > stratum.MaxSV1ExtranonceSize {
		return false
	}
	c.e1, c.size = e1, size
	return true
}

func (c *SV1Client[T]) maybeReady(ev *SV1Event[T]) error {
	if c.ready || !c.subscribed || !c.authorized {
		return nil
	}
	c.ready = true
	ev.Kind = SV1Ready
	ev.Extranonce1, ev.Size = c.e1, c.size
	ev.Difficulty = c.diff
	ev.VersionMask = c.VersionMask()
	ev.Job, ev.HasJob = c.job, c.hasJob
	return nil
}

// Expire removes submits sent before deadline and passes each to fn.
func (c *SV1Client[T]) Expire(deadline int64, fn func(Pending[T])) { c.pending.expire(deadline, fn) }

// Drain removes every pending submit and passes it to fn.
func (c *SV1Client[T]) Drain(fn func(Pending[T])) { c.pending.expire(1<<63-1, fn) }

// Stalled reports whether the pool has owed an answer (to the handshake
// or a submit) for longer than timeout, even when the submits it owed were
// already expired and answered locally.
func (c *SV1Client[T]) Stalled(now, timeout int64) bool { return c.owed.stalled(now, timeout) }
