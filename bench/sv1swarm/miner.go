package sv1swarm

// Miner states.
const (
	stIdle        uint8 = iota // not started yet, or waiting to reconnect
	stConnecting               // TCP connect in progress
	stConfiguring              // mining.configure sent, no answer yet
	stSubscribing              // mining.subscribe sent, no answer yet
	stAuthorizing              // subscribed; mining.authorize sent, no answer yet
	stMining                   // authorized: searches and submits
	stClosed                   // connection ended; never restarted
)

// maxPending is how many submits a miner keeps in flight; a miner with all
// slots busy is skipped by the search schedule.
const maxPending = 4

// Request ids of the handshake; submits count up from firstSubmitID.
const (
	idConfigure   = 1
	idSubscribe   = 2
	idXSubscribe  = 3
	idAuthorize   = 4
	firstSubmitID = 5
)

// pending is one submit awaiting its answer.
type pending struct {
	id uint32 // 0: free slot
	at int64  // Unix ns when written
}

// minerIO holds a miner's partial input line and unsent output; allocated
// only while one of them is non-empty.
type minerIO struct {
	in, out []byte
}

// miner is one simulated stratum v1 miner. Owned by its loop goroutine.
type miner struct {
	fd       int32
	state    uint8
	e1Len    uint8 // extranonce1 length
	e2Size   uint8 // extranonce2 size
	rolling  bool  // version rolling granted
	readyPos int32 // index in loop.ready, -1 when absent
	nextID   uint32
	mask     uint32   // granted version mask
	e1       [16]byte // extranonce1
	dst      uint8    // index in loop.dsts: where to connect
	diff     float64  // last mining.set_difficulty (1 until one arrives)
	jobDiff  float64  // difficulty in force at the last mining.notify
	searches uint64   // searches started: the next work unit
	since    int64    // Unix ns: connect started; or when to reconnect (stIdle)
	job      *jobData // current job, nil before the first notify
	task     *task    // search in flight, nil when none
	io       *minerIO
	pend     [maxPending]pending
}

// searchDiff is the difficulty a new search aims at: the higher of the
// difficulty of the current job and the latest one, so the share is good
// whichever of them the upstream applies.
func (m *miner) searchDiff() float64 { return max(m.diff, m.jobDiff) }

// canSearch reports whether the miner may start a search now.
func (m *miner) canSearch() bool {
	if m.state != stMining || m.job == nil || m.task != nil || m.e2Size == 0 {
		return false
	}
	if m.io != nil && len(m.io.out) > 0 {
		return false // the proxy is not reading; do not pile up
	}
	for i := range m.pend {
		if m.pend[i].id == 0 {
			return true
		}
	}
	return false
}

// takeSlot records a submit in a free pending slot.
func (m *miner) takeSlot(id uint32, at int64) {
	for i := range m.pend {
		if m.pend[i].id == 0 {
			m.pend[i] = pending{id: id, at: at}
			return
		}
	}
}

// resolve removes and returns the send time of request id.
func (m *miner) resolve(id uint64) (int64, bool) {
	for i := range m.pend {
		if p := &m.pend[i]; p.id != 0 && uint64(p.id) == id {
			at := p.at
			*p = pending{}
			return at, true
		}
	}
	return 0, false
}
