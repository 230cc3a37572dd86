//go:build linux

package sv1swarm

import (
	"errors"
	"strconv"
	"time"

	"forge.lthn.ai/core/go-proxy/stratum"
)

func (l *loop) sendSubscribe(m *miner, k int) {
	m.state = stSubscribing
	l.wbuf = stratum.AppendSV1PoolSubscribe(l.wbuf[:0], idSubscribe, l.s.cfg.Agent, "")
	l.ev.Write(k, l.wbuf)
}

// userOf returns the authorize user (and submit worker) of miner slot k.
func (l *loop) userOf(k int) string {
	cfg := &l.s.cfg
	gi := l.ev.GlobalIndex(k)
	u := cfg.User
	if len(cfg.Users) > 0 {
		u = cfg.Users[gi%len(cfg.Users)]
	}
	if cfg.WorkerPrefix != "" {
		u += "." + cfg.WorkerPrefix + strconv.Itoa(gi)
	}
	return u
}

// handleLine handles one line from the upstream.
func (l *loop) handleLine(k int, line []byte, ts, now int64) {
	m := &l.miners[k]
	msg := &l.msg
	perr := stratum.ParseSV1PoolMessage(&l.parser, line, msg)
	if errors.Is(perr, stratum.ErrMalformed) {
		l.ev.Fail(k, "protocol: malformed line")
		return
	}
	switch msg.Kind {
	case stratum.SV1PoolResponse:
		l.onResponse(m, k, perr, ts)
	case stratum.SV1PoolNotify:
		if perr != nil || !msg.HasJob {
			l.ev.CountError("protocol: invalid mining.notify", nil, k)
			return
		}
		l.onNotify(m, k, &msg.Job, ts)
	case stratum.SV1PoolSetDifficulty:
		if perr != nil {
			l.ev.CountError("protocol: invalid mining.set_difficulty", nil, k)
			return
		}
		l.st.diffChanges++
		if m.jobDiff == 0 {
			// No difficulty was in force when the current job came (or no
			// job yet): this one applies to it.
			m.jobDiff = msg.Difficulty
		}
		m.diff = msg.Difficulty
	case stratum.SV1PoolSetExtranonce:
		if perr != nil {
			l.ev.CountError("protocol: invalid mining.set_extranonce", nil, k)
			return
		}
		l.st.e1Changes++
		l.voidSearch(m)
		e1, _ := stratum.DecodeHex(m.e1[:0], msg.Extranonce1) // validated: hex, at most 16 bytes
		m.e1Len = uint8(len(e1))
		m.e2Size = uint8(msg.Extranonce2Size)
	case stratum.SV1PoolSetVersionMask:
		if perr != nil {
			l.ev.CountError("protocol: invalid mining.set_version_mask", nil, k)
			return
		}
		l.st.maskChanges++
		if m.rolling {
			l.voidSearch(m)
			m.mask = msg.VersionMask & l.s.cfg.VersionMask
		}
	case stratum.SV1PoolReconnect:
		if perr != nil {
			l.ev.CountError("protocol: invalid client.reconnect", nil, k)
			return
		}
		// The connection is closed and the miner connects again after
		// msg.Wait seconds (a host that cannot be resolved is counted
		// and ignored).
		l.ev.Reconnect(k, msg.Host, msg.Port, msg.Wait, now)
	}
}

// onResponse handles the answer to one of the miner's requests.
func (l *loop) onResponse(m *miner, k int, perr error, ts int64) {
	msg := &l.msg
	if !msg.HasID {
		return
	}
	switch {
	case msg.ID == idConfigure && m.state == stConfiguring:
		// A pool that does not know mining.configure answers with an error:
		// mine without version rolling, like real miners.
		if msg.Error == nil && msg.VersionRolling {
			m.rolling = true
			m.mask = msg.VersionMask & l.s.cfg.VersionMask
			l.st.rollingGranted++
		}
		l.sendSubscribe(m, k)
	case msg.ID == idSubscribe && m.state == stSubscribing:
		l.onSubscribed(m, k, perr)
	case msg.ID == idXSubscribe:
		if msg.Error == nil && msg.Result == stratum.SV1ResultBool && msg.ResultBool {
			l.st.xsubGranted++
		}
	case msg.ID == idAuthorize && m.state == stAuthorizing:
		l.onAuthorized(m, k, ts)
	case msg.ID >= firstSubmitID:
		l.onSubmitReply(k, ts)
	}
}

// onSubscribed takes extranonce1 and its size, then asks for extranonce
// updates (when configured) and authorizes.
func (l *loop) onSubscribed(m *miner, k int, perr error) {
	msg := &l.msg
	switch {
	case msg.Error != nil:
		l.ev.CountError("subscribe: ", msg.Error, k)
		l.ev.Fail(k, "")
		return
	case perr != nil || msg.Result != stratum.SV1ResultSubscribe:
		l.ev.Fail(k, "subscribe: bad result")
		return
	}
	e1, _ := stratum.DecodeHex(m.e1[:0], msg.Extranonce1) // validated: hex, at most 16 bytes
	m.e1Len = uint8(len(e1))
	m.e2Size = uint8(msg.Extranonce2Size)
	m.state = stAuthorizing
	l.st.subscribed++
	l.wbuf = l.wbuf[:0]
	if l.s.cfg.ExtranonceSubscribe {
		l.wbuf = stratum.AppendSV1PoolExtranonceSubscribe(l.wbuf, idXSubscribe)
	}
	l.wbuf = stratum.AppendSV1PoolAuthorize(l.wbuf, idAuthorize, l.userOf(k), l.s.cfg.Pass)
	l.ev.Write(k, l.wbuf)
}

// onAuthorized makes the miner mine, or closes it when it was refused.
func (l *loop) onAuthorized(m *miner, k int, ts int64) {
	msg := &l.msg
	if msg.Error != nil || msg.Result != stratum.SV1ResultBool || !msg.ResultBool {
		if msg.Error != nil {
			l.ev.CountError("authorize: ", msg.Error, k)
		} else {
			l.ev.CountError("authorize: refused", nil, k)
		}
		l.ev.Fail(k, "")
		return
	}
	m.state = stMining
	l.ev.MarkReady(k, ts)
}

// onSubmitReply matches an answer to a pending submit.
func (l *loop) onSubmitReply(k int, ts int64) {
	msg := &l.msg
	if !l.ev.ResolveSubmit(k, msg.ID, ts) {
		return // answer to a submit already timed out
	}
	if msg.Error == nil && msg.Result == stratum.SV1ResultBool && msg.ResultBool {
		l.ev.Count.Accepted++
		return
	}
	l.ev.Count.Rejected++
	l.st.rejectedByCode[msg.ErrorCode]++
	if msg.Error != nil {
		l.ev.CountError("reject: ", msg.Error, k)
	} else {
		l.ev.CountError("reject: false", nil, k)
	}
}

// onNotify switches the miner to job j (received at ts). A clean job voids
// the search in flight; otherwise it finishes on the previous job.
func (l *loop) onNotify(m *miner, k int, j *stratum.SV1Job, ts int64) {
	l.ev.Count.Jobs++
	e, err := l.jobs.get(j, l.s.g.SinceStart())
	if err != nil {
		l.ev.CountError("protocol: invalid mining.notify", nil, k)
		return
	}
	// Job fan-out latency counts job changes of mining miners, not the
	// first job a miner gets (which may have been sent long before).
	if l.s.cfg.JobSentAt != nil && m.state == stMining && m.job != nil {
		if sent, ok := e.SentAt(j.JobID, l.s.cfg.JobSentAt); ok {
			l.ev.JobLat.Record(time.Duration(ts - sent))
		}
	}
	if j.CleanJobs {
		l.voidSearch(m)
	}
	m.jobDiff = m.diff
	if m.job != e.data {
		e.Count++
		m.job = e.data
	}
}

// submit sends the share t found for the miner of slot k.
func (l *loop) submit(k int, t *task, now int64) {
	h := append(l.hexbuf[:0], t.job.job.JobID...)
	nJob := len(h)
	h = stratum.AppendHex(h, t.unit.e2[:t.e2Len])
	nE2 := len(h)
	h = stratum.AppendHex32(h, t.ntime)
	nTime := len(h)
	h = stratum.AppendHex32(h, t.nonce)
	nNonce := len(h)
	h = stratum.AppendHex32(h, t.unit.bits)
	l.hexbuf = h
	sub := stratum.SV1Submit{JobID: h[:nJob], Extranonce2: h[nJob:nE2], NTime: h[nE2:nTime], Nonce: h[nTime:nNonce]}
	if t.rolled {
		sub.VersionBits = h[nNonce:]
	}
	id := l.ev.NewRequest(k, now)
	l.wbuf = stratum.AppendSV1PoolSubmit(l.wbuf[:0], uint64(id), l.userOf(k), nil, &sub)
	l.ev.Count.Sent++
	l.ev.Write(k, l.wbuf)
}
