// Package segrelay is a TCP relay that re-cuts a byte stream the way real
// networks deliver it: lines split at random bytes, sent byte by byte, cut
// into 1448-byte segments (an internet MSS) with small pauses between
// them, or many lines coalesced into one segment. Tests put it between
// miners and the proxy and between the proxy and its pools, so no code
// path can rely on a line arriving in one read (loopback almost always
// delivers one write as one read).
//
// A Relay is safe for concurrent use. Its pauses are simulated network
// latency (at most a few milliseconds per chunk), not waits for a result.
package segrelay

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is how a relay cuts the stream.
type Mode uint8

const (
	// Mixed picks one of the other modes at random for every chunk read
	// (the default): most chunks are cut inside lines, some are sent as
	// 1448-byte segments, some are coalesced with what follows, some go
	// out byte by byte at first.
	Mixed Mode = iota
	// Random cuts every chunk at 1–4 random places with a pause of up to
	// MaxPause after each piece.
	Random
	// ByteByByte sends every byte as its own write, with a pause of up to
	// MaxPause between them.
	ByteByByte
	// Segments sends 1448-byte segments with a pause of up to MaxPause
	// between them, as a pool on the internet delivers a long line.
	Segments
	// Coalesce keeps reading for up to MaxPause after a chunk arrives and
	// sends everything gathered as one write: many lines in one segment.
	Coalesce
	// Pass relays chunks as they are read (no re-cutting).
	Pass
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case Mixed:
		return "mixed"
	case Random:
		return "random"
	case ByteByByte:
		return "byte-by-byte"
	case Segments:
		return "segments"
	case Coalesce:
		return "coalesce"
	case Pass:
		return "pass"
	}
	return "unknown"
}

// ParseMode parses a mode name as String writes it.
func ParseMode(s string) (Mode, error) {
	for m := Mixed; m <= Pass; m++ {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, errors.New("segrelay: unknown mode " + s + " (mixed, random, byte-by-byte, segments, coalesce, pass)")
}

// MSS is the segment size of Segments mode: a 1500-byte Ethernet MTU less
// IPv4, TCP and timestamp option headers.
const MSS = 1448

// Config says how a relay cuts and where it forwards.
type Config struct {
	// Mode is the cutting strategy (default Mixed).
	Mode Mode
	// Seed makes the cuts reproducible (0: a random seed; see Relay.Seed).
	Seed uint64
	// MaxPause bounds each pause between pieces (default 2 ms); a pause
	// is at least a quarter of it. Byte by byte sends pause at most
	// MaxPause/8 per byte.
	MaxPause time.Duration
	// ByteByByteMax bounds how many bytes of a chunk Mixed mode sends byte
	// by byte before sending the rest at once (default 48).
	ByteByByteMax int
}

// Relay accepts connections on a loopback port and forwards each to its
// target, re-cutting both directions.
type Relay struct {
	cfg    Config
	target string
	ln     net.Listener
	seed   uint64
	seq    atomic.Uint64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted atomic.Int64
	pieces   atomic.Int64
}

// Start listens on 127.0.0.1 and relays every connection to target.
func Start(target string, cfg Config) (*Relay, error) {
	if cfg.MaxPause <= 0 {
		cfg.MaxPause = 2 * time.Millisecond
	}
	if cfg.ByteByByteMax <= 0 {
		cfg.ByteByByteMax = 48
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64() | 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Relay{cfg: cfg, target: target, ln: ln, seed: seed, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// Addr is the address clients connect to instead of the target.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Target is the address the relay forwards to.
func (r *Relay) Target() string { return r.target }

// Seed is the seed the cuts derive from (give it to Config.Seed to replay).
func (r *Relay) Seed() uint64 { return r.seed }

// Mode is the relay's cutting strategy.
func (r *Relay) Mode() Mode { return r.cfg.Mode }

// Accepted counts the connections relayed so far.
func (r *Relay) Accepted() int64 { return r.accepted.Load() }

// Pieces counts the writes the relay made (more pieces than chunks read
// means lines really were cut).
func (r *Relay) Pieces() int64 { return r.pieces.Load() }

// Close stops accepting, closes every relayed connection and waits for
// the relay's goroutines.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	err := r.ln.Close()
	r.wg.Wait()
	return err
}

func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		_ = c.Close()
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	_ = c.Close()
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.accepted.Add(1)
		r.wg.Add(1)
		go r.serve(c)
	}
}

// serve dials the target for one client and pumps both directions. When
// one side ends, the other is told (half-close); an error on either side
// closes both.
func (r *Relay) serve(client net.Conn) {
	defer r.wg.Done()
	if !r.track(client) {
		return
	}
	defer r.untrack(client)
	server, err := net.DialTimeout("tcp", r.target, 10*time.Second)
	if err != nil {
		abort(client)
		return
	}
	if !r.track(server) {
		return
	}
	defer r.untrack(server)
	n := r.seq.Add(2)
	var done sync.WaitGroup
	done.Add(2)
	go func() { defer done.Done(); r.pump(server, client, n) }()
	go func() { defer done.Done(); r.pump(client, server, n+1) }()
	done.Wait()
}

// pump copies src to dst, re-cutting every chunk. At EOF it half-closes
// dst (bytes already sent still arrive); on an error it resets both.
func (r *Relay) pump(dst, src net.Conn, stream uint64) {
	rng := rand.New(rand.NewPCG(r.seed, stream))
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			mode := r.cfg.Mode
			if mode == Mixed {
				mode = pickMode(rng)
			}
			if mode == Coalesce {
				chunk, err = r.gather(src, buf, n, err)
			}
			if werr := r.send(dst, chunk, mode, rng); werr != nil {
				abort(src)
				abort(dst)
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
					return
				}
			}
			abort(dst)
			abort(src)
			return
		}
	}
}

// pickMode is Mixed's choice for one chunk.
func pickMode(rng *rand.Rand) Mode {
	switch x := rng.IntN(100); {
	case x < 45:
		return Random
	case x < 60:
		return Segments
	case x < 80:
		return Coalesce
	case x < 90:
		return ByteByByte
	default:
		return Pass
	}
}

// gather keeps reading into buf after the first n bytes for up to
// MaxPause, so that what follows is sent with them as one write.
func (r *Relay) gather(src net.Conn, buf []byte, n int, err error) ([]byte, error) {
	if err != nil {
		return buf[:n], err
	}
	deadline := time.Now().Add(r.cfg.MaxPause)
	for n < len(buf) && time.Now().Before(deadline) {
		_ = src.SetReadDeadline(deadline)
		var k int
		k, err = src.Read(buf[n:])
		n += k
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				err = nil
			}
			break
		}
	}
	_ = src.SetReadDeadline(time.Time{})
	return buf[:n], err
}

// send writes chunk to dst in pieces according to mode.
func (r *Relay) send(dst net.Conn, chunk []byte, mode Mode, rng *rand.Rand) error {
	// A pause is at least a quarter of its bound: a gap of nothing would
	// let the receiver read the pieces as one.
	pause := func(max time.Duration) {
		if max > 0 {
			time.Sleep(max/4 + time.Duration(rng.Int64N(int64(max-max/4)+1)))
		}
	}
	write := func(p []byte) error {
		r.pieces.Add(1)
		_, err := dst.Write(p)
		return err
	}
	switch mode {
	case ByteByByte:
		limit := len(chunk)
		if r.cfg.Mode == Mixed {
			limit = min(limit, r.cfg.ByteByByteMax)
		}
		for i := 0; i < limit; i++ {
			if err := write(chunk[i : i+1]); err != nil {
				return err
			}
			pause(r.cfg.MaxPause / 8)
		}
		if limit < len(chunk) {
			return write(chunk[limit:])
		}
		return nil
	case Segments:
		for len(chunk) > 0 {
			k := min(MSS, len(chunk))
			if err := write(chunk[:k]); err != nil {
				return err
			}
			chunk = chunk[k:]
			if len(chunk) > 0 {
				pause(r.cfg.MaxPause)
			}
		}
		return nil
	case Random:
		cuts := 1 + rng.IntN(4)
		for i := 0; i < cuts && len(chunk) > 1; i++ {
			k := 1 + rng.IntN(len(chunk)-1)
			if err := write(chunk[:k]); err != nil {
				return err
			}
			chunk = chunk[k:]
			pause(r.cfg.MaxPause)
		}
		return write(chunk)
	default: // Pass, Coalesce (already gathered)
		return write(chunk)
	}
}

// abort closes c with a reset when it is TCP (SO_LINGER 0), so the peer
// sees the connection fail rather than end cleanly.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
