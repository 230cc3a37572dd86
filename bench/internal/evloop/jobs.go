package evloop

import "time"

// JobArrival is what a loop remembers about a job it has seen, kept in the
// handler's job table (which knows how to tell jobs apart): when it first
// came, how many of the loop's miners took it, and when its pool sent it.
// Owned by the loop; read by Stats under the loop lock. Unlike the rest of
// the package it is not Linux only.
type JobArrival struct {
	// First is the first arrival in this loop, ns since the group started
	// (Group.SinceStart).
	First int64
	// Count is how many miners of this loop switched to this job.
	Count  int
	sentNs int64 // sentAt's answer, Unix ns, when known
	sent   bool  // sentNs is valid
	looked bool  // sentAt was asked
}

// SentAt returns when job id was sent by its pool, in Unix ns, asking
// sentAt (a swarm's Config.JobSentAt) only the first time.
func (a *JobArrival) SentAt(id string, sentAt func(jobID string) (time.Time, bool)) (int64, bool) {
	if !a.looked {
		a.looked = true
		if t, ok := sentAt(id); ok {
			a.sentNs, a.sent = t.UnixNano(), true
		}
	}
	return a.sentNs, a.sent
}
