package simminer

import (
	"sync"
	"time"
)

// Share is one share a miner sent.
type Share struct {
	At time.Time
	// Diff is the difficulty of the job it was found for (what the miner
	// was asked for); Actual the difficulty its hash meets.
	Diff, Actual float64
	// Answered: an answer came; Accepted: it was positive. Error is the
	// rejection message.
	Answered, Accepted bool
	Error              string
}

// Stats is a snapshot of a miner.
type Stats struct {
	// Hashrate is the miner's configured speed, H/s.
	Hashrate float64
	// Hashed is the hashes an SV1 miner has done (0 for CN, which hashes
	// nothing and keeps its pace exactly); on a busy machine it may fall
	// behind its pace: see Achieved.
	Hashed float64
	// Diff is the difficulty it works at now; DiffChanges counts the
	// changes since its first job; Jobs the jobs received.
	Diff        float64
	DiffChanges int
	Jobs        int
	// Shares lists the shares sent, oldest first (at most maxShares: the
	// oldest are dropped first).
	Shares []Share
	// Started is when the miner got its first job.
	Started time.Time
	// Err is why the miner stopped, if it did before its context ended.
	Err error
}

// maxShares bounds a miner's share record.
const maxShares = 1 << 16

// Achieved is the speed the miner kept from its first job until at: its
// configured one for CN, the hashes done over the time for SV1.
func (s *Stats) Achieved(at time.Time) float64 {
	if s.Hashed == 0 || s.Started.IsZero() {
		return s.Hashrate
	}
	return s.Hashed / at.Sub(s.Started).Seconds()
}

// Rejected counts the shares rejected, by message.
func (s *Stats) Rejected() map[string]int {
	out := map[string]int{}
	for _, sh := range s.Shares {
		if sh.Answered && !sh.Accepted {
			out[sh.Error]++
		}
	}
	return out
}

// Accepted counts the shares accepted.
func (s *Stats) Accepted() int {
	n := 0
	for _, sh := range s.Shares {
		if sh.Accepted {
			n++
		}
	}
	return n
}

// ShareInterval is the mean time between the shares sent in [from, to]
// (the window's length over the shares in it), 0 when none was.
func (s *Stats) ShareInterval(from, to time.Time) time.Duration {
	n := 0
	for _, sh := range s.Shares {
		if !sh.At.Before(from) && !sh.At.After(to) {
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return to.Sub(from) / time.Duration(n)
}

// MeasuredHashrate is what the accepted shares of [from, to] say the miner's
// speed is: Σ difficulty × hashesPerDiff / the window's length (a proxy's
// estimate from the same shares, done right).
func (s *Stats) MeasuredHashrate(from, to time.Time, hashesPerDiff float64) float64 {
	var sum float64
	for _, sh := range s.Shares {
		if sh.Accepted && !sh.At.Before(from) && !sh.At.After(to) {
			sum += sh.Diff
		}
	}
	return sum * hashesPerDiff / to.Sub(from).Seconds()
}

// record is the state a miner shares between its goroutines.
type record struct {
	mu      sync.Mutex
	st      Stats
	pending map[int]int // request id → index in st.Shares (-dropped)
	dropped int         // shares dropped from the front of st.Shares
}

func (r *record) snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.st
	out.Shares = append([]Share(nil), r.st.Shares...)
	return out
}

// sent records a share sent with request id.
func (r *record) sent(id int, sh Share) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.st.Shares) >= maxShares {
		r.st.Shares = append(r.st.Shares[:0], r.st.Shares[1:]...)
		r.dropped++
	}
	r.st.Shares = append(r.st.Shares, sh)
	if r.pending == nil {
		r.pending = map[int]int{}
	}
	r.pending[id] = r.dropped + len(r.st.Shares) - 1
}

// answered records the answer to request id (false: not a share's).
func (r *record) answered(id int, ok bool, msg string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, found := r.pending[id]
	if !found {
		return false
	}
	delete(r.pending, id)
	if i -= r.dropped; i >= 0 && i < len(r.st.Shares) {
		sh := &r.st.Shares[i]
		sh.Answered, sh.Accepted, sh.Error = true, ok, msg
	}
	return true
}

// job records a job received at difficulty d.
func (r *record) job(d float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.Jobs == 0 {
		r.st.Started = time.Now()
	} else if d != r.st.Diff {
		r.st.DiffChanges++
	}
	r.st.Jobs++
	r.st.Diff = d
}

// inFlight is the number of shares sent and not answered yet.
func (r *record) inFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// hashed adds n hashes done.
func (r *record) hashed(n float64) {
	r.mu.Lock()
	r.st.Hashed += n
	r.mu.Unlock()
}

func (r *record) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.Err == nil {
		r.st.Err = err
	}
}
