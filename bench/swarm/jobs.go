package swarm

import "forge.lthn.ai/core/go-proxy/bench/internal/evloop"

// jobTableSize is how many recent job ids a loop remembers.
const jobTableSize = 16

// jobEntry is one job id a loop has seen. Miners share its id slice.
type jobEntry struct {
	id []byte // interned job id; nil for an unused entry
	evloop.JobArrival
}

// jobTable is a loop's ring of recent job ids: it interns job ids so that
// thousands of miners share one copy, caches JobSentAt, and counts how many
// miners have each job. Owned by one loop; read by Stats under the loop lock.
type jobTable struct {
	ents [jobTableSize]jobEntry
	next int
}

// get returns the entry of id, recycling the oldest entry for a new id.
func (t *jobTable) get(id string, now int64) *jobEntry {
	for i := range t.ents {
		if e := &t.ents[i]; e.id != nil && string(e.id) == id {
			return e
		}
	}
	e := &t.ents[t.next]
	t.next = (t.next + 1) % jobTableSize
	*e = jobEntry{id: []byte(id), JobArrival: evloop.JobArrival{First: now}}
	return e
}

// newest returns the entry first seen last, or nil.
func (t *jobTable) newest() *jobEntry {
	var best *jobEntry
	for i := range t.ents {
		if e := &t.ents[i]; e.id != nil && (best == nil || e.First > best.First) {
			best = e
		}
	}
	return best
}

// countOf returns how many miners received id, 0 when unknown.
func (t *jobTable) countOf(id string) int {
	for i := range t.ents {
		if e := &t.ents[i]; e.id != nil && string(e.id) == id {
			return e.Count
		}
	}
	return 0
}
