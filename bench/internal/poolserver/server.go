package poolserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"forge.lthn.ai/core/go-proxy/bench/internal/notify"
	"forge.lthn.ai/core/go-proxy/internal/segrelay"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// Config says where a Server listens and how it reports.
type Config struct {
	// Name prefixes every log line and error, e.g. "mockpool".
	Name string
	// Addr is the listen address.
	Addr string
	// TLS, when non-nil, makes the server serve TLS with this configuration.
	TLS *tls.Config
	// Logf, when set, receives one line per connection event. It is called
	// from the server's goroutines.
	Logf func(format string, args ...any)
	// Relay, when non-nil, puts a segmenting relay (internal/segrelay) in
	// front of the server: Addr then returns the relay's address, so the
	// proxy under test reads the pool's lines cut the way a real network
	// cuts them.
	Relay *segrelay.Config
}

// HistorySize bounds how many sessions Remember keeps.
const HistorySize = 4096

// ErrHangUp, returned by a session's HandleLine, closes the connection
// without logging.
var ErrHangUp = errors.New("hang up")

// Session is a pool's per-connection state. Implement it with a pointer to
// a struct that embeds the *Conn given to Serve's newSession (the embedding
// provides the unexported method).
type Session interface {
	// HandleLine answers one non-blank request line, on the connection's
	// reader goroutine. A non-nil error closes the connection; it is logged
	// unless it is ErrHangUp.
	HandleLine(line []byte) error
	base() *Conn
}

// Server is a listening pool: accept loop, reader goroutines, registry of
// sessions and change notification. All methods are safe for concurrent
// use.
type Server[S Session] struct {
	cfg     Config
	ln      net.Listener
	relay   *segrelay.Relay
	changed notify.Cond
	done    chan struct{}
	wg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	mu                  sync.Mutex // guards everything below
	closed              bool
	conns               map[*Conn]S
	history             []S // remembered sessions, oldest first, bounded
	connections, active int
}

// Listen listens on cfg.Addr. Nothing is accepted before Serve.
func Listen[S Session](cfg Config) (*Server[S], error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen %s: %w", cfg.Name, cfg.Addr, err)
	}
	var relay *segrelay.Relay
	if cfg.Relay != nil {
		if relay, err = segrelay.Start(ln.Addr().String(), *cfg.Relay); err != nil {
			ln.Close()
			return nil, fmt.Errorf("%s: relay: %w", cfg.Name, err)
		}
	}
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS)
	}
	return &Server[S]{
		cfg:   cfg,
		ln:    ln,
		relay: relay,
		done:  make(chan struct{}),
		conns: make(map[*Conn]S),
	}, nil
}

// Serve starts accepting connections until Close. For each one it calls
// newSession, on the accept goroutine, before the connection is counted
// and its reader started. Call it once.
func (s *Server[S]) Serve(newSession func(*Conn) S) {
	s.wg.Add(1)
	go s.acceptLoop(newSession)
}

// Every calls f every interval, on its own goroutine, until Close. Call it
// before Close.
func (s *Server[S]) Every(interval time.Duration, f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				f()
			}
		}
	}()
}

// Addr returns the address clients dial, as host:port: the relay's when
// the server has one (Config.Relay), else the listener's.
func (s *Server[S]) Addr() string {
	if s.relay != nil {
		return s.relay.Addr()
	}
	return s.ln.Addr().String()
}

// ListenAddr returns the address the server itself listens on (behind
// its relay, when it has one).
func (s *Server[S]) ListenAddr() string { return s.ln.Addr().String() }

// Relay returns the server's segmenting relay, nil when it has none.
func (s *Server[S]) Relay() *segrelay.Relay { return s.relay }

// Close stops listening, drops every connection and waits for the server's
// goroutines (readers and Every tasks) to end. It is idempotent; later
// calls return the first result.
func (s *Server[S]) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.done)
		if s.relay != nil {
			_ = s.relay.Close()
		}
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = fmt.Errorf("%s: close listener: %w", s.cfg.Name, err)
		}
		s.DropConnections()
		s.wg.Wait()
		s.changed.Notify()
	})
	return s.closeErr
}

// DropConnections closes every open connection; the server keeps
// listening. It returns once the connections are closed, not necessarily
// once their readers have finished their bookkeeping.
func (s *Server[S]) DropConnections() {
	s.mu.Lock()
	list := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		list = append(list, c)
	}
	s.mu.Unlock()
	for _, c := range list {
		_ = c.nc.Close()
	}
	if len(list) > 0 {
		s.Logf("dropped %d connections", len(list))
	}
}

// Counts returns the number of connections accepted so far and the number
// open now.
func (s *Server[S]) Counts() (connections, active int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connections, s.active
}

// Sessions returns the sessions of the open connections for which keep
// returns true (all of them when keep is nil), in no particular order.
// keep runs with the server's lock held: it must not take a lock.
func (s *Server[S]) Sessions(keep func(S) bool) []S {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]S, 0, len(s.conns))
	for _, sess := range s.conns {
		if keep == nil || keep(sess) {
			out = append(out, sess)
		}
	}
	return out
}

// Remember adds sess to the history. Beyond HistorySize sessions it drops
// the oldest disconnected one, else the oldest.
func (s *Server[S]) Remember(sess S) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.history) >= HistorySize {
		drop := 0
		for i, h := range s.history {
			if !h.base().Connected() {
				drop = i
				break
			}
		}
		s.history = append(s.history[:drop], s.history[drop+1:]...)
	}
	s.history = append(s.history, sess)
}

// History returns the remembered sessions, oldest first.
func (s *Server[S]) History() []S {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]S(nil), s.history...)
}

// Snapshots returns the snapshot of each remembered session, oldest first
// (snapshot runs without the server's lock).
func Snapshots[S Session, T any](srv *Server[S], snapshot func(S) T) []T {
	list := srv.History()
	out := make([]T, len(list))
	for i, s := range list {
		out[i] = snapshot(s)
	}
	return out
}

// Notify wakes WaitFor callers: call it after every change of the state
// their conditions read. The server calls it for its own changes.
func (s *Server[S]) Notify() { s.changed.Notify() }

// Logf logs through Config.Logf, prefixed with Config.Name and ": ".
func (s *Server[S]) Logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(s.cfg.Name+": "+format, args...)
	}
}

// WaitFor blocks until cond holds on a fresh snapshot, or ctx ends. cond is
// re-evaluated after every Notify on srv, never on a timer. The error names
// the server and shows the last snapshot.
func WaitFor[S Session, T any](ctx context.Context, srv *Server[S], snapshot func() T, cond func(T) bool) error {
	if err := notify.WaitFor(ctx, &srv.changed, snapshot, cond); err != nil {
		return fmt.Errorf("%s: wait: %w (stats %+v)", srv.cfg.Name, err, snapshot())
	}
	return nil
}

func (s *Server[S]) acceptLoop(newSession func(*Conn) S) {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and similar: back off briefly.
			s.Logf("accept: %v", err)
			select {
			case <-s.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		c := &Conn{nc: nc, remote: nc.RemoteAddr().String()}
		c.connected.Store(true)
		sess := newSession(c)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.conns[c] = sess
		s.connections++
		s.active++
		s.wg.Add(1)
		s.mu.Unlock()
		s.changed.Notify()
		go s.serve(c, sess)
	}
}

// serve reads lines until the connection ends, then unregisters it.
func (s *Server[S]) serve(c *Conn, sess S) {
	defer s.wg.Done()
	defer s.forget(c)
	defer c.nc.Close()

	buf := make([]byte, 0, stratum.MaxLineSize+4096)
	for {
		n, err := c.nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		off := 0
		for {
			line, used, lerr := stratum.NextLine(buf[off:])
			if lerr != nil {
				s.Logf("%s: %v, closing", c.remote, lerr)
				return
			}
			if used == 0 {
				break
			}
			off += used
			if len(line) == 0 {
				continue
			}
			if herr := sess.HandleLine(line); herr != nil {
				if !errors.Is(herr, ErrHangUp) {
					s.Logf("%s: %v, closing", c.remote, herr)
				}
				return
			}
		}
		buf = buf[:copy(buf, buf[off:])]
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.Logf("%s: read: %v", c.remote, err)
			}
			return
		}
	}
}

// forget removes a finished connection. Called once by its reader.
func (s *Server[S]) forget(c *Conn) {
	s.mu.Lock()
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		s.active--
	}
	c.connected.Store(false)
	s.mu.Unlock()
	s.changed.Notify()
}
