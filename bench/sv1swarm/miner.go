package sv1swarm

// Miner handshake states (the connection itself, connecting or not, is the
// event loop's).
const (
	stNone        uint8 = iota // no connection, or connect in progress
	stConfiguring              // mining.configure sent, no answer yet
	stSubscribing              // mining.subscribe sent, no answer yet
	stAuthorizing              // subscribed; mining.authorize sent, no answer yet
	stMining                   // authorized: searches and submits
)

// Request ids of the handshake; submits count up from firstSubmitID.
const (
	idConfigure   = 1
	idSubscribe   = 2
	idXSubscribe  = 3
	idAuthorize   = 4
	firstSubmitID = 5
)

// miner is the protocol state of one simulated stratum v1 miner; its
// connection (socket, buffers, pending submits, reconnect destination) is
// the slot of the same index in the loop's evloop.Loop. Owned by its loop
// goroutine; reset when the connection ends, except for searches (so a
// reconnected miner does not repeat work).
type miner struct {
	state    uint8
	e1Len    uint8 // extranonce1 length
	e2Size   uint8 // extranonce2 size
	rolling  bool  // version rolling granted
	mask     uint32
	e1       [16]byte // extranonce1
	diff     float64  // last mining.set_difficulty (1 until one arrives)
	jobDiff  float64  // difficulty in force at the last mining.notify
	searches uint64   // searches started: the next work unit
	job      *jobData // current job, nil before the first notify
	task     *task    // search in flight, nil when none
}

// searchDiff is the difficulty a new search aims at: the higher of the
// difficulty of the current job and the latest one, so the share is good
// whichever of them the upstream applies.
func (m *miner) searchDiff() float64 { return max(m.diff, m.jobDiff) }

// canSearch reports whether the miner may start a search now (the loop
// checks that its connection is ready, not backed up, and has a free
// submit slot).
func (m *miner) canSearch() bool {
	return m.state == stMining && m.job != nil && m.task == nil && m.e2Size != 0
}
