package nonce

// JobState says how a share's job id relates to the pool's jobs.
type JobState uint8

// Job states, as CryptoNote stratum defines them.
const (
	// JobUnknown: neither the current nor the previous job ("Invalid job id").
	JobUnknown JobState = iota
	// JobCurrent: the job the pool sent last.
	JobCurrent
	// JobPrevious: the job before it; the share is still forwarded and
	// counted as expired.
	JobPrevious
)

// Jobs remembers the current and the previous job id of one pool
// connection. The zero value knows no job.
type Jobs struct {
	current, previous string
}

// Set records a new current job. When keepPrevious is false (the job came
// over a new pool connection) the previous job is forgotten: shares for
// work handed out on the old connection cannot be submitted on the new one.
func (j *Jobs) Set(id string, keepPrevious bool) {
	if keepPrevious && id != j.current {
		j.previous = j.current
	} else if !keepPrevious {
		j.previous = ""
	}
	j.current = id
}

// Reset forgets both jobs.
func (j *Jobs) Reset() { *j = Jobs{} }

// Current returns the current job id ("" when none).
func (j *Jobs) Current() string { return j.current }

// Check classifies a submitted job id.
func (j *Jobs) Check(id []byte) JobState {
	switch {
	case len(id) == 0:
		return JobUnknown
	case j.current != "" && string(id) == j.current:
		return JobCurrent
	case j.previous != "" && string(id) == j.previous:
		return JobPrevious
	}
	return JobUnknown
}
