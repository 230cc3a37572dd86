package sv1pool

import (
	"crypto/tls"
	"time"

	"forge.lthn.ai/core/go-proxy/internal/segrelay"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// Config says how a Pool behaves. The zero value is a usable plain-TCP pool
// on a random loopback port at difficulty 1/65536.
type Config struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// TLS, when non-nil, makes the pool serve TLS with this configuration.
	TLS *tls.Config
	// Relay, when non-nil, puts a segmenting relay in front of the pool:
	// Addr returns the relay's address, and every line the pool sends
	// reaches its client cut as Relay says (see internal/segrelay).
	Relay *segrelay.Config
	// Extranonce1Size is the size in bytes of the extranonce1 each
	// connection gets (1..16, default 4). Extranonce1s are a counter, so they
	// are distinct as long as fewer than 256^Extranonce1Size have been
	// handed out.
	Extranonce1Size int
	// Extranonce2Size is the extranonce2_size announced to miners (1..16,
	// default 8). Submits must carry exactly this many bytes.
	Extranonce2Size int
	// Difficulty is the share difficulty sent with mining.set_difficulty;
	// default 1/65536 (a CPU test miner finds a share every ~65536 hashes).
	// It is in the algorithm's unit (see stratum.SV1Algo: a scrypt
	// difficulty is 65536 times sha256d's for the same target).
	Difficulty float64
	// Algo is the proof of work shares are checked with: "" or "sha256d"
	// (default), or "scrypt" (~0.2 ms a hash, so keep difficulties tiny).
	Algo string
	// VersionRolling grants BIP310 version rolling in mining.configure with
	// the mask 1fffe000 (or the one SetVersionMask set) AND the miner's mask.
	// Without it, mining.configure answers version-rolling false.
	VersionRolling bool
	// JobInterval, when positive, broadcasts a new job (clean_jobs false,
	// same block) that often. Zero means only the first job and explicit
	// BroadcastJob calls.
	JobInterval time.Duration
	// RejectRatio is the fraction (0..1) of otherwise good shares answered
	// with error 20 MsgRandomReject. The choice is a hash of Seed, the
	// share's extranonces, job id and nonce, so the same share always gets
	// the same answer.
	RejectRatio float64
	// KeepReplacedJob keeps the newest job valid after a clean job replaced
	// it (until the next clean job), as pools with a grace period for
	// shares in flight do.
	KeepReplacedJob bool
	// PayoutOutputs is the number of outputs of the coinbase (1..252,
	// default 1). Each adds 31 bytes to coinb2 (62 hex characters to every
	// mining.notify): 150 make the ~9.5 KB notify of a PPLNS pool that pays
	// its miners in the coinbase, longer than one TCP segment.
	PayoutOutputs int
	// Seed makes job contents, session ids and rejections reproducible.
	Seed int64
	// Authorize, when set, decides mining.authorize: a non-nil error refuses
	// the worker with error 24 and the error's text. It is called from the
	// connection's reader goroutine and must be goroutine-safe. Nil accepts
	// every well-formed user. Authorized users are listed in Sessions.
	Authorize func(user, pass string) error
	// MinerKey, when set, names the downstream miner a share came from, for
	// the overlap check (see Pool.Overlaps). Default: session id + "/" +
	// worker. Called from reader goroutines; must be goroutine-safe.
	MinerKey func(Submit) string
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
	// DefaultAddr is a random loopback port.
	DefaultAddr = "127.0.0.1:0"
	// DefaultExtranonce1Size is 4 bytes, as most pools hand out.
	DefaultExtranonce1Size = 4
	// DefaultExtranonce2Size is 8 bytes: room for a proxy's 4-byte prefix.
	DefaultExtranonce2Size = 8
	// DefaultDifficulty is 1/65536: a share every ~65536 hashes, ~13 ms of
	// one core.
	DefaultDifficulty = 1.0 / 65536
	// DefaultVersionMask is the mask a version-rolling pool offers
	// (BIP320, stratum.SV1DefaultVersionMask) until SetVersionMask.
	DefaultVersionMask = stratum.SV1DefaultVersionMask
)

// MsgRandomReject is the error message of a RejectRatio rejection (code 20).
const MsgRandomReject = "Rejected share"

// Limits.
const (
	// maxActiveJobs is how many recent jobs a connection may submit to
	// (until a clean_jobs notify voids them).
	maxActiveJobs = 8
	// maxSharesPerJob bounds the duplicate and overlap records of one job;
	// shares beyond it are verified but not recorded (Stats.Untracked).
	maxSharesPerJob = 1 << 20
	// maxOverlapReports bounds the list Overlaps returns (Stats.Overlaps
	// keeps counting).
	maxOverlapReports = 256
	// maxPayoutOutputs bounds Config.PayoutOutputs (a one-byte count).
	maxPayoutOutputs = 252
	// maxUsersPerSession bounds the authorized users a session remembers.
	maxUsersPerSession = 64
	// maxNTimeAhead is how far past the pool's clock a submitted ntime may be.
	maxNTimeAhead = 2 * time.Hour
)

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Extranonce1Size == 0 {
		c.Extranonce1Size = DefaultExtranonce1Size
	}
	if c.Extranonce2Size == 0 {
		c.Extranonce2Size = DefaultExtranonce2Size
	}
	if c.Difficulty == 0 {
		c.Difficulty = DefaultDifficulty
	}
	return c
}

// Behavior is how the pool treats connections; change it at any time with
// Pool.SetBehavior. It applies to the next line each connection sends (new
// and existing connections alike) and to the next push (job, difficulty,
// extranonce, version mask, reconnect). The zero value is a well-behaved
// pool.
type Behavior struct {
	// Silent accepts TCP and reads, but never answers anything and pushes
	// nothing (a firewalled or hung pool).
	Silent bool
	// Garbage answers every line with a line that is not JSON.
	Garbage bool
	// NoSubmitReply answers everything but mining.submit. The submit is
	// counted in Stats.Submits only.
	NoSubmitReply bool
	// DropOnSubmit closes the connection, without answering, when a submit
	// arrives. The submit is counted in Stats.Submits only.
	DropOnSubmit bool
	// RejectAuthorize answers every mining.authorize with error 24
	// (the connection stays open).
	RejectAuthorize bool
	// GarbageAfterLogin subscribes and authorizes normally and sends the
	// first job, then a line that is not JSON: a pool that accepts the
	// login and then breaks.
	GarbageAfterLogin bool
	// CloseMidLine subscribes and authorizes normally and sends the first
	// job, then the first half of another mining.notify, and closes the
	// connection.
	CloseMidLine bool
}

// Submit describes one submit the pool judged, for Config.OnSubmit and
// Config.MinerKey. Hex fields are lowercase.
type Submit struct {
	// SessionID is the connection's subscription id; RemoteAddr its peer.
	SessionID, RemoteAddr string
	// Worker and JobID are the submitted ones.
	Worker, JobID string
	// Extranonce1 is the extranonce1 the share was hashed with (the
	// connection's, as it was when the job was sent or as it is now,
	// whichever verified), "" when the share was rejected before hashing.
	// Extranonce2, NTime and Nonce are as submitted; VersionBits too, or ""
	// when absent.
	Extranonce1, Extranonce2, NTime, Nonce, VersionBits string
	// Version is the header version hashed (the job's, rolled with
	// VersionBits under the connection's mask); 0 before hashing.
	Version uint32
	// Difficulty is the difficulty the header hash meets, 0 before hashing;
	// Target is the share difficulty it had to meet.
	Difficulty, Target float64
	// Code is 0 for an accepted share, else the stratum error code sent
	// (20 other, 21 stale, 22 duplicate, 23 low difficulty, 24
	// unauthorized, 25 not subscribed); Error is the message sent.
	Code  int
	Error string
}

// Accepted reports whether the share was accepted.
func (s Submit) Accepted() bool { return s.Code == 0 }
