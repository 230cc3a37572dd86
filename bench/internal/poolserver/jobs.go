package poolserver

import (
	"encoding/binary"
	"hash/fnv"
	"sync"
	"time"
)

// JobsKept bounds the jobs a JobLog remembers.
const JobsKept = 256

// JobLog remembers when each of the most recent JobsKept jobs was sent, for
// a pool's JobSentAt. The zero value is ready to use; it is safe for
// concurrent use.
type JobLog struct {
	mu    sync.Mutex
	at    map[string]time.Time
	order []string // job ids, oldest first
}

// Add records that the job jobID was sent at t, forgetting the oldest job
// beyond JobsKept.
func (l *JobLog) Add(jobID string, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.at == nil {
		l.at = make(map[string]time.Time)
	}
	l.at[jobID] = t
	l.order = append(l.order, jobID)
	if len(l.order) > JobsKept {
		delete(l.at, l.order[0])
		l.order = append(l.order[:0], l.order[1:]...)
	}
}

// SentAt returns when jobID was sent, if it is among the jobs remembered.
func (l *JobLog) SentAt(jobID string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.at[jobID]
	return t, ok
}

// RejectLottery maps a share to a reproducible number in [0, 1): a hash of
// the seed, the nonce, key (what makes the share the miner's: a session id,
// an extranonce) and the job id. A pool rejects the share when the number
// is below its reject ratio.
func RejectLottery(seed int64, nonce uint32, key []byte, jobID string) float64 {
	h := fnv.New64a()
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(seed))
	binary.LittleEndian.PutUint32(b[8:], nonce)
	_, _ = h.Write(b[:])
	_, _ = h.Write(key)
	_, _ = h.Write([]byte(jobID))
	x := h.Sum64()
	// splitmix64 finaliser for a well-spread top 53 bits.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}
