package mockpool

import (
	"encoding/binary"
	"hash/fnv"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// MsgRandomReject is the error a RejectRatio rejection carries.
const MsgRandomReject = "Rejected share"

// verdict is the outcome of checking one submit.
type verdict uint8

const (
	vAccepted verdict = iota
	vRejected         // generic rejection: counted in Rejected only
	vBadFormat
	vLowDiff
	vDuplicate
)

func (s *session) handleSubmit(b *Behavior, req *stratum.Request) error {
	p := s.p
	if b.DropOnSubmit || b.NoSubmitReply {
		s.mu.Lock()
		s.submits++
		s.mu.Unlock()
		p.update(func(st *Stats) { st.Submits++ })
		if b.DropOnSubmit {
			return errHangUp
		}
		return nil
	}

	s.mu.Lock()
	v, msg := s.judgeLocked(&req.Params)
	s.submits++
	if v == vAccepted {
		s.accepted++
	}
	sid := s.id
	s.mu.Unlock()

	// Count (and report) before answering, so that a client that has its
	// answer sees it in Stats.
	p.update(func(st *Stats) {
		st.Submits++
		switch v {
		case vAccepted:
			st.Accepted++
			return
		case vBadFormat:
			st.BadFormat++
		case vLowDiff:
			st.LowDiff++
		case vDuplicate:
			st.Duplicates++
		}
		st.Rejected++
	})
	if p.cfg.OnSubmit != nil {
		pp := &req.Params
		p.cfg.OnSubmit(Submit{
			SessionID: sid, JobID: string(pp.JobID), Nonce: string(pp.Nonce),
			Result: string(pp.Result), Error: msg,
		})
	}
	return s.reply(func(dst []byte) []byte {
		if v == vAccepted {
			return stratum.AppendStatusReply(dst, &req.ID, "OK")
		}
		return stratum.AppendErrorReply(dst, &req.ID, msg)
	})
}

// judgeLocked checks a submit like a pool: session, field shapes, job id
// (current or previous job of this session), claimed difficulty, duplicate,
// then the RejectRatio lottery. An accepted share is recorded for duplicate
// detection. Caller holds s.mu.
func (s *session) judgeLocked(pp *stratum.Params) (verdict, string) {
	if s.id == "" || string(pp.SessionID) != s.id {
		return vRejected, stratum.MsgUnauthenticated
	}
	if err := pp.ValidateSubmit(); err != nil {
		return vBadFormat, err.Error()
	}
	var rec *jobRecord
	var seen map[uint32]struct{}
	switch {
	case s.cur != nil && string(pp.JobID) == s.cur.job.JobID:
		rec, seen = s.cur, s.curSeen
	case s.prev != nil && string(pp.JobID) == s.prev.job.JobID:
		rec, seen = s.prev, s.prevSeen
	default:
		return vRejected, stratum.MsgInvalidJobID
	}
	if stratum.ResultDifficulty(pp.Result) < rec.diff {
		return vLowDiff, stratum.MsgLowDifficulty
	}
	var nb [4]byte
	stratum.DecodeHex(nb[:0], pp.Nonce) // validated: 8 lowercase hex
	nonce := binary.LittleEndian.Uint32(nb[:])
	if _, dup := seen[nonce]; dup {
		return vDuplicate, stratum.MsgDuplicateShare
	}
	seen[nonce] = struct{}{}
	if r := s.p.cfg.RejectRatio; r > 0 && shareLottery(s.p.cfg.Seed, s.id, rec.job.JobID, nonce) < r {
		return vRejected, MsgRandomReject
	}
	return vAccepted, ""
}

// shareLottery maps a share to a reproducible number in [0, 1).
func shareLottery(seed int64, session, jobID string, nonce uint32) float64 {
	h := fnv.New64a()
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(seed))
	binary.LittleEndian.PutUint32(b[8:], nonce)
	_, _ = h.Write(b[:])
	_, _ = h.Write([]byte(session))
	_, _ = h.Write([]byte(jobID))
	x := h.Sum64()
	// splitmix64 finaliser for a well-spread top 53 bits.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}
