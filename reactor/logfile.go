package reactor

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"forge.lthn.ai/core/go-proxy/internal/logsafe"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// Log file tuning.
const (
	// logBufferSize is the capacity of each of a log file's two buffers:
	// lines that do not fit before the next flush are dropped and counted.
	logBufferSize = 256 << 10
	// logFlushEvery bounds how long a line waits in memory.
	logFlushEvery = time.Second
	// logFieldMax caps a logged field (user, agent, reason); logLineMax
	// bounds a whole line (time, keyword, address, two fields, numbers).
	logFieldMax = 256
	logLineMax  = 1024
	// logFileMode is the permission of a newly created log file.
	logFileMode = 0o640
)

// errLogClosed is returned by Reopen and Flush after Close.
var errLogClosed = errors.New("reactor: log file closed")

// AccessLog writes one line per miner login and close to an append-only
// file: the RFC's fields (time, keyword, IP, user), then the rig id and the
// miner's address, so one rig among many on a wallet can be found:
//
//	2026-04-04T12:00:00Z CONNECT <ip> <user> rig=<rig id> addr=<ip:port> agent="<agent>"
//	2026-04-04T12:00:00Z CLOSE <ip> <user> rig=<rig id> addr=<ip:port> rx=<bytes> tx=<bytes>
//
// OnLogin and OnClose run on event loops: they format the line into a
// memory buffer without allocating and never touch the file; a background
// goroutine writes the buffer out at least once a second. Passwords are
// never logged. Safe for concurrent use.
type AccessLog struct{ fileLog }

// NewAccessLog opens (creating, mode 0640) path for appending and starts
// its flusher. Close it when done.
func NewAccessLog(path string) (*AccessLog, error) {
	f, err := openLogFile(path)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	return &AccessLog{fileLog{f}}, nil
}

// OnLogin records a CONNECT line. Event-loop safe: no allocation, no I/O.
func (l *AccessLog) OnLogin(e MinerEvent) {
	f := l.f
	f.mu.Lock()
	if f.reserve(logLineMax) {
		b := appendLogTime(f.buf)
		b = append(b, " CONNECT "...)
		b = appendLogIP(b, e.Addr)
		b = append(b, ' ')
		b = appendLogUser(b, e.User, e.Account)
		b = appendLogMiner(b, e.RigID, e.Addr)
		b = append(b, ` agent="`...)
		b = appendLogField(b, e.Agent)
		f.buf = append(b, "\"\n"...)
	}
	f.unlock()
}

// OnClose records a CLOSE line with the bytes received from (rx) and sent
// to (tx) the miner. Event-loop safe: no allocation, no I/O.
func (l *AccessLog) OnClose(e MinerEvent) {
	f := l.f
	f.mu.Lock()
	if f.reserve(logLineMax) {
		b := appendLogTime(f.buf)
		b = append(b, " CLOSE "...)
		b = appendLogIP(b, e.Addr)
		b = append(b, ' ')
		b = appendLogUser(b, e.User, e.Account)
		b = appendLogMiner(b, e.RigID, e.Addr)
		b = append(b, " rx="...)
		b = strconv.AppendUint(b, e.Rx, 10)
		b = append(b, " tx="...)
		b = strconv.AppendUint(b, e.Tx, 10)
		f.buf = append(b, '\n')
	}
	f.unlock()
}

// Hooks returns the hooks that feed this log (OnLogin, OnClose).
func (l *AccessLog) Hooks() Hooks { return Hooks{OnLogin: l.OnLogin, OnClose: l.OnClose} }

// ShareLog writes one line per share result to an append-only file: the
// RFC's fields (time, keyword, user), the rig id and the miner's address,
// then the outcome:
//
//	2026-04-04T12:00:00Z ACCEPT <user> rig=<rig id> addr=<ip:port> diff=<diff> latency=<ms>ms
//	2026-04-04T12:00:00Z REJECT <user> rig=<rig id> addr=<ip:port> reason="<message>"
//
// Like AccessLog, its callbacks only format into memory (no allocation,
// no I/O); a background goroutine writes. Safe for concurrent use.
type ShareLog struct{ fileLog }

// NewShareLog opens (creating, mode 0640) path for appending and starts
// its flusher. Close it when done.
func NewShareLog(path string) (*ShareLog, error) {
	f, err := openLogFile(path)
	if err != nil {
		return nil, fmt.Errorf("share log: %w", err)
	}
	return &ShareLog{fileLog{f}}, nil
}

// OnAccept records an ACCEPT line: the credited difficulty and the pool's
// answer time (0 for shares answered by the proxy). Event-loop safe.
func (l *ShareLog) OnAccept(e ShareEvent) {
	f := l.f
	f.mu.Lock()
	if f.reserve(logLineMax) {
		b := appendLogTime(f.buf)
		b = append(b, " ACCEPT "...)
		b = appendLogUser(b, e.User, e.Account)
		b = appendLogMiner(b, e.RigID, e.Addr)
		b = append(b, " diff="...)
		b = strconv.AppendUint(b, e.Diff, 10)
		b = append(b, " latency="...)
		b = strconv.AppendInt(b, e.Latency.Milliseconds(), 10)
		f.buf = append(b, "ms\n"...)
	}
	f.unlock()
}

// OnReject records a REJECT line with the pool's (or the proxy's) reason,
// escaped like every field (a double quote in it is written \x22).
// Event-loop safe.
func (l *ShareLog) OnReject(e ShareEvent) {
	f := l.f
	f.mu.Lock()
	if f.reserve(logLineMax) {
		b := appendLogTime(f.buf)
		b = append(b, " REJECT "...)
		b = appendLogUser(b, e.User, e.Account)
		b = appendLogMiner(b, e.RigID, e.Addr)
		b = append(b, ` reason="`...)
		b = appendLogField(b, e.Reason)
		f.buf = append(b, "\"\n"...)
	}
	f.unlock()
}

// Hooks returns the hooks that feed this log (OnAccept, OnReject).
func (l *ShareLog) Hooks() Hooks { return Hooks{OnAccept: l.OnAccept, OnReject: l.OnReject} }

// fileLog is the file side AccessLog and ShareLog share: rotation,
// flushing, closing and the drop count. Safe for concurrent use.
type fileLog struct{ f *logFile }

// Reopen flushes, closes and reopens the file at the same path: after a
// log rotation moved the old file away (SIGHUP).
func (l fileLog) Reopen() error { return l.f.reopen() }

// Flush writes buffered lines to the file now.
func (l fileLog) Flush() error { return l.f.flush() }

// Close flushes, stops the flusher and closes the file. Lines recorded
// afterwards are dropped.
func (l fileLog) Close() error { return l.f.close() }

// Dropped returns how many lines were lost because the buffer was full
// (the disk could not keep up) or the log was closed.
func (l fileLog) Dropped() uint64 { return l.f.droppedLines() }

// Path returns the file's path.
func (l fileLog) Path() string { return l.f.path }

// logFile is an append-only file fed from event loops through a pair of
// buffers: writers append to buf under mu; the flusher swaps buf with the
// empty spare under mu and writes the full one with only ioMu held, so an
// event loop never waits for the disk. Lock order: ioMu, then mu.
type logFile struct {
	path string

	mu      sync.Mutex
	buf     []byte // lines waiting; capacity fixed at logBufferSize
	dropped uint64
	closed  bool

	ioMu   sync.Mutex
	file   *os.File
	spare  []byte // the buffer being written (only under ioMu)
	werr   error  // first write error since the last flush report
	kick   chan struct{}
	stop   chan struct{}
	exited chan struct{}
}

func openLogFile(path string) (*logFile, error) {
	if path == "" {
		return nil, errors.New("empty path")
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, logFileMode)
	if err != nil {
		return nil, err
	}
	f := &logFile{
		path: path, file: file,
		buf:    make([]byte, 0, logBufferSize),
		spare:  make([]byte, 0, logBufferSize),
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	go f.run()
	return f, nil
}

// reserve reports whether n more bytes fit in the buffer (mu held); when
// they do not, the line is counted as dropped.
func (f *logFile) reserve(n int) bool {
	if f.closed || len(f.buf)+n > cap(f.buf) {
		f.dropped++
		return false
	}
	return true
}

// unlock releases mu, waking the flusher early once the buffer is half
// full.
func (f *logFile) unlock() {
	half := len(f.buf) > cap(f.buf)/2
	f.mu.Unlock()
	if half {
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
}

func (f *logFile) droppedLines() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

// run is the flusher goroutine.
func (f *logFile) run() {
	defer close(f.exited)
	t := time.NewTicker(logFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		case <-f.kick:
		}
		f.ioMu.Lock()
		f.writeLocked()
		f.ioMu.Unlock()
	}
}

// writeLocked swaps the buffers and writes what was pending (ioMu held).
// Without an open file (a failed Reopen) lines stay buffered.
func (f *logFile) writeLocked() {
	if f.file == nil {
		return
	}
	f.mu.Lock()
	f.buf, f.spare = f.spare[:0], f.buf
	f.mu.Unlock()
	if len(f.spare) > 0 {
		if _, err := f.file.Write(f.spare); err != nil && f.werr == nil {
			f.werr = err
		}
	}
	f.spare = f.spare[:0]
}

// isClosed reports whether close ran.
func (f *logFile) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// flush writes pending lines now and reports the first write error since
// the last report.
func (f *logFile) flush() error {
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	if f.isClosed() {
		return errLogClosed
	}
	if f.file == nil {
		return fmt.Errorf("log %s: not open (reopen failed)", f.path)
	}
	f.writeLocked()
	err := f.werr
	f.werr = nil
	if err != nil {
		return fmt.Errorf("log %s: %w", f.path, err)
	}
	return nil
}

// reopen flushes to the old file, closes it and opens the path again. If
// the path cannot be opened, lines are kept in memory (up to the buffer)
// until a later reopen succeeds.
func (f *logFile) reopen() error {
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	if f.isClosed() {
		return errLogClosed
	}
	var werr error
	if f.file != nil {
		f.writeLocked()
		werr = errors.Join(f.werr, f.file.Close())
		f.werr, f.file = nil, nil
	}
	file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, logFileMode)
	if err != nil {
		return fmt.Errorf("log %s: reopen: %w", f.path, errors.Join(err, werr))
	}
	f.file = file
	f.writeLocked()
	if werr != nil {
		return fmt.Errorf("log %s: %w", f.path, werr)
	}
	return nil
}

// close flushes, stops the flusher and closes the file. Idempotent.
func (f *logFile) close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	close(f.stop)
	<-f.exited
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	if f.file == nil {
		return nil
	}
	f.writeLocked()
	err := errors.Join(f.werr, f.file.Close())
	f.file = nil
	if err != nil {
		return fmt.Errorf("log %s: %w", f.path, err)
	}
	return nil
}

// appendLogTime appends the current UTC time in RFC 3339 seconds.
func appendLogTime(b []byte) []byte { return time.Now().UTC().AppendFormat(b, time.RFC3339) }

// appendLogIP appends the miner's IP address ("-" when unknown).
func appendLogIP(b []byte, addr netip.AddrPort) []byte {
	if !addr.IsValid() {
		return append(b, '-')
	}
	return addr.Addr().AppendTo(b)
}

// appendLogMiner appends " rig=<rig id> addr=<ip:port>", the fields that
// tell one rig from another on the same wallet ("-" when unknown).
func appendLogMiner(b []byte, rigID string, addr netip.AddrPort) []byte {
	b = append(b, " rig="...)
	b = appendLogUser(b, rigID, false)
	b = append(b, " addr="...)
	if !addr.IsValid() {
		return append(b, '-')
	}
	return addr.AppendTo(b)
}

// appendLogUser appends a user name as one field: escaped like
// appendLogField, with spaces written as '_'.
//
// A registered account name (account true) is a mining credential: it is
// written as "account:" and the first 12 hex digits of its SHA-256, enough
// to follow one account through the log (sha256 of a name finds its lines)
// without handing the name to whoever reads the log.
func appendLogUser(b []byte, s string, account bool) []byte {
	if account {
		sum := sha256.Sum256([]byte(s))
		b = append(b, "account:"...)
		return stratum.AppendHex(b, sum[:6])
	}
	start := len(b)
	b = appendLogField(b, s)
	for i := start; i < len(b); i++ {
		if b[i] == ' ' {
			b[i] = '_'
		}
	}
	return b
}

// appendLogField appends s as one field of a log file line, escaped by
// logsafe in Field mode (control, format and bidi characters, bad UTF-8,
// backslashes, quotes and shell syntax become \xNN / \uNNNN escapes) and
// cut to at most logFieldMax bytes of output, so a line stays one inert
// line with parseable fields whatever a miner or pool sent; "" is written
// as "-". No allocation: the caller reserved logLineMax bytes.
func appendLogField(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return logsafe.Append(b, s, logFieldMax, logsafe.Field)
}

// CombineHooks returns hooks that call every non-nil callback of hs, in
// order (for example the access log, the share log and an embedder's own
// hooks). Calling them allocates nothing.
func CombineHooks(hs ...Hooks) Hooks {
	var login, closeFn []func(MinerEvent)
	var accept, reject []func(ShareEvent)
	for _, h := range hs {
		if h.OnLogin != nil {
			login = append(login, h.OnLogin)
		}
		if h.OnClose != nil {
			closeFn = append(closeFn, h.OnClose)
		}
		if h.OnAccept != nil {
			accept = append(accept, h.OnAccept)
		}
		if h.OnReject != nil {
			reject = append(reject, h.OnReject)
		}
	}
	return Hooks{OnLogin: fanMiner(login), OnClose: fanMiner(closeFn), OnAccept: fanShare(accept), OnReject: fanShare(reject)}
}

func fanMiner(fns []func(MinerEvent)) func(MinerEvent) {
	switch len(fns) {
	case 0:
		return nil
	case 1:
		return fns[0]
	}
	return func(e MinerEvent) {
		for _, fn := range fns {
			fn(e)
		}
	}
}

func fanShare(fns []func(ShareEvent)) func(ShareEvent) {
	switch len(fns) {
	case 0:
		return nil
	case 1:
		return fns[0]
	}
	return func(e ShareEvent) {
		for _, fn := range fns {
			fn(e)
		}
	}
}
