//go:build linux

package sv1swarm

import (
	"context"
	"errors"
	"fmt"
	"net"
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

// resolveTimeout bounds the name lookup of a client.reconnect host (which
// blocks the loop; hosts are usually IP literals).
const resolveTimeout = 2 * time.Second

// startMiner opens slot k's socket and starts its connect.
func (l *loop) startMiner(k int, now int64) {
	m := &l.miners[k]
	gi := l.globalIndex(k)
	l.st.waiting--
	l.st.connecting++
	m.state, m.since = stConnecting, now
	d := &l.dsts[m.dst]
	fd, err := openSocket(d.family, l.source(gi, d))
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
	switch err := unix.Connect(fd, d.sa); {
	case err == nil:
		l.onConnected(m, k)
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
			l.onConnected(m, k)
		}
	case stConfiguring, stSubscribing, stAuthorizing, stMining:
		if events&unix.EPOLLOUT != 0 && !l.flush(m, k) {
			return
		}
		if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			l.read(m, k, now)
		}
	}
}

// onConnected starts the handshake: mining.configure when version rolling
// is wanted, else mining.subscribe.
func (l *loop) onConnected(m *miner, k int) {
	l.st.connecting--
	l.st.connected++
	m.nextID = firstSubmitID
	l.setInterest(m, k, evReading)
	cfg := &l.s.cfg
	if cfg.VersionRolling {
		m.state = stConfiguring
		l.wbuf = stratum.AppendSV1PoolConfigure(l.wbuf[:0], idConfigure, cfg.VersionMask, versionMinBitCount)
		l.write(m, k, l.wbuf)
		return
	}
	l.sendSubscribe(m, k)
}

func (l *loop) sendSubscribe(m *miner, k int) {
	m.state = stSubscribing
	l.wbuf = stratum.AppendSV1PoolSubscribe(l.wbuf[:0], idSubscribe, l.s.cfg.Agent, "")
	l.write(m, k, l.wbuf)
}

// userOf returns the authorize user (and submit worker) of miner slot k.
func (l *loop) userOf(k int) string {
	cfg := &l.s.cfg
	gi := l.globalIndex(k)
	u := cfg.User
	if len(cfg.Users) > 0 {
		u = cfg.Users[gi%len(cfg.Users)]
	}
	if cfg.WorkerPrefix != "" {
		u += "." + cfg.WorkerPrefix + strconv.Itoa(gi)
	}
	return u
}

// read receives once from the socket and handles every complete line.
func (l *loop) read(m *miner, k int, now int64) {
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
	if wall := time.Now().UnixNano(); ts == 0 || ts > wall+int64(time.Second) || ts < wall-int64(maxTimestampAge) {
		// No timestamp, or one on another clock: use our own.
		ts = wall
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
		if len(line) > 0 && !l.handleLine(m, k, line, ts, now) {
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

// handleLine handles one line from the upstream; false when the miner
// closed or left to reconnect.
func (l *loop) handleLine(m *miner, k int, line []byte, ts, now int64) bool {
	msg := &l.msg
	perr := stratum.ParseSV1PoolMessage(&l.parser, line, msg)
	if errors.Is(perr, stratum.ErrMalformed) {
		l.fail(m, k, "protocol: malformed line")
		return false
	}
	switch msg.Kind {
	case stratum.SV1PoolResponse:
		return l.onResponse(m, k, perr, ts)
	case stratum.SV1PoolNotify:
		if perr != nil || !msg.HasJob {
			l.countError("protocol: invalid mining.notify", nil, k)
			return true
		}
		l.onNotify(m, k, &msg.Job, ts)
	case stratum.SV1PoolSetDifficulty:
		if perr != nil {
			l.countError("protocol: invalid mining.set_difficulty", nil, k)
			return true
		}
		l.st.diffChanges++
		if m.jobDiff == 0 {
			// No difficulty was in force when the current job came (or no
			// job yet): this one applies to it.
			m.jobDiff = msg.Difficulty
		}
		m.diff = msg.Difficulty
	case stratum.SV1PoolSetExtranonce:
		if perr != nil {
			l.countError("protocol: invalid mining.set_extranonce", nil, k)
			return true
		}
		l.st.e1Changes++
		l.voidSearch(m)
		e1, _ := stratum.DecodeHex(m.e1[:0], msg.Extranonce1) // validated: hex, at most 16 bytes
		m.e1Len = uint8(len(e1))
		m.e2Size = uint8(msg.Extranonce2Size)
	case stratum.SV1PoolSetVersionMask:
		if perr != nil {
			l.countError("protocol: invalid mining.set_version_mask", nil, k)
			return true
		}
		l.st.maskChanges++
		if m.rolling {
			l.voidSearch(m)
			m.mask = msg.VersionMask & l.s.cfg.VersionMask
		}
	case stratum.SV1PoolReconnect:
		if perr != nil {
			l.countError("protocol: invalid client.reconnect", nil, k)
			return true
		}
		return !l.reconnect(m, k, msg.Host, msg.Port, msg.Wait, now)
	}
	return true
}

// onResponse handles the answer to one of the miner's requests; false when
// the miner closed.
func (l *loop) onResponse(m *miner, k int, perr error, ts int64) bool {
	msg := &l.msg
	if !msg.HasID {
		return true
	}
	switch {
	case msg.ID == idConfigure && m.state == stConfiguring:
		// A pool that does not know mining.configure answers with an error:
		// mine without version rolling, like real miners.
		if msg.Error == nil && msg.VersionRolling {
			m.rolling = true
			m.mask = msg.VersionMask & l.s.cfg.VersionMask
			l.st.rollingGranted++
		}
		l.sendSubscribe(m, k)
	case msg.ID == idSubscribe && m.state == stSubscribing:
		return l.onSubscribed(m, k, perr)
	case msg.ID == idXSubscribe:
		if msg.Error == nil && msg.Result == stratum.SV1ResultBool && msg.ResultBool {
			l.st.xsubGranted++
		}
	case msg.ID == idAuthorize && m.state == stAuthorizing:
		return l.onAuthorized(m, k, ts)
	case msg.ID >= firstSubmitID:
		l.onSubmitReply(m, k, ts)
	}
	return true
}

// onSubscribed takes extranonce1 and its size, then asks for extranonce
// updates (when configured) and authorizes; false when the miner closed.
func (l *loop) onSubscribed(m *miner, k int, perr error) bool {
	msg := &l.msg
	switch {
	case msg.Error != nil:
		l.countError("subscribe: ", msg.Error, k)
		l.fail(m, k, "")
		return false
	case perr != nil || msg.Result != stratum.SV1ResultSubscribe:
		l.fail(m, k, "subscribe: bad result")
		return false
	}
	e1, _ := stratum.DecodeHex(m.e1[:0], msg.Extranonce1) // validated: hex, at most 16 bytes
	m.e1Len = uint8(len(e1))
	m.e2Size = uint8(msg.Extranonce2Size)
	m.state = stAuthorizing
	l.st.subscribed++
	l.wbuf = l.wbuf[:0]
	if l.s.cfg.ExtranonceSubscribe {
		l.wbuf = stratum.AppendSV1PoolExtranonceSubscribe(l.wbuf, idXSubscribe)
	}
	l.wbuf = stratum.AppendSV1PoolAuthorize(l.wbuf, idAuthorize, l.userOf(k), l.s.cfg.Pass)
	return l.write(m, k, l.wbuf)
}

// onAuthorized makes the miner mine; false when it was refused (closed).
func (l *loop) onAuthorized(m *miner, k int, ts int64) bool {
	msg := &l.msg
	if msg.Error != nil || msg.Result != stratum.SV1ResultBool || !msg.ResultBool {
		if msg.Error != nil {
			l.countError("authorize: ", msg.Error, k)
		} else {
			l.countError("authorize: refused", nil, k)
		}
		l.fail(m, k, "")
		return false
	}
	l.st.loginLat.Record(time.Duration(ts - m.since))
	m.state = stMining
	l.st.authorized++
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
	if msg.Error == nil && msg.Result == stratum.SV1ResultBool && msg.ResultBool {
		l.st.accepted++
		return
	}
	l.st.rejected++
	l.st.rejectedByCode[msg.ErrorCode]++
	if msg.Error != nil {
		l.countError("reject: ", msg.Error, k)
	} else {
		l.countError("reject: false", nil, k)
	}
}

// onNotify switches the miner to job j (received at ts). A clean job voids
// the search in flight; otherwise it finishes on the previous job.
func (l *loop) onNotify(m *miner, k int, j *stratum.SV1Job, ts int64) {
	l.st.jobs++
	e, err := l.jobs.get(j, l.s.sinceStart())
	if err != nil {
		l.countError("protocol: invalid mining.notify", nil, k)
		return
	}
	// Job fan-out latency counts job changes of mining miners, not the
	// first job a miner gets (which may have been sent long before).
	if l.s.cfg.JobSentAt != nil && m.state == stMining && m.job != nil {
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
	if j.CleanJobs {
		l.voidSearch(m)
	}
	m.jobDiff = m.diff
	if m.job != e.data {
		e.count++
		m.job = e.data
	}
}

// reconnect follows client.reconnect: the connection is closed and the
// miner connects again after wait seconds to host:port (empty host or zero
// port: the current one). It reports whether the miner left; a host that
// cannot be resolved is counted and ignored.
func (l *loop) reconnect(m *miner, k int, host []byte, port, wait int, now int64) bool {
	di, err := l.destFor(host, port, &l.dsts[m.dst])
	if err != nil {
		l.countError("reconnect: "+err.Error(), nil, k)
		return false
	}
	if !l.disconnect(m, k) {
		return false
	}
	l.st.reconnects++
	l.st.waiting++
	m.dst = di
	m.state, m.since = stIdle, now+int64(wait)*int64(time.Second)
	l.waitList = append(l.waitList, int32(k))
	d := &l.dsts[di]
	l.logs = append(l.logs, fmt.Sprintf("sv1swarm: miner %d: reconnect to %s in %d s",
		l.globalIndex(k), net.JoinHostPort(d.ip, strconv.Itoa(d.port)), wait))
	return true
}

// destFor returns the index of the destination host:port in l.dsts,
// adding it when new. An empty host or a zero port keep cur's.
func (l *loop) destFor(host []byte, port int, cur *dest) (uint8, error) {
	ipText := cur.ip
	if len(host) > 0 {
		ipText = string(host)
	}
	if port == 0 {
		port = cur.port
	}
	ip := net.ParseIP(ipText)
	if ip == nil {
		ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, ipText)
		cancel()
		if err != nil || len(addrs) == 0 {
			return 0, errors.New("cannot resolve host")
		}
		ip = addrs[0].IP
	}
	for i := range l.dsts {
		if d := &l.dsts[i]; d.port == port && net.ParseIP(d.ip).Equal(ip) {
			return uint8(i), nil
		}
	}
	if len(l.dsts) >= maxDests {
		return 0, errors.New("too many destinations")
	}
	d := dest{ip: ip.String(), port: port}
	if ip4 := ip.To4(); ip4 != nil {
		d.sa, d.family = &unix.SockaddrInet4{Port: port, Addr: [4]byte(ip4)}, unix.AF_INET
		d.bind = len(l.srcs) > 0 && ip4.IsLoopback()
	} else {
		d.sa, d.family = &unix.SockaddrInet6{Port: port, Addr: [16]byte(ip.To16())}, unix.AF_INET6
	}
	l.dsts = append(l.dsts, d)
	return uint8(len(l.dsts) - 1), nil
}

// submit sends the share t found for the miner.
func (l *loop) submit(m *miner, k int, t *task, now int64) {
	id := m.nextID
	m.nextID++
	if m.nextID == 0 {
		m.nextID = firstSubmitID
	}
	h := append(l.hexbuf[:0], t.job.job.JobID...)
	nJob := len(h)
	h = stratum.AppendHex(h, t.unit.e2[:t.e2Len])
	nE2 := len(h)
	h = stratum.AppendHex32(h, t.ntime)
	nTime := len(h)
	h = stratum.AppendHex32(h, t.nonce)
	nNonce := len(h)
	h = stratum.AppendHex32(h, t.unit.bits)
	l.hexbuf = h
	sub := stratum.SV1Submit{JobID: h[:nJob], Extranonce2: h[nJob:nE2], NTime: h[nE2:nTime], Nonce: h[nTime:nNonce]}
	if t.rolled {
		sub.VersionBits = h[nNonce:]
	}
	l.wbuf = stratum.AppendSV1PoolSubmit(l.wbuf[:0], uint64(id), l.userOf(k), nil, &sub)
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
	if kind != "" {
		l.countError(kind, nil, k)
	}
	if !l.disconnect(m, k) {
		return
	}
	l.st.closed++
	m.state = stClosed
}

// disconnect closes the miner's connection, voids its search and resets
// its connection state (keeping its destination and search counter, so a
// reconnected miner does not repeat work). It reports false when the miner
// had no connection.
func (l *loop) disconnect(m *miner, k int) bool {
	l.dirty = true
	switch m.state {
	case stConnecting:
		l.st.connecting--
	case stConfiguring, stSubscribing:
		l.st.connected--
	case stAuthorizing:
		l.st.connected--
		l.st.subscribed--
	case stMining:
		l.st.connected--
		l.st.subscribed--
		l.st.authorized--
		l.removeReady(m)
	default:
		return false
	}
	l.voidSearch(m)
	if m.fd >= 0 {
		_ = unix.Close(int(m.fd)) // SO_LINGER 0: RST, no TIME_WAIT
	}
	*m = miner{fd: -1, readyPos: -1, dst: m.dst, searches: m.searches}
	return true
}

// removeReady takes a miner out of the search round robin.
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
