package sv1swarm

import (
	"slices"

	"forge.lthn.ai/core/go-proxy/bench/internal/evloop"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// jobTableSize is how many recent jobs a loop remembers.
const jobTableSize = 16

// jobData is one decoded job, shared by every miner of a loop that received
// it and by the searches built on it. Immutable once created; safe for
// concurrent reads.
type jobData struct {
	job stratum.SV1Job // CleanJobs is that of the first arrival
	bin *stratum.SV1JobBinary
}

// sameWork reports whether j is the job d holds (every field but the clean
// flag): two upstreams may use the same job id for different work.
func (d *jobData) sameWork(j *stratum.SV1Job) bool {
	a := &d.job
	return a.JobID == j.JobID && a.PrevHash == j.PrevHash && a.Coinb1 == j.Coinb1 &&
		a.Coinb2 == j.Coinb2 && a.Version == j.Version && a.NBits == j.NBits &&
		a.NTime == j.NTime && slices.Equal(a.MerkleBranch, j.MerkleBranch)
}

// jobEntry is one job a loop has seen.
type jobEntry struct {
	data *jobData // nil for an unused entry
	evloop.JobArrival
}

// jobTable is a loop's ring of recent jobs: it decodes each job once so
// that thousands of miners share one copy, caches JobSentAt, and counts how
// many miners have each job. Owned by one loop; read by Stats under the
// loop lock.
type jobTable struct {
	ents [jobTableSize]jobEntry
	next int
}

// get returns the entry of j, decoding it into a recycled entry when new.
// It fails when the job cannot be decoded (not valid).
func (t *jobTable) get(j *stratum.SV1Job, now int64) (*jobEntry, error) {
	for i := range t.ents {
		if e := &t.ents[i]; e.data != nil && e.data.sameWork(j) {
			return e, nil
		}
	}
	bin, err := j.Binary()
	if err != nil {
		return nil, err
	}
	e := &t.ents[t.next]
	t.next = (t.next + 1) % jobTableSize
	*e = jobEntry{data: &jobData{job: *j, bin: bin}, JobArrival: evloop.JobArrival{First: now}}
	return e, nil
}

// newest returns the entry first seen last, or nil.
func (t *jobTable) newest() *jobEntry {
	var best *jobEntry
	for i := range t.ents {
		if e := &t.ents[i]; e.data != nil && (best == nil || e.First > best.First) {
			best = e
		}
	}
	return best
}

// countOf returns how many miners received job id, 0 when unknown.
func (t *jobTable) countOf(id string) int {
	n := 0
	for i := range t.ents {
		if e := &t.ents[i]; e.data != nil && e.data.job.JobID == id {
			n += e.Count
		}
	}
	return n
}
