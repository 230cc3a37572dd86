package reactor

import (
	"encoding/binary"

	"forge.lthn.ai/core/go-proxy/nonce"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// The duplicate check. Every pool session (mapper) remembers the shares it
// forwarded or answered locally, as decoded values, over its two newest
// job windows (nonce.Seen): CryptoNote keys a share by its nonce within one
// job (the current or the previous one, the jobs a share may name);
// stratum v1 by job, full extranonce2 (prefix ‖ miner part), ntime, nonce
// and rolled version, within the jobs since the last clean job (current
// window) and the job that clean job replaced (previous window). Keeping
// it per session, not per miner, also covers a slot reused after a job:
// a miner that reconnects onto its old nonce byte or prefix still cannot
// resend its old shares.
//
// Bounds: a window holds at most maxSessionShares shares, and each miner
// may record maxMinerShares of them per window (honest miners are far
// from both: a pool's difficulty keeps a session's share rate low, and the
// per-miner rate limit bounds a hostile one). A share beyond either bound
// is refused (msgTooManyShares): recording nothing and forwarding it could
// let a duplicate through. The maps are cleared, not reallocated, when
// windows turn, so the check allocates nothing once they have grown.

// Duplicate-window bounds.
const (
	maxSessionShares = 1 << 16 // per pool session and window
	maxMinerShares   = 1 << 12 // per miner and window
)

// msgTooManyShares refuses a share beyond the duplicate-window bounds
// (CryptoNote error message; SV1 error code 20 with this message).
const msgTooManyShares = "Too many shares for this job"

var errSV1TooManyShares = &stratum.SV1Error{Code: stratum.SV1CodeOther, Message: msgTooManyShares}

// sv1ShareKey is what makes an SV1 share unique within a session: the
// decoded values, so "00AB" and "00ab" are the same share.
type sv1ShareKey struct {
	job     uint32 // the job's sequence number in the session (sv1Job.seq)
	ntime   uint32
	nonce   uint32
	version uint32 // the header version after rolling
	// e2 is prefix ‖ miner extranonce2, zero-padded; its length is the
	// session's and cannot change without new jobs.
	e2 [stratum.MaxSV1ExtranonceSize]byte
}

// cnShareKey decodes a validated CryptoNote nonce (8 lowercase hex
// digits, little-endian).
func cnShareKey(hex []byte) uint32 {
	var b [4]byte
	stratum.DecodeHex(b[:0], hex)
	return binary.LittleEndian.Uint32(b[:])
}

// turnShares starts a new duplicate window on a new job (CryptoNote) or
// clean job (SV1); keep says whether the window before stays valid.
func (mp *mapper) turnShares(keep bool) {
	if mp.sv != nil {
		mp.sv.seen.Turn(keep)
	} else {
		mp.seen.Turn(keep)
	}
	mp.win++
}

// recordShare adds a share to the session's window, within the miner's
// and the session's bounds; false means it must be refused.
func recordShare[K comparable](m *miner, mp *mapper, seen *nonce.Seen[K], k K, previous bool) bool {
	if m.dupWin != mp.win {
		m.dupWin, m.dupN = mp.win, 0
	}
	if m.dupN >= maxMinerShares || !seen.Add(k, previous, maxSessionShares) {
		return false
	}
	m.dupN++
	return true
}
