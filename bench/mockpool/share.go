package mockpool

import (
	"encoding/binary"

	"forge.lthn.ai/core/go-proxy/bench/internal/poolserver"
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
		s.Lock()
		s.submits++
		s.Unlock()
		p.update(func(st *Stats) { st.Submits++ })
		if b.DropOnSubmit {
			return poolserver.ErrHangUp
		}
		return nil
	}

	s.Lock()
	v, msg, diff := s.judgeLocked(&req.Params)
	s.submits++
	if v == vAccepted {
		s.accepted++
	}
	sid := s.id
	s.Unlock()

	// Count (and report) before answering, so that a client that has its
	// answer sees it in Stats.
	p.update(func(st *Stats) {
		st.Submits++
		switch v {
		case vAccepted:
			st.Accepted++
			st.AcceptedDiff += float64(diff)
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
	return s.Send(func(dst []byte) []byte {
		if v == vAccepted {
			return stratum.AppendStatusReply(dst, &req.ID, "OK")
		}
		return stratum.AppendErrorReply(dst, &req.ID, msg)
	})
}

// judgeLocked checks a submit like a pool: session, field shapes, job id
// (current or previous job of this session), claimed difficulty, duplicate,
// then the RejectRatio lottery. An accepted share is recorded for duplicate
// detection; diff is its job's difficulty. Caller holds the session lock.
func (s *session) judgeLocked(pp *stratum.Params) (v verdict, msg string, diff uint64) {
	if s.id == "" || string(pp.SessionID) != s.id {
		return vRejected, stratum.MsgUnauthenticated, 0
	}
	if err := pp.ValidateSubmit(); err != nil {
		return vBadFormat, err.Error(), 0
	}
	var rec *jobRecord
	var seen map[uint32]struct{}
	switch {
	case s.cur != nil && string(pp.JobID) == s.cur.job.JobID:
		rec, seen = s.cur, s.curSeen
	case s.prev != nil && string(pp.JobID) == s.prev.job.JobID:
		rec, seen = s.prev, s.prevSeen
	default:
		return vRejected, stratum.MsgInvalidJobID, 0
	}
	if stratum.ResultDifficulty(pp.Result) < rec.diff {
		return vLowDiff, stratum.MsgLowDifficulty, 0
	}
	var nb [4]byte
	stratum.DecodeHex(nb[:0], pp.Nonce) // validated: 8 lowercase hex
	nonce := binary.LittleEndian.Uint32(nb[:])
	if _, dup := seen[nonce]; dup {
		return vDuplicate, stratum.MsgDuplicateShare, 0
	}
	seen[nonce] = struct{}{}
	if r := s.p.cfg.RejectRatio; r > 0 && poolserver.RejectLottery(s.p.cfg.Seed, nonce, []byte(s.id), rec.job.JobID) < r {
		return vRejected, MsgRandomReject, 0
	}
	return vAccepted, "", rec.diff
}
