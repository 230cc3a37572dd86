//go:build linux

package swarm

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// Epoll interest sets.
const (
	evConnecting = unix.EPOLLOUT
	evReading    = unix.EPOLLIN | unix.EPOLLRDHUP
	evWriting    = evReading | unix.EPOLLOUT
)

// maxTimestampAge is the oldest plausible kernel receive timestamp: data
// does not wait that long in a socket buffer of a running loop.
const maxTimestampAge = 10 * time.Second

// startMiner opens slot k's socket and starts its connect.
func (l *loop) startMiner(k int, now int64) {
	m := &l.miners[k]
	gi := l.globalIndex(k)
	l.st.waiting--
	l.st.connecting++
	m.state, m.since = stConnecting, now
	fd, err := openSocket(l.s.family, l.source(gi))
	if err != nil {
		l.fail(m, k, "connect: "+errnoText(err))
		return
	}
	m.fd = int32(fd)
	ev := unix.EpollEvent{Events: evConnecting, Fd: int32(k)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.fail(m, k, "connect: epoll_ctl: "+errnoText(err))
		return
	}
	switch err := unix.Connect(fd, l.dst); {
	case err == nil:
		l.onConnected(m, k, now)
	case errors.Is(err, unix.EINPROGRESS):
	default:
		l.fail(m, k, "connect: "+errnoText(err))
	}
}

// onEvent handles epoll events for miner slot k.
func (l *loop) onEvent(m *miner, k int, events uint32, now int64) {
	switch m.state {
	case stConnecting:
		soErr, err := unix.GetsockoptInt(int(m.fd), unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			l.fail(m, k, "connect: "+errnoText(err))
		case soErr != 0:
			l.fail(m, k, "connect: "+unix.Errno(soErr).Error())
		case events&unix.EPOLLOUT != 0:
			l.onConnected(m, k, now)
		}
	case stLoggingIn, stLoggedIn:
		if events&unix.EPOLLOUT != 0 && !l.flush(m, k) {
			return
		}
		if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			l.read(m, k)
		}
	}
}

// onConnected sends the login.
func (l *loop) onConnected(m *miner, k int, now int64) {
	l.st.connecting--
	l.st.connected++
	m.state, m.since = stLoggingIn, now
	m.nextID = firstSubmitID
	l.setInterest(m, k, evReading)
	l.login.RigID = ""
	if p := l.s.cfg.RigIDPrefix; p != "" {
		l.login.RigID = p + strconv.Itoa(l.globalIndex(k))
	}
	l.wbuf = stratum.AppendPoolLogin(l.wbuf[:0], loginRequestID, &l.login)
	l.write(m, k, l.wbuf)
}

// read receives once from the socket and handles every complete line.
func (l *loop) read(m *miner, k int) {
	n, ts, err := l.rx.recv(int(m.fd), l.rbuf)
	switch {
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
		return
	case errors.Is(err, unix.ECONNRESET) || (err == nil && n == 0):
		l.fail(m, k, "closed by peer")
		return
	case err != nil:
		l.fail(m, k, "read: "+errnoText(err))
		return
	}
	if now := time.Now().UnixNano(); ts == 0 || ts > now+int64(time.Second) || ts < now-int64(maxTimestampAge) {
		// No timestamp, or one on another clock: use our own.
		ts = now
		l.st.fallbackTS++
	} else {
		l.st.kernelTS++
	}
	data := l.rbuf[:n]
	buffered := m.io != nil && len(m.io.in) > 0
	if buffered {
		m.io.in = append(m.io.in, data...)
		data = m.io.in
	}
	off := 0
	for {
		line, used, lerr := stratum.NextLine(data[off:])
		if lerr != nil {
			l.fail(m, k, "protocol: "+protocolText(lerr))
			return
		}
		if used == 0 {
			break
		}
		off += used
		if len(line) > 0 && !l.handleLine(m, k, line, ts) {
			return
		}
	}
	rest := data[off:]
	switch {
	case len(rest) == 0:
		if buffered {
			m.io.in = nil
			l.dropIO(m)
		}
	case buffered:
		m.io.in = m.io.in[:copy(m.io.in, rest)]
	default:
		if m.io == nil {
			m.io = &minerIO{}
		}
		m.io.in = append(m.io.in[:0], rest...)
	}
}

func protocolText(err error) string {
	switch {
	case errors.Is(err, stratum.ErrLineTooLong):
		return "line too long"
	case errors.Is(err, stratum.ErrNotJSONObject):
		return "not a JSON object"
	}
	return "malformed line"
}

// handleLine handles one line from the proxy; false when the miner closed.
func (l *loop) handleLine(m *miner, k int, line []byte, ts int64) bool {
	msg := &l.msg
	perr := stratum.ParsePoolMessage(&l.parser, line, msg)
	if errors.Is(perr, stratum.ErrMalformed) {
		l.fail(m, k, "protocol: malformed line")
		return false
	}
	switch msg.Kind {
	case stratum.PoolJobNotify:
		if perr != nil || !msg.HasJob {
			l.countError("protocol: invalid job", nil, k)
			return true
		}
		l.applyJob(m, k, &msg.Job, ts, true)
	case stratum.PoolResponse:
		if !msg.HasID {
			return true
		}
		if msg.ID == loginRequestID && m.state == stLoggingIn {
			return l.onLoginReply(m, k, perr, ts)
		}
		l.onSubmitReply(m, k, ts)
	}
	return true
}

// onLoginReply takes the session and first job; false when the miner closed.
func (l *loop) onLoginReply(m *miner, k int, perr error, ts int64) bool {
	msg := &l.msg
	switch {
	case msg.Error != nil:
		l.countError("login: ", msg.Error, k)
		l.fail(m, k, "")
		return false
	case perr != nil || !msg.HasJob:
		l.fail(m, k, "login: reply without a valid job")
		return false
	case !stratum.IsToken(msg.SessionID, stratum.MaxJobIDLen):
		l.fail(m, k, "login: bad session id")
		return false
	}
	m.session = string(msg.SessionID)
	l.st.loginLat.Record(time.Duration(ts - m.since))
	l.applyJob(m, k, &msg.Job, ts, false)
	m.state = stLoggedIn
	l.st.loggedIn++
	m.readyPos = int32(len(l.ready))
	l.ready = append(l.ready, int32(k))
	l.s.ready.Add(1)
	return true
}

// onSubmitReply matches an answer to a pending submit.
func (l *loop) onSubmitReply(m *miner, k int, ts int64) {
	msg := &l.msg
	at, ok := m.resolve(msg.ID)
	if !ok {
		return // answer to a submit already timed out
	}
	l.st.submitRTT.Record(time.Duration(ts - at))
	if msg.Error != nil {
		l.st.rejected++
		l.countError("reject: ", msg.Error, k)
		return
	}
	l.st.accepted++
}

// applyJob switches the miner to job j (received at ts).
func (l *loop) applyJob(m *miner, k int, j *stratum.Job, ts int64, notify bool) {
	l.st.jobs++
	e := l.jobs.get(j.JobID, l.s.sinceStart())
	if notify && l.s.cfg.JobSentAt != nil {
		if !e.looked {
			e.looked = true
			if t, ok := l.s.cfg.JobSentAt(j.JobID); ok {
				e.sentNs, e.sent = t.UnixNano(), true
			}
		}
		if e.sent {
			l.st.jobLat.Record(time.Duration(ts - e.sentNs))
		}
	}
	if bytes.Equal(m.jobID, e.id) {
		return
	}
	e.count++
	m.jobID = e.id
	m.algo = l.internAlgo(j.Algo)
	m.diff = max(1, stratum.DifficultyFromTarget(j.Target))
	m.fixed, m.nicehash = fixedByteOf(j.Blob)
	m.nonce = 0
}

// internAlgo returns a shared copy of algo (nil for "").
func (l *loop) internAlgo(algo string) []byte {
	if algo == "" {
		return nil
	}
	for _, a := range l.algos {
		if string(a) == algo {
			return a
		}
	}
	b := []byte(algo)
	if len(l.algos) < 16 {
		l.algos = append(l.algos, b)
	}
	return b
}

// submit sends one share for the miner's current job.
func (l *loop) submit(m *miner, k int, now int64) {
	var nb [8]byte
	var rb [64]byte
	nonce := appendNonce(nb[:0], m.fixed, m.nicehash, m.nonce)
	result := appendResult(rb[:0], m.diff, uint64(l.globalIndex(k))<<32|uint64(m.nonce))
	m.nonce++
	id := m.nextID
	m.nextID++
	if m.nextID == 0 {
		m.nextID = firstSubmitID
	}
	l.wbuf = stratum.AppendPoolSubmit(l.wbuf[:0], uint64(id), m.session, m.jobID, nonce, result, m.algo)
	m.takeSlot(id, now)
	l.st.sent++
	l.write(m, k, l.wbuf)
}

// write sends b (copied if it cannot be written at once); false when the
// miner closed.
func (l *loop) write(m *miner, k int, b []byte) bool {
	if m.io != nil && len(m.io.out) > 0 {
		m.io.out = append(m.io.out, b...)
		return true
	}
	n, err := unix.Write(int(m.fd), b)
	if err != nil {
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			l.failWrite(m, k, err)
			return false
		}
		n = 0
	}
	if n < len(b) {
		if m.io == nil {
			m.io = &minerIO{}
		}
		m.io.out = append(m.io.out[:0], b[n:]...)
		l.setInterest(m, k, evWriting)
	}
	return true
}

// flush writes pending output; false when the miner closed.
func (l *loop) flush(m *miner, k int) bool {
	if m.io == nil || len(m.io.out) == 0 {
		l.setInterest(m, k, evReading)
		return true
	}
	n, err := unix.Write(int(m.fd), m.io.out)
	if err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			return true
		}
		l.failWrite(m, k, err)
		return false
	}
	m.io.out = m.io.out[:copy(m.io.out, m.io.out[n:])]
	if len(m.io.out) == 0 {
		m.io.out = nil
		l.dropIO(m)
		l.setInterest(m, k, evReading)
	}
	return true
}

func (l *loop) failWrite(m *miner, k int, err error) {
	if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
		l.fail(m, k, "closed by peer")
		return
	}
	l.fail(m, k, "write: "+errnoText(err))
}

// dropIO frees the miner's buffers once both are empty.
func (l *loop) dropIO(m *miner) {
	if m.io != nil && len(m.io.in) == 0 && len(m.io.out) == 0 {
		m.io = nil
	}
}

// setInterest changes the epoll interest set of an open miner.
func (l *loop) setInterest(m *miner, k int, events uint32) {
	ev := unix.EpollEvent{Events: events, Fd: int32(k)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, int(m.fd), &ev); err != nil {
		l.countError("internal: epoll_ctl: "+errnoText(err), nil, k)
	}
}

// fail counts an error of the given kind ("" when already counted) and
// closes the miner for good.
func (l *loop) fail(m *miner, k int, kind string) {
	l.dirty = true
	if kind != "" {
		l.countError(kind, nil, k)
	}
	switch m.state {
	case stConnecting:
		l.st.connecting--
	case stLoggingIn:
		l.st.connected--
	case stLoggedIn:
		l.st.connected--
		l.st.loggedIn--
		l.removeReady(m)
	case stClosed, stIdle:
		return
	}
	if m.fd >= 0 {
		_ = unix.Close(int(m.fd)) // SO_LINGER 0: RST, no TIME_WAIT
		m.fd = -1
	}
	l.st.closed++
	*m = miner{fd: -1, state: stClosed, readyPos: -1}
}

// removeReady takes a miner out of the share round robin.
func (l *loop) removeReady(m *miner) {
	i := m.readyPos
	if i < 0 {
		return
	}
	last := len(l.ready) - 1
	moved := l.ready[last]
	l.ready[i] = moved
	l.miners[moved].readyPos = i
	l.ready = l.ready[:last]
	m.readyPos = -1
	l.s.ready.Add(-1)
}
