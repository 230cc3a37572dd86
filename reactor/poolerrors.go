package reactor

import (
	"errors"

	"forge.lthn.ai/core/go-proxy/stats"
	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// poolErrReason is why a pool line was refused (stats.PoolErrors fields).
type poolErrReason uint8

const (
	poolErrLineTooLong  poolErrReason = iota // a line over the pool limit (64 KiB): connection dropped
	poolErrNotJSON                           // a line that is not a JSON object: connection dropped
	poolErrProtocol                          // JSON that breaks the protocol: connection dropped
	poolErrLoginRefused                      // the pool refused the login: connection dropped
	poolErrInvalidJob                        // a job the proxy cannot use: skipped
)

// String is the reason as logs and the metrics label name it.
func (r poolErrReason) String() string {
	switch r {
	case poolErrLineTooLong:
		return "line_too_long"
	case poolErrNotJSON:
		return "not_json"
	case poolErrProtocol:
		return "protocol"
	case poolErrLoginRefused:
		return "login_refused"
	}
	return "invalid_job"
}

// maxPoolErrPools bounds a shard's table of pools with errors: pool
// addresses come from the configuration and the account store, but a
// client.reconnect can name others. Beyond it errors count under "other".
const maxPoolErrPools = 256

// poolErrOther is the pool label of errors beyond maxPoolErrPools.
const poolErrOther = "other"

// poolErrors is a shard's count of pool errors by pool host:port
// (loop-only). pub is the last copy published; nil after a change.
type poolErrors struct {
	byPool map[string]*stats.PoolErrors
	pub    map[string]stats.PoolErrors
}

// count records one error of pool.
func (e *poolErrors) count(pool string, r poolErrReason) {
	if e.byPool == nil {
		e.byPool = map[string]*stats.PoolErrors{}
	}
	c := e.byPool[pool]
	if c == nil {
		if len(e.byPool) >= maxPoolErrPools {
			pool = poolErrOther
			c = e.byPool[pool]
		}
		if c == nil {
			c = &stats.PoolErrors{}
			e.byPool[pool] = c
		}
	}
	switch r {
	case poolErrLineTooLong:
		c.LineTooLong++
	case poolErrNotJSON:
		c.NotJSON++
	case poolErrProtocol:
		c.Protocol++
	case poolErrLoginRefused:
		c.LoginRefused++
	default:
		c.InvalidJob++
	}
	e.pub = nil
}

// published returns an immutable copy of the counts (the same one until
// the next change); nil when there are none.
func (e *poolErrors) published() map[string]stats.PoolErrors {
	if e.pub == nil && len(e.byPool) > 0 {
		e.pub = make(map[string]stats.PoolErrors, len(e.byPool))
		for k, v := range e.byPool {
			e.pub[k] = *v
		}
	}
	return e.pub
}

// label is the pool's host:port (never its credentials), for counts and
// logs.
func (pc *poolConn) label() string {
	if pc.addr != "" {
		return pc.addr
	}
	if ep, err := pc.pool.Endpoint(); err == nil {
		return ep.Address()
	}
	return poolErrOther
}

// poolError counts an error of pc's pool under its reason.
func (pc *poolConn) poolError(r poolErrReason) {
	pc.mp.s.poolErrs.count(pc.label(), r)
}

// framingError handles a pool line the framing refused (too long, not a
// JSON object): counted for the pool, never as a miner's bad line, and
// logged with the pool and the reason. The connection is then dropped.
func (pc *poolConn) framingError(err error) {
	r := poolErrNotJSON
	if errors.Is(err, stratum.ErrLineTooLong) {
		r = poolErrLineTooLong
	}
	pc.poolError(r)
	msg := "pool sent a line that is not a JSON object; dropping the connection"
	if r == poolErrLineTooLong {
		msg = "pool sent a line over the pool line limit; dropping the connection"
	}
	pc.mp.s.p.warnLimited(msg, "pool", pc.label(), "reason", r.String())
}

// errorReason classifies an error from a pool protocol client.
func errorReason(err error) poolErrReason {
	switch {
	case errors.Is(err, stratum.ErrInvalidJob):
		return poolErrInvalidJob
	case errors.Is(err, upstream.ErrLoginRefused):
		return poolErrLoginRefused
	}
	return poolErrProtocol
}
