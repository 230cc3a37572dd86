package mockpool

import (
	"encoding/binary"
	"time"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// Job blob layout (a Monero hashing blob): major and minor version, a
// varint timestamp, the previous block hash, the 4-byte nonce at offset 39,
// the merkle root and the transaction count: 76 bytes.
const (
	blobLen     = 76
	nonceOffset = 39
	firstHeight = 3_100_000
)

// jobIDAlphabet is a base64 alphabet in ASCII order, so fixed-width ids of
// increasing sequence numbers sort in creation order. Every character is a
// stratum token character.
const jobIDAlphabet = "+/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// jobRecord is an issued job; immutable once created.
type jobRecord struct {
	job  stratum.Job
	diff uint64
}

// newJobLocked creates the next job, makes it current and records it.
// Caller holds p.mu.
func (p *Pool) newJobLocked() *jobRecord {
	p.seq++
	var blob [blobLen]byte
	for i := 0; i < blobLen; i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], p.rng.Uint64())
		copy(blob[i:], w[:])
	}
	blob[0], blob[1] = 0x10, 0x10 // block major/minor version 16
	clear(blob[nonceOffset : nonceOffset+4])

	// Job id: 6 characters of sequence (36 bits, increasing) and 10 random.
	var id [16]byte
	seq := p.seq
	for i := 5; i >= 0; i-- {
		id[i] = jobIDAlphabet[seq&63]
		seq >>= 6
	}
	r := p.rng.Uint64()
	for i := 6; i < len(id); i++ {
		id[i] = jobIDAlphabet[r&63]
		r >>= 6
	}

	rec := &jobRecord{
		job: stratum.Job{
			Blob:     string(stratum.AppendHex(make([]byte, 0, 2*blobLen), blob[:])),
			JobID:    string(id[:]),
			Target:   stratum.TargetFromDifficulty(p.cfg.Difficulty),
			Algo:     p.cfg.Algo,
			Height:   firstHeight + p.seq,
			SeedHash: p.seedHash,
		},
		diff: p.cfg.Difficulty,
	}
	p.current = rec
	p.sent.Add(rec.job.JobID, time.Now())
	return rec
}

// CurrentJob returns the job new logins receive.
func (p *Pool) CurrentJob() stratum.Job {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current.job
}

// JobSentAt returns when the broadcast of jobID started (for the first job,
// when the pool created it). Only the most recent 256 jobs are remembered.
func (p *Pool) JobSentAt(jobID string) (time.Time, bool) { return p.sent.SentAt(jobID) }

// BroadcastJob makes a new job current and sends it to every logged-in
// session now (unless the behaviour is Silent); it returns the job. Each
// session's previous job stays valid for submits.
func (p *Pool) BroadcastJob() stratum.Job {
	p.mu.Lock()
	rec := p.newJobLocked()
	targets := p.srv.Sessions(loggedIn)
	p.stats.JobsBroadcast++
	p.mu.Unlock()
	p.srv.Notify()

	if p.behavior.Load().Silent {
		return rec.job
	}
	for _, s := range targets {
		s.sendJob(rec)
	}
	return rec.job
}

// loggedIn selects the sessions that have logged in (for Server.Sessions).
func loggedIn(s *session) bool { return s.loggedIn.Load() }
