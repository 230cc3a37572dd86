package reactor

import (
	"net/netip"
	"time"
)

// Family is the stratum dialect of a miner or pool.
type Family uint8

// Families.
const (
	FamilyUnknown    Family = iota // not yet known: no request received
	FamilyCryptoNote               // XMRig-style login/job/submit
	FamilySV1                      // Bitcoin-family stratum v1
)

// String returns "cryptonote", "sv1" or "unknown".
func (f Family) String() string {
	switch f {
	case FamilyCryptoNote:
		return "cryptonote"
	case FamilySV1:
		return "sv1"
	}
	return "unknown"
}

// MinerState is the lifecycle state of a miner connection, with the values
// /1/miners reports.
type MinerState uint8

// Miner states: WaitLogin (10 s) → WaitReady (until the pool has a job) →
// Ready (600 s idle timeout) → Closing.
const (
	StateWaitLogin MinerState = iota
	StateWaitReady
	StateReady
	StateClosing
)

// MinerEvent describes a miner at login or close. Strings are shared,
// never copied: keep them as long as you like.
type MinerEvent struct {
	ID     uint64
	Addr   netip.AddrPort
	Family Family
	User   string // login / authorized name, "+N" difficulty suffix removed
	// Account: User is a registered account name (SV1 passthrough), which
	// is a mining credential: do not log or publish it.
	Account bool
	Worker  string // worker name under the configured workers mode
	RigID   string
	Agent   string
	Rx, Tx  uint64 // bytes, at close
}

// ShareEvent describes one share's outcome.
type ShareEvent struct {
	Miner  uint64
	Addr   netip.AddrPort // the miner's address
	Family Family
	User   string
	RigID  string // the rig id the miner logged in with
	// Account: User is a registered account name (see MinerEvent).
	Account bool
	Worker  string
	// Diff is the difficulty credited: the one the share was judged at (the
	// miner's own) for a local accept, and for a forwarded share of a miner
	// whose local accepts count (vardiff, custom-diff-stats); the pool's job
	// difficulty for other forwarded shares.
	Diff uint64
	// Actual is the difficulty the share's hash meets.
	Actual uint64
	// Latency is the pool's answer time (0 for local answers).
	Latency time.Duration
	// Expired: the share was for the previous job.
	Expired bool
	// Local: answered by the proxy without the pool (custom difficulty
	// accepts and every invalid share).
	Local bool
	// Reason is the rejection message (rejects only).
	Reason string
}

// Hooks are callbacks for programs embedding the reactor. Each runs on the
// event loop that owns the miner: it must return quickly, must not block,
// and must not call back into the Proxy synchronously. Nil hooks are
// skipped. Set them before Start.
type Hooks struct {
	OnLogin  func(MinerEvent)
	OnAccept func(ShareEvent)
	OnReject func(ShareEvent)
	OnClose  func(MinerEvent)
}
