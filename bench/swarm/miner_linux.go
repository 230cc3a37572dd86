//go:build linux

package swarm

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// sendLogin writes the login of slot k.
func (l *loop) sendLogin(k int) {
	l.login.RigID = ""
	if p := l.s.cfg.RigIDPrefix; p != "" {
		l.login.RigID = p + strconv.Itoa(l.ev.GlobalIndex(k))
	}
	l.wbuf = stratum.AppendPoolLogin(l.wbuf[:0], loginRequestID, &l.login)
	l.ev.Write(k, l.wbuf)
}

// handleLine handles one line from the proxy.
func (l *loop) handleLine(k int, line []byte, ts int64) {
	m := &l.miners[k]
	msg := &l.msg
	perr := stratum.ParsePoolMessage(&l.parser, line, msg)
	if errors.Is(perr, stratum.ErrMalformed) {
		l.ev.Fail(k, "protocol: malformed line")
		return
	}
	switch msg.Kind {
	case stratum.PoolJobNotify:
		if perr != nil || !msg.HasJob {
			l.ev.CountError("protocol: invalid job", nil, k)
			return
		}
		l.applyJob(m, &msg.Job, ts, true)
	case stratum.PoolResponse:
		if !msg.HasID {
			return
		}
		if msg.ID == loginRequestID && !l.ev.IsReady(k) {
			l.onLoginReply(m, k, perr, ts)
			return
		}
		l.onSubmitReply(k, ts)
	}
}

// onLoginReply takes the session and first job, or closes the miner.
func (l *loop) onLoginReply(m *miner, k int, perr error, ts int64) {
	msg := &l.msg
	switch {
	case msg.Error != nil:
		l.ev.CountError("login: ", msg.Error, k)
		l.ev.Fail(k, "")
		return
	case perr != nil || !msg.HasJob:
		l.ev.Fail(k, "login: reply without a valid job")
		return
	case !stratum.IsToken(msg.SessionID, stratum.MaxJobIDLen):
		l.ev.Fail(k, "login: bad session id")
		return
	}
	m.session = string(msg.SessionID)
	l.applyJob(m, &msg.Job, ts, false)
	l.ev.MarkReady(k, ts)
}

// onSubmitReply matches an answer to a pending submit.
func (l *loop) onSubmitReply(k int, ts int64) {
	msg := &l.msg
	if !l.ev.ResolveSubmit(k, msg.ID, ts) {
		return // answer to a submit already timed out
	}
	if msg.Error != nil {
		l.ev.Count.Rejected++
		l.ev.CountError("reject: ", msg.Error, k)
		return
	}
	l.ev.Count.Accepted++
}

// applyJob switches the miner to job j (received at ts).
func (l *loop) applyJob(m *miner, j *stratum.Job, ts int64, notify bool) {
	l.ev.Count.Jobs++
	e := l.jobs.get(j.JobID, l.s.g.SinceStart())
	if notify && l.s.cfg.JobSentAt != nil {
		if sent, ok := e.SentAt(j.JobID, l.s.cfg.JobSentAt); ok {
			l.ev.JobLat.Record(time.Duration(ts - sent))
		}
	}
	if bytes.Equal(m.jobID, e.id) {
		return
	}
	e.Count++
	m.jobID = e.id
	m.algo = l.internAlgo(j.Algo)
	m.diff = max(1, stratum.DifficultyFromTarget(j.Target))
	m.fixed, m.nicehash = fixedByteOf(j.Blob)
	m.nonce = 0
}

// internAlgo returns a shared copy of algo (nil for "").
func (l *loop) internAlgo(algo string) []byte {
	if algo == "" {
		return nil
	}
	for _, a := range l.algos {
		if string(a) == algo {
			return a
		}
	}
	b := []byte(algo)
	if len(l.algos) < 16 {
		l.algos = append(l.algos, b)
	}
	return b
}

// submit sends one share for the miner's current job.
func (l *loop) submit(m *miner, k int, now int64) {
	var nb [8]byte
	var rb [64]byte
	nonce := appendNonce(nb[:0], m.fixed, m.nicehash, m.nonce)
	result := appendResult(rb[:0], m.diff, uint64(l.ev.GlobalIndex(k))<<32|uint64(m.nonce))
	m.nonce++
	id := l.ev.NewRequest(k, now)
	l.wbuf = stratum.AppendPoolSubmit(l.wbuf[:0], uint64(id), m.session, m.jobID, nonce, result, m.algo)
	l.ev.Count.Sent++
	l.ev.Write(k, l.wbuf)
}
