package sv1pool

import (
	"sync"
	"time"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// jobRecord is an issued job. job and bin are immutable once created; the
// share records are guarded by mu.
type jobRecord struct {
	job stratum.SV1Job
	bin *stratum.SV1JobBinary

	mu sync.Mutex
	// shares holds the key of every share that met its target (extranonce1 ‖
	// extranonce2 ‖ ntime ‖ nonce ‖ version), across connections.
	shares map[string]struct{}
	// works maps each full extranonce (extranonce1 ‖ extranonce2) used by a
	// share that met its target to the miner key that used it first.
	works map[string]string
}

// newJobLocked creates the next job, makes it current and records it. A
// clean job starts a new block (new previous hash, next height); otherwise
// the block stays and the transactions change (new merkle branch and
// coinbase value), like a pool's periodic template update. Caller holds p.mu.
func (p *Pool) newJobLocked(clean bool) *jobRecord {
	if clean || p.chain.height == 0 {
		p.chain.newBlock(p.rng)
	}
	txs := make([][32]byte, p.rng.IntN(16)) // 0..15 transactions: 0..4 branch hashes
	for i := range txs {
		fillRandom(p.rng, txs[i][:])
	}
	value := subsidy + p.rng.Uint64N(50_000_000)
	bin := &stratum.SV1JobBinary{
		Branch:   stratum.CoinbaseMerkleBranch(txs),
		PrevHash: p.chain.prevHash,
		Version:  blockVersion,
		NBits:    blockNBits,
		NTime:    uint32(time.Now().Unix()),
	}
	bin.Coinb1, bin.Coinb2 = buildCoinbase(p.chain.height, p.cfg.Extranonce1Size+p.cfg.Extranonce2Size, value, &p.chain.payout, p.cfg.PayoutOutputs)

	// Job id: 8 hex digits of a sequence number (increasing) and 8 random.
	p.jobSeq++
	id := stratum.AppendHex32(stratum.AppendHex32(make([]byte, 0, 16), p.jobSeq), p.rng.Uint32())
	rec := &jobRecord{
		job:    bin.Job(string(id), clean),
		bin:    bin,
		shares: make(map[string]struct{}),
		works:  make(map[string]string),
	}
	p.current = rec
	p.sent.Add(rec.job.JobID, time.Now())
	return rec
}

// CurrentJob returns the job new workers receive.
func (p *Pool) CurrentJob() stratum.SV1Job {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current.job
}

// JobSentAt returns when the broadcast of jobID started (for the first job,
// when the pool created it). Only the most recent 256 jobs are remembered.
func (p *Pool) JobSentAt(jobID string) (time.Time, bool) { return p.sent.SentAt(jobID) }

// BroadcastJob makes a new job current and sends it, as mining.notify with
// clean_jobs = clean, to every connection that is subscribed and authorized
// (unless the behaviour is Silent); it returns the job. A clean job is a
// new block and voids each connection's earlier jobs (their shares get
// error 21); otherwise the connection's recent jobs stay valid.
func (p *Pool) BroadcastJob(clean bool) stratum.SV1Job {
	p.mu.Lock()
	rec := p.newJobLocked(clean)
	targets := p.srv.Sessions(started)
	p.stats.JobsBroadcast++
	p.mu.Unlock()
	p.srv.Notify()

	if p.behavior.Load().Silent {
		return rec.job
	}
	for _, s := range targets {
		s.sendJob(rec, clean)
	}
	return rec.job
}
