package reactor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Miner listeners.
//
// go-proxy accepts miners itself, one goroutine per bind, and hands each
// plain-TCP connection to an event loop with EventLoop.Enroll (as pool
// connections are), instead of letting gnet accept them: gnet v2.10 ends
// the whole engine when accept(2) fails with EMFILE or ENFILE
// (acceptor_unix.go returns ErrAcceptSocket), and no budget can rule that
// out — the system can run out of files, and any part of the process can
// hold a descriptor too many. Here a failed accept is logged, backed off
// and retried while the loops keep serving. Admission — shutting down,
// proxy-protocol-from, the connection cap and descriptor budget, the
// per-IP rate limit — happens at accept, before a loop sees the
// connection. gnet keeps only an internal listener nobody can reach
// (innerListener).

// enrollBacklog and enrollReapers bound the accepted connections waiting
// for their loop to register them: enrollReapers goroutines wait for the
// loops' answers (so one busy loop does not hold up the others' answers),
// enrollBacklog more wait for a reaper, and a full backlog makes the
// accept loops wait. gnet dups each socket and closes the original once
// the loop has it, so each holds two descriptors until then: the budget
// reserves them (planDescriptors).
const (
	enrollBacklog = 8
	enrollReapers = 4
)

// Accept back-off after a failed accept: 5 ms, doubling up to 1 s.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// accepted is the gnet context of a miner connection on its way to a
// loop; OnOpen turns it into a miner.
type accepted struct {
	bind   *bindInfo
	addr   netip.AddrPort
	s      *shard
	opened atomic.Bool // OnOpen ran
}

// enrollment is an Enroll waiting for its loop's answer.
type enrollment struct {
	res <-chan gnet.RegisteredResult
	a   *accepted
}

// minerListenConfig is the ListenConfig of every miner bind, plain and
// TLS: SO_REUSEPORT, so several go-proxy processes can serve one port and
// the kernel spreads new connections between them; SO_SNDBUF from
// socket-send-buffer (accepted sockets inherit it); TCP keepalive after
// 60 s idle, a probe every 12 s, 5 probes. Go sets TCP_NODELAY on every
// accepted socket.
func minerListenConfig(sndbuf int) net.ListenConfig {
	return net.ListenConfig{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 60 * time.Second, Interval: 12 * time.Second, Count: 5},
		Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
				if serr == nil && sndbuf > 0 {
					serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, sndbuf)
				}
			})
			return errors.Join(err, serr)
		},
	}
}

// listenMiners binds every miner endpoint before the event loops start,
// so a port that cannot be bound fails Start at once.
func (p *Proxy) listenMiners(cfg *Config) error {
	lc := minerListenConfig(cfg.SocketSendBuffer)
	for _, b := range p.binds {
		ln, err := lc.Listen(context.Background(), "tcp", b.cfg.Address())
		if err != nil {
			p.closeListeners()
			kind := ""
			if b.tls {
				kind = " (tls)"
			}
			return fmt.Errorf("reactor: listen %s%s: %w", b.cfg.Address(), kind, err)
		}
		b.ln = ln
	}
	return nil
}

// serveMiners starts accepting, once the loops are known.
func (p *Proxy) serveMiners() {
	p.wg.Add(enrollReapers + len(p.binds))
	for range enrollReapers {
		go p.reapEnrolls()
	}
	for _, b := range p.binds {
		go p.acceptLoop(b)
	}
}

// closeListeners stops accepting miners. Safe to call more than once.
func (p *Proxy) closeListeners() {
	for _, b := range p.binds {
		if b.ln != nil {
			_ = b.ln.Close()
		}
	}
}

// acceptLoop accepts the miners of one bind until its listener closes. A
// failed accept never ends it (see acceptFailed).
func (p *Proxy) acceptLoop(b *bindInfo) {
	defer p.wg.Done()
	var backoff time.Duration
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			if p.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = p.acceptFailed(b, err, backoff)
			continue
		}
		backoff = 0
		if b.tls {
			go p.serveTLS(nc, b)
		} else {
			p.enrollMiner(nc.(*net.TCPConn), b)
		}
	}
}

// acceptFailed logs a failed accept (at most once a minute) and waits
// before the next one: 5 ms, doubling up to 1 s while failures go on. Out
// of descriptors (EMFILE, ENFILE) the connection stays in the listen
// backlog until one is free; the miners already connected are served
// meanwhile. It returns the wait used.
func (p *Proxy) acceptFailed(b *bindInfo, err error, backoff time.Duration) time.Duration {
	backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
	p.warnLimited("accept failed; backing off and retrying", "bind", b.cfg.Address(), "err", err, "retry_in", backoff.String())
	t := time.NewTimer(backoff)
	select {
	case <-t.C:
	case <-p.quit:
		t.Stop()
	}
	return backoff
}

// enrollMiner admits one plain-TCP connection and hands it to the least
// loaded event loop. A refused connection is closed at once.
func (p *Proxy) enrollMiner(tc *net.TCPConn, b *bindInfo) {
	var addr netip.AddrPort
	if ta, ok := tc.RemoteAddr().(*net.TCPAddr); ok {
		addr = ta.AddrPort()
	}
	if b.proxyProtocol && !p.trustedProxy(addr.Addr()) {
		_ = tc.Close()
		return
	}
	if !p.admit(addr.Addr(), !b.proxyProtocol) {
		_ = tc.Close()
		return
	}
	s := p.pickShard()
	if s == nil { // no loop yet: cannot happen once Start returned
		p.conns.Add(-1)
		p.refused.Add(1)
		_ = tc.Close()
		return
	}
	a := &accepted{bind: b, addr: addr, s: s}
	res, err := s.el.Enroll(gnet.NewContext(context.Background(), a), tc)
	if err != nil {
		p.unadmit(a)
		_ = tc.Close()
		return
	}
	select {
	case p.enrolls <- enrollment{res: res, a: a}:
	case <-p.done:
	}
}

// reapEnrolls waits for the loops' answers to Enroll and gives back the
// admission of every connection that never reached OnOpen (gnet could not
// dup or register it): otherwise it would hold a place under the cap for
// ever.
func (p *Proxy) reapEnrolls() {
	defer p.wg.Done()
	for {
		var e enrollment
		select {
		case e = <-p.enrolls:
		case <-p.done:
			return
		}
		var r gnet.RegisteredResult
		select {
		case r = <-e.res:
		case <-p.done:
			return
		}
		if r.Err == nil && e.a.opened.Load() {
			continue
		}
		p.unadmit(e.a)
		if !p.stopping.Load() {
			p.warnLimited("a miner connection could not be handed to its event loop; closed", "err", r.Err)
		}
	}
}

// unadmit undoes admit for a connection that never became a miner.
func (p *Proxy) unadmit(a *accepted) {
	p.conns.Add(-1)
	a.s.load.Add(-1)
	p.refused.Add(1)
}

// pickShard returns the shard with the fewest miners (counting those on
// their way to it) and counts one more there; nil before the loops are
// known. Safe from any goroutine.
func (p *Proxy) pickShard() *shard {
	var best *shard
	for _, s := range p.shardList() {
		if best == nil || s.load.Load() < best.load.Load() {
			best = s
		}
	}
	if best != nil {
		best.load.Add(1)
	}
	return best
}

// innerListener is the listener gnet requires although no miner uses it:
// a Unix socket in a private temporary directory, whose path is removed
// once the loops are up (unlink), so nothing can ever connect to it — an
// accept there could still meet gnet's EMFILE hazard. cleanup removes the
// directory once the engine has stopped. Without a usable temporary
// directory it falls back to a loopback TCP port.
type innerListener struct {
	addr string
	dir  string
}

func newInnerListener() (*innerListener, error) {
	dir, err := os.MkdirTemp("", "go-proxy-")
	if err == nil {
		sock := filepath.Join(dir, "loops.sock")
		if len(sock) < 100 { // sun_path holds 108 bytes
			return &innerListener{addr: "unix://" + sock, dir: dir}, nil
		}
		_ = os.Remove(dir)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return &innerListener{addr: "tcp://127.0.0.1:" + strconv.Itoa(port)}, nil
}

// unlink removes the socket's path: the bound listeners stay, unreachable.
func (l *innerListener) unlink() {
	if l.dir != "" {
		_ = os.Remove(filepath.Join(l.dir, "loops.sock"))
	}
}

// cleanup removes the private directory.
func (l *innerListener) cleanup() {
	if l.dir != "" {
		_ = os.RemoveAll(l.dir)
	}
}
