package mockpool

import (
	"crypto/tls"
	"time"

	"forge.lthn.ai/core/go-proxy/internal/segrelay"
)

// Config says how a Pool behaves. The zero value is a usable plain-TCP pool
// on a random loopback port.
type Config struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// TLS, when non-nil, makes the pool serve TLS with this configuration.
	TLS *tls.Config
	// Relay, when non-nil, puts a segmenting relay in front of the pool:
	// Addr returns the relay's address, and every line the pool sends
	// reaches its client cut as Relay says (see internal/segrelay).
	Relay *segrelay.Config
	// Difficulty is the difficulty of every job; default 1000. The job target
	// is stratum.TargetFromDifficulty(Difficulty).
	Difficulty uint64
	// Algo is the job algorithm; default "rx/0".
	Algo string
	// JobInterval, when positive, broadcasts a new job that often. Zero means
	// only the login job and explicit BroadcastJob calls.
	JobInterval time.Duration
	// RejectRatio is the fraction (0..1) of otherwise good shares answered
	// with an error. The choice is a hash of Seed, session id, job id and
	// nonce, so the same share always gets the same answer.
	RejectRatio float64
	// Seed makes job contents, session ids and rejections reproducible.
	Seed int64
	// Logf, when set, receives one line per connection event (never per
	// share). It is called from the pool's goroutines.
	Logf func(format string, args ...any)
	// OnSubmit, when set, is called synchronously for every submit the pool
	// judged, from the connection's reader goroutine, after Stats counted it
	// and before the reply is written. It must be goroutine-safe and quick.
	OnSubmit func(Submit)
}

// Defaults applied by Start.
const (
	DefaultAddr       = "127.0.0.1:0"
	DefaultDifficulty = 1000
	DefaultAlgo       = "rx/0"
)

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Difficulty == 0 {
		c.Difficulty = DefaultDifficulty
	}
	if c.Algo == "" {
		c.Algo = DefaultAlgo
	}
	return c
}

// Behavior is how the pool treats connections; change it at any time with
// Pool.SetBehavior. It applies to the next line each connection sends (new
// and existing connections alike) and to the next broadcast. The zero value
// is a well-behaved pool.
type Behavior struct {
	// Silent accepts TCP and reads, but never answers anything and sends no
	// jobs (a firewalled or hung pool).
	Silent bool
	// Garbage answers every line with a line that is not JSON.
	Garbage bool
	// NoSubmitReply answers login and keepalived but never submit. The
	// submit is counted in Stats.Submits only.
	NoSubmitReply bool
	// DropOnSubmit closes the connection, without answering, when a submit
	// arrives. The submit is counted in Stats.Submits only.
	DropOnSubmit bool
	// RejectLogin, when non-empty, answers login with this error message
	// (the connection stays open).
	RejectLogin string
	// GarbageAfterLogin answers login normally, then sends a line that is
	// not JSON: a pool that accepts the login and then breaks.
	GarbageAfterLogin bool
	// CloseMidLine answers login normally, then sends the first half of a
	// job notification and closes the connection.
	CloseMidLine bool
}

// Submit describes one submit the pool judged, for Config.OnSubmit.
type Submit struct {
	SessionID, JobID, Nonce, Result string
	// Error is the error message sent back, "" for an accepted share.
	Error string
}
