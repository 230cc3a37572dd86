package httpapi

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultRegisterPerMinute is the per-client limit of POST /api/v1/users
// when http.register-per-minute is not set.
const DefaultRegisterPerMinute = 10

// Bounds of the registration rate limiter's memory.
const (
	// maxLimitedClients caps the clients tracked at once. When every slot
	// holds a client seen within the last minute, a new client is refused
	// (429) until slots free up: the table never grows past the cap.
	maxLimitedClients = 1 << 16
	// limiterSweepEvery is how often idle clients are forgotten.
	limiterSweepEvery = 10 * time.Second
)

// ipLimiter is a token bucket per client: perMinute tokens, refilled
// evenly over a minute, so a client may register perMinute accounts at
// once and then one every 60/perMinute seconds. A client is an IPv4
// address or an IPv6 /64 (one subscriber's allocation, so rotating
// addresses inside it gains nothing). Clients idle long enough for a full
// bucket are forgotten, and at most maxLimitedClients are tracked. Safe
// for concurrent use.
type ipLimiter struct {
	now func() time.Time // tests replace it before first use

	mu        sync.Mutex
	buckets   map[netip.Prefix]*tokenBucket
	lastSweep time.Time
}

// tokenBucket is one client's allowance at time last.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

func newIPLimiter() *ipLimiter {
	return &ipLimiter{now: time.Now, buckets: make(map[netip.Prefix]*tokenBucket)}
}

// allow takes one token from the client's bucket and reports whether
// there was one. perMinute < 1 means DefaultRegisterPerMinute.
func (l *ipLimiter) allow(client netip.Prefix, perMinute int) bool {
	if perMinute < 1 {
		perMinute = DefaultRegisterPerMinute
	}
	capacity := float64(perMinute)
	refill := time.Minute / time.Duration(perMinute) // time per token
	now := l.now()

	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= limiterSweepEvery {
		l.sweep(now)
	}
	b := l.buckets[client]
	if b == nil {
		if len(l.buckets) >= maxLimitedClients {
			return false // full of active clients: fail closed
		}
		b = &tokenBucket{tokens: capacity, last: now}
		l.buckets[client] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens += float64(elapsed) / float64(refill)
		b.last = now
	}
	b.tokens = min(b.tokens, capacity)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets the clients idle for a minute or more: their buckets are
// full again, so forgetting them changes no answer. Called with mu held.
func (l *ipLimiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if now.Sub(b.last) >= time.Minute {
			delete(l.buckets, k)
		}
	}
}

// tracked returns how many clients the limiter remembers (tests).
func (l *ipLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// clientKey is the rate-limit key of a request's socket peer
// (http.Request.RemoteAddr): the IPv4 address, or the /64 of an IPv6 one.
// Headers such as X-Forwarded-For are ignored: a client could forge them.
// An unparsable address (a Unix socket) maps to the zero Prefix, one
// shared bucket.
func clientKey(remoteAddr string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remoteAddr)
	var ip netip.Addr
	if err == nil {
		ip = ap.Addr()
	} else if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		ip, _ = netip.ParseAddr(host)
	} else {
		ip, _ = netip.ParseAddr(remoteAddr)
	}
	if !ip.IsValid() {
		return netip.Prefix{}
	}
	ip = ip.Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}
