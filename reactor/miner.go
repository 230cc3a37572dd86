package reactor

import (
	"bytes"

	"github.com/google/uuid"

	"forge.lthn.ai/core/go-proxy/stats"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// minerState extends MinerState with the states /1/miners does not show.
// The order is the lifecycle: every state before stateClosing is an open
// connection, which is what the `state >= stateClosing` tests rely on.
type minerState uint8

const (
	stateWaitProxy minerState = iota // a PROXY protocol header must come first
	stateWaitLogin
	stateWaitReady
	stateReady
	stateClosing
	stateClosed // cleaned up; nothing may touch the connection
)

// public maps the internal state to the reported one.
func (s minerState) public() MinerState {
	switch s {
	case stateWaitProxy, stateWaitLogin:
		return StateWaitLogin
	case stateWaitReady:
		return StateWaitReady
	case stateReady:
		return StateReady
	}
	return StateClosing
}

// miner is one miner connection. It belongs to one shard and only that
// shard's loop reads or writes it.
type miner struct {
	s      *shard
	conn   connRef
	bind   *bindInfo
	id     uint64
	slab   int32
	state  minerState
	family Family
	// extAlgo: the miner sent an algo list (it gets "algo" in jobs).
	extAlgo bool
	// loggedIn: the login completed (OnLogin ran), so OnClose will too.
	loggedIn bool
	// fixed is the NiceHash byte (or SV1 prefix) on mp; valid while mp != nil.
	// prevFixed and prev are the slot and session the miner left at its
	// last move between routing targets: a share for that session's job
	// still in flight goes to its pool (move.go). tgt is the target the
	// miner is placed on (nil: not routed); meter estimates its hashrate
	// from its accepted shares.
	fixed     uint32
	prevFixed uint32
	mp        *mapper
	prev      *mapper
	tgt       *target
	meter     stats.Meter
	// deadline is the unix second at which WaitProxy/WaitLogin/WaitReady
	// times out; lastSeen the unix second of the last share or keepalived
	// (what resets the CryptoNote idle timeout).
	deadline    int64
	lastSeen    int64
	connectedAt int64
	customDiff  uint64
	diff        uint64 // difficulty of the last job sent
	rx, tx      uint64
	// addr is the miner's address (mineraddr.go); held: the miner's input
	// waits for its pool connection to drain (flow.go).
	addr    minerAddr
	held    bool
	session [16]byte    // a random UUID; sessionID formats it
	names   *loginNames // user and agent (loginnames.go); nil before login
	rigID   string
	wk      *stats.Worker // nil when workers are off or the table is full
	// loginID is the id of a login waiting for its first job (nil once
	// answered, or when it was answered at once).
	loginID *stratum.RequestID
	sv      *sv1Miner // stratum v1 state; nil for CryptoNote miners
	vd      *minerVD  // vardiff state (vardiff.go); nil until vardiff first runs for the miner
	// spent is the share rate limit's bucket used since the last refill,
	// throttled the submits refused for the rate this minute.
	spent     int32
	throttled int32
	// dupWin and dupN count the shares the miner recorded in its
	// session's duplicate window dupWin (duplicate.go).
	dupWin uint32
	dupN   uint32
	// jobMark is the stamp of the newest job of m.mp that m was sent
	// (fanout.go): a sliced fan-out skips a miner that already has it
	// (sent at login, at a move, or by an earlier slice).
	jobMark uint32
	// movedAt is the unix second of the miner's last move (uint32: good
	// until 2106; beside jobMark it fills the struct's tail).
	movedAt uint32
}

// sessionID returns the miner's session id as text (8-4-4-4-12 hex), in
// the shard's scratch: valid until the next call on the shard.
func (m *miner) sessionID() []byte {
	b := m.s.sessText[:0]
	for i, c := range m.session {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = stratum.AppendHexByte(b, c)
	}
	return b
}

// workerName returns the name of the miner's worker ("" when workers are
// off or the worker table was full at login).
func (m *miner) workerName() string {
	if m.wk != nil {
		return m.wk.Name
	}
	return ""
}

// send writes one encoded line to the miner. A miner that stopped reading
// is closed (and counted) instead of buffering without bound.
func (m *miner) send(b []byte) {
	if m.state >= stateClosing {
		return
	}
	m.tx += uint64(len(b))
	m.s.fc[m.family].BytesOut += uint64(len(b))
	if !m.conn.write(b, m.s.cfg.MaxOutbound) {
		if m.state < stateClosing {
			m.s.fc[m.family].SlowClosed++
			m.state = stateClosing
		}
	}
}

// close starts closing the miner; cleanup happens in closed.
func (m *miner) close() {
	if m.state >= stateClosing {
		return
	}
	m.state = stateClosing
	m.conn.close()
}

// replyError answers a request with an error message.
func (m *miner) replyError(id *stratum.RequestID, msg string) {
	s := m.s
	s.out = stratum.AppendErrorReply(s.out[:0], id, msg)
	m.send(s.out)
}

// handleLine dispatches one request (loop-only).
func (m *miner) handleLine(line []byte) bool {
	if m.state >= stateClosing {
		return false
	}
	m.rx += uint64(len(line)) + 1
	m.s.fc[m.family].BytesIn += uint64(len(line)) + 1
	if m.family == FamilyUnknown {
		m.family = m.detectFamily(line)
		if m.family == FamilyUnknown {
			m.s.fc[0].BadLines++
			return false
		}
	}
	if m.family == FamilySV1 {
		return m.handleSV1(line)
	}
	return m.handleCN(line)
}

var (
	loginMethod = []byte(`"login"`)
	miningDot   = []byte(`"mining.`)
)

// detectFamily picks the dialect from the first request: a "login" method
// is CryptoNote, a "mining.*" method is SV1. A bind may pin one family.
func (m *miner) detectFamily(line []byte) Family {
	switch m.bind.family {
	case FamilyCryptoNote, FamilySV1:
		return m.bind.family
	}
	v, err := m.s.parser.ParseBytes(line)
	if err != nil {
		return FamilyUnknown
	}
	meth := v.GetStringBytes("method")
	switch {
	case bytes.HasPrefix(meth, miningDot[1:]):
		return FamilySV1
	case len(meth) > 0:
		// "login" and anything else: CryptoNote answers unknown methods
		// with its own error.
		return FamilyCryptoNote
	}
	return FamilyUnknown
}

// closed runs once when the connection is gone: it releases the miner's
// slot and reports the close.
func (m *miner) closed() {
	if m.state == stateClosed {
		return
	}
	wasLoggedIn := m.loggedIn
	m.state = stateClosed
	s := m.s
	if m.sv != nil && m.sv.queued {
		s.dequeueSV1(m)
	}
	if m.mp != nil {
		m.mp.removeMiner(m)
	}
	s.setTarget(m, nil)
	m.prev = nil
	s.removeMiner(m)
	s.p.conns.Add(-1)
	s.load.Add(-1)
	if wasLoggedIn {
		s.workerClosed(m)
		if h := s.p.hooks.OnClose; h != nil {
			h(m.event())
		}
	}
}

func (m *miner) event() MinerEvent {
	return MinerEvent{ID: m.id, Addr: m.addr.AddrPort(), Family: m.family, User: m.userName(), Account: m.isAccount(), Worker: m.workerName(), RigID: m.rigID, Agent: m.agentName(), Rx: m.rx, Tx: m.tx}
}

// shareEvent returns a ShareEvent naming the miner; the caller fills in
// the outcome.
func (m *miner) shareEvent() ShareEvent {
	return ShareEvent{Miner: m.id, Addr: m.addr.AddrPort(), Family: m.family, User: m.userName(), RigID: m.rigID, Account: m.isAccount(), Worker: m.workerName()}
}

// isAccount reports whether m.userName() is a registered account name (an SV1
// miner in passthrough mode): a mining credential, never to be logged.
func (m *miner) isAccount() bool { return m.family == FamilySV1 && m.s.cfg.SV1Mode == "passthrough" }

// newSession gives the miner a random UUID session id.
func (m *miner) newSession() {
	id, err := uuid.NewRandom()
	if err != nil {
		// crypto/rand does not fail on Linux; fall back to the miner id.
		for i := 0; i < 8; i++ {
			id[i] = byte(m.id >> (8 * i))
		}
	}
	m.session = id
}
