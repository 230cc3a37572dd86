package reactor

import "forge.lthn.ai/core/go-proxy/stratum"

// Flow control of shares, so that one miner cannot starve the others on
// its event loop or its pool connection:
//
//   - a per-miner share rate limit: a bucket of submit-rate-limit.burst
//     shares, refilled by shares-per-second at every 1 Hz sweep (no timer per
//     miner). A submit beyond it is answered msgShareRateLimit and not
//     handled; a miner answered that close-after times within a minute is
//     disconnected.
//   - back-pressure from the pool: while a session's pool connection is slow
//     to drain (poolHighWater bytes unsent, or maxPendingSubmits submits
//     unanswered), a miner whose submit arrives is held: that submit and
//     everything after it stay unread in the connection's inbound buffer
//     (gnet's, or the stream's pending bytes for TLS miners) instead of being
//     sent to a pool that would have to drop them. The miners are woken when
//     the connection has drained to half of both marks (checked at each pool
//     answer and at the sweep) or is gone. A held miner that buffers more than
//     maxHeldInput bytes is disconnected.
//
// Everything here is loop-only.

// msgShareRateLimit answers a submit over the miner's share rate limit
// (CryptoNote error message; SV1 error code 20 with this message).
const msgShareRateLimit = "Share rate limit exceeded"

// Pool back-pressure marks.
const (
	// poolHighWater is the bytes waiting to be written to a pool connection
	// above which its miners are held (poolConn.write closes the connection
	// at 1 MiB).
	poolHighWater = 128 << 10
	// maxHeldInput bounds what a held miner may buffer: about 250 submits.
	maxHeldInput = 64 << 10
)

// admitSubmit decides whether a submit is handled now. It returns false
// when the share was answered with the rate-limit error, or when the miner
// is held (the caller returns; feed leaves the line unread).
func (m *miner) admitSubmit(id *stratum.RequestID) bool {
	lim := &m.s.cfg.SubmitRateLimit
	if int(m.spent) >= lim.Burst {
		m.throttle(id)
		return false
	}
	if mp := m.mp; mp != nil && mp.congested() {
		mp.hold(m)
		return false
	}
	m.spent++
	return true
}

// throttle answers a submit over the rate limit and disconnects a miner
// that keeps flooding.
func (m *miner) throttle(id *stratum.RequestID) {
	s := m.s
	s.fc[m.family].Throttled++
	if m.family == FamilySV1 {
		m.replySV1Error(id, errSV1RateLimit)
	} else {
		m.replyError(id, msgShareRateLimit)
	}
	m.throttled++
	if int(m.throttled) >= s.cfg.SubmitRateLimit.CloseAfter && m.state < stateClosing {
		s.fc[0].FloodClosed++
		s.p.warnLimited("miner flooding shares, closing", "miner", m.id, "addr", m.addr.String())
		m.close()
	}
}

// errSV1RateLimit answers an SV1 submit over the rate limit.
var errSV1RateLimit = &stratum.SV1Error{Code: stratum.SV1CodeOther, Message: msgShareRateLimit}

// refill is the miner's part of the 1 Hz sweep: the rate-limit bucket
// gains shares-per-second shares, and a new minute forgets the refusals
// counted toward close-after.
func (m *miner) refill(perSecond int, newMinute bool) {
	m.spent = max(0, m.spent-int32(min(perSecond, 1<<30)))
	if newMinute {
		m.throttled = 0
	}
}

// congested reports whether the session's pool connection is slow to
// drain: a submit now would wait behind poolHighWater unsent bytes, or
// evict an unanswered one from the pending ring.
func (mp *mapper) congested() bool {
	pc := mp.conn
	if pc == nil || pc.proto == nil || pc.dead {
		return false
	}
	return pc.proto.InFlight() >= maxPendingSubmits || pc.buffered() > poolHighWater
}

// drained reports whether held miners may resume: the connection is down
// to half of both marks, or gone (its miners then get its successor's
// answer, such as Bad gateway).
func (mp *mapper) drained() bool {
	pc := mp.conn
	if pc == nil || pc.proto == nil || pc.dead {
		return true
	}
	return pc.proto.InFlight() <= maxPendingSubmits/2 && pc.buffered() <= poolHighWater/2
}

// hold stops reading m until the pool connection drains.
func (mp *mapper) hold(m *miner) {
	if m.held {
		return
	}
	m.held = true
	mp.held = append(mp.held, m)
	mp.s.fc[m.family].Held++
}

// resumeIfDrained wakes the held miners once the connection has drained.
func (mp *mapper) resumeIfDrained() {
	if len(mp.held) > 0 && mp.drained() {
		mp.resumeHeld()
	}
}

// resumeHeld wakes every held miner: each one's transport delivers its
// buffered input again (asynchronously, as a new read), and a miner that
// meets a congested connection again is held again.
func (mp *mapper) resumeHeld() {
	held := mp.held
	mp.held = mp.heldSpare[:0]
	for i, m := range held {
		held[i] = nil
		if m.held {
			m.held = false
			if m.state < stateClosing {
				m.conn.resume()
			}
		}
	}
	mp.heldSpare = held[:0]
}

// heldInputOK reports whether a held miner may keep buffering n bytes; one
// that may not is counted and must be closed.
func (m *miner) heldInputOK(n int) bool {
	if n <= maxHeldInput {
		return true
	}
	m.s.fc[0].HeldClosed++
	m.s.p.warnLimited("held miner buffered too much, closing", "miner", m.id, "addr", m.addr.String())
	return false
}
