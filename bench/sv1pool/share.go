package sv1pool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"time"

	"forge.lthn.ai/core/go-proxy/bench/internal/poolserver"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// Rejections this pool adds to the standard stratum ones (code 20).
var (
	errNTimeRange   = &stratum.SV1Error{Code: stratum.SV1CodeOther, Message: "Ntime out of range"}
	errRandomReject = &stratum.SV1Error{Code: stratum.SV1CodeOther, Message: MsgRandomReject}
)

// outcome is how a judged share is counted.
type outcome uint8

const (
	oAccepted outcome = iota
	oRejected         // counted in Rejected only (RejectRatio)
	oStale
	oDuplicate
	oLowDiff
	oBadFormat
	oUnauthorized
)

// verdict is the result of judging one submit.
type verdict struct {
	outcome outcome
	err     *stratum.SV1Error // nil when accepted
	overlap string            // description of an overlap found, or ""
	tracked bool              // the share was recorded for duplicates and overlaps
}

func (s *session) handleSubmit(b *Behavior, req *stratum.SV1Request) error {
	p := s.p
	if b.DropOnSubmit || b.NoSubmitReply {
		s.Lock()
		s.submits++
		s.Unlock()
		p.update(func(st *Stats) { st.Submits++ })
		if b.DropOnSubmit {
			return poolserver.ErrHangUp
		}
		return nil
	}

	sub := &req.Submit
	out := Submit{
		SessionID: s.id, RemoteAddr: s.RemoteAddr(),
		Worker: string(sub.Worker), JobID: string(sub.JobID),
		Extranonce2: strings.ToLower(string(sub.Extranonce2)),
		NTime:       strings.ToLower(string(sub.NTime)),
		Nonce:       strings.ToLower(string(sub.Nonce)),
		VersionBits: strings.ToLower(string(sub.VersionBits)),
	}
	v := s.judge(sub, &out)
	if v.err != nil {
		out.Code, out.Error = v.err.Code, v.err.Message
	}

	s.Lock()
	s.submits++
	if v.outcome == oAccepted {
		s.accepted++
	} else {
		s.rejected++
	}
	s.Unlock()

	// Count (and report) before answering, so that a client that has its
	// answer sees it in Stats.
	p.update(func(st *Stats) {
		st.Submits++
		if !v.tracked && v.outcome != oLowDiff && out.Difficulty > 0 {
			st.Untracked++
		}
		if v.overlap != "" {
			st.Overlaps++
			if len(p.overlaps) < maxOverlapReports {
				p.overlaps = append(p.overlaps, v.overlap)
			}
		}
		switch v.outcome {
		case oAccepted:
			st.Accepted++
			st.AcceptedDiff += out.Target
			return
		case oStale:
			st.Stale++
		case oDuplicate:
			st.Duplicates++
		case oLowDiff:
			st.LowDiff++
		case oBadFormat:
			st.BadFormat++
		case oUnauthorized:
			st.Unauthorized++
		}
		st.Rejected++
	})
	if p.cfg.OnSubmit != nil {
		p.cfg.OnSubmit(out)
	}
	if v.err != nil {
		return s.replyError(&req.ID, v.err)
	}
	return s.replyBool(&req.ID, true)
}

// judge checks a submit like a pool, in this order: subscribed (25), job
// active on this connection (21), field shapes and version bits inside the
// negotiated mask (20; a malformed worker 24), worker authorized on this
// connection (24), ntime not before the job's nor two hours ahead (20),
// then the real proof of work: the coinbase rebuilt with the connection's
// extranonce1 and the submitted extranonce2, merkle root, header with the
// rolled version, sha256d, compared with the share target (23). A share
// that meets it is checked against every earlier share of the job, on any
// connection, for an overlap (same full extranonce, different miner key)
// and a duplicate (same extranonces, ntime, nonce and version: 22), and
// finally goes through the RejectRatio lottery. It fills the hashing
// fields of out.
//
// Leniency, so that a correct client never gets a false rejection: the
// share target is the easier of the difficulty in force when the job was
// sent and the current one (mining.set_difficulty applies from the next
// job, some miners apply it at once), and after mining.set_extranonce both
// the extranonce1 the job was sent with and the current one verify.
func (s *session) judge(sub *stratum.SV1Submit, out *Submit) verdict {
	p := s.p
	s.Lock()
	subscribed := s.subscribed
	job, found := s.findJobLocked(sub.JobID)
	mask, curE1, curDiff := s.mask, s.e1, s.diff
	authorized := slices.Contains(s.users, string(sub.Worker))
	s.Unlock()

	switch {
	case !subscribed:
		return verdict{outcome: oUnauthorized, err: stratum.ErrSV1NotSubscribed}
	case !found:
		return verdict{outcome: oStale, err: stratum.ErrSV1JobNotFound}
	}
	if err := sub.Validate(p.cfg.Extranonce2Size, mask); err != nil {
		e := asSV1Error(err)
		if errors.Is(err, stratum.ErrSV1Unauthorized) {
			return verdict{outcome: oUnauthorized, err: e}
		}
		return verdict{outcome: oBadFormat, err: e}
	}
	if !authorized {
		return verdict{outcome: oUnauthorized, err: stratum.ErrSV1Unauthorized}
	}
	bin := job.rec.bin
	ntime, nonce, bits := sub.NTimeValue, sub.NonceValue, sub.VersionBitsValue
	if ntime < bin.NTime || int64(ntime) > time.Now().Add(maxNTimeAhead).Unix() {
		return verdict{outcome: oBadFormat, err: errNTimeRange}
	}
	var e2buf [stratum.MaxSV1ExtranonceSize]byte
	e2, _ := stratum.DecodeHex(e2buf[:0], sub.Extranonce2) // validated

	diff := min(job.diff, curDiff)
	target := s.targetFor(diff)
	e1 := job.e1
	hash := s.shareHash(bin, e1, e2, ntime, nonce, bits, mask)
	if !target.Meets(&hash) && !bytes.Equal(curE1, job.e1) {
		if h2 := s.shareHash(bin, curE1, e2, ntime, nonce, bits, mask); target.Meets(&h2) {
			e1, hash = curE1, h2
		}
	}
	out.Extranonce1 = string(stratum.AppendHex(nil, e1))
	out.Version = stratum.SV1RollVersion(bin.Version, bits, mask)
	out.Difficulty = p.pow.HashDifficulty(&hash)
	out.Target = diff
	if !target.Meets(&hash) {
		return verdict{outcome: oLowDiff, err: stratum.ErrSV1LowDifficulty}
	}

	// full = extranonce1 ‖ extranonce2, the work prefix; key adds the rest
	// of what makes a share unique.
	var kb [2*stratum.MaxSV1ExtranonceSize + 12]byte
	full := append(append(kb[:0], e1...), e2...)
	key := binary.BigEndian.AppendUint32(full, ntime)
	key = binary.BigEndian.AppendUint32(key, nonce)
	key = binary.BigEndian.AppendUint32(key, out.Version)
	v := verdict{outcome: oAccepted}
	var dup bool
	var other string
	miner := p.minerKey(out)
	dup, other, v.tracked = job.rec.record(full, key, miner)
	if other != "" {
		v.overlap = "job " + out.JobID + " extranonce " + out.Extranonce1 + out.Extranonce2 +
			": miner " + other + " and miner " + miner
	}
	if dup {
		v.outcome, v.err = oDuplicate, stratum.ErrSV1Duplicate
		return v
	}
	if r := p.cfg.RejectRatio; r > 0 && poolserver.RejectLottery(p.cfg.Seed, nonce, full, out.JobID) < r {
		v.outcome, v.err = oRejected, errRandomReject
	}
	return v
}

// shareHash is the proof-of-work hash of a share under the pool's
// algorithm (reader-owned).
func (s *session) shareHash(bin *stratum.SV1JobBinary, e1, e2 []byte, ntime, nonce, bits, mask uint32) [32]byte {
	pow := s.p.pow
	if pow == stratum.SV1AlgoScrypt && s.scrypt == nil {
		s.scrypt = new(stratum.ScryptHasher)
	}
	h, ok := s.hasher.ShareHashAlgo(pow, s.scrypt, bin, e1, e2, ntime, nonce, bits, mask)
	if !ok {
		// An algorithm the pool cannot hash (Config refuses one): fail
		// closed, a hash above every target, so no share passes unchecked.
		for i := range h {
			h[i] = 0xff
		}
	}
	return h
}

// targetFor returns the share target of diff (in the pool's algorithm's
// unit), cached for the last difficulty seen (reader-owned).
func (s *session) targetFor(diff float64) *stratum.SV1Target {
	if diff != s.lastDiff {
		t, ok := s.p.pow.TargetFromDifficulty(diff)
		if !ok {
			t = stratum.SV1Target{} // nothing meets it; diff is validated, so never
		}
		s.lastDiff, s.lastTarget = diff, t
	}
	return &s.lastTarget
}

// minerKey names the downstream miner of a share (Config.MinerKey).
func (p *Pool) minerKey(sub *Submit) string {
	if p.cfg.MinerKey != nil {
		return p.cfg.MinerKey(*sub)
	}
	return sub.SessionID + "/" + sub.Worker
}

// record remembers a share that met its target: its work prefix (full
// extranonce) with the miner that used it first, and its unique key. It
// reports whether the key was already known, the other miner when the work
// prefix was first used by a different one, and whether the share was
// recorded (false once the job holds maxSharesPerJob shares; it is still
// checked against the earlier ones).
func (r *jobRecord) record(full, key []byte, miner string) (dup bool, other string, tracked bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if first, ok := r.works[string(full)]; ok && first != miner {
		other = first
	}
	if _, ok := r.shares[string(key)]; ok {
		return true, other, true
	}
	if len(r.shares) >= maxSharesPerJob {
		return false, other, false
	}
	r.shares[string(key)] = struct{}{}
	if _, ok := r.works[string(full)]; !ok {
		r.works[string(full)] = miner
	}
	return false, other, true
}
