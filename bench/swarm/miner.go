package swarm

// Miner states.
const (
	stIdle       uint8 = iota // not started yet
	stConnecting              // TCP connect in progress
	stLoggingIn               // connected, login sent, no answer yet
	stLoggedIn                // session and job: submits shares
	stClosed                  // connection ended; never restarted
)

// maxPending is how many submits a miner keeps in flight; a miner with all
// slots busy is skipped by the share schedule.
const maxPending = 4

// loginRequestID is the JSON-RPC id of every login; submits count up from
// firstSubmitID.
const (
	loginRequestID = 1
	firstSubmitID  = 2
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

// miner is one simulated XMRig miner. Owned by its loop goroutine.
type miner struct {
	fd       int32
	state    uint8
	fixed    uint8 // NiceHash byte of the current job
	nicehash bool  // the job blob carries a NiceHash byte
	readyPos int32 // index in loop.ready, -1 when absent
	nextID   uint32
	nonce    uint32 // next nonce counter on the current job
	diff     uint64 // difficulty of the current job's target
	since    int64  // Unix ns: connect started (connecting) or login sent
	session  string
	jobID    []byte // interned in the loop's job table
	algo     []byte // interned
	io       *minerIO
	pend     [maxPending]pending
}

// canSubmit reports whether the miner may send a share now.
func (m *miner) canSubmit() bool {
	if m.state != stLoggedIn || nonceExhausted(m.nicehash, m.nonce) {
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
