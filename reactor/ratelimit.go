package reactor

import (
	"net/netip"
	"sync"
	"time"
)

// Verdict is a rate limiter's answer.
type Verdict uint8

// Verdicts.
const (
	Allowed Verdict = iota
	Limited         // the IP's bucket is empty
	Banned          // the IP is serving a ban
)

// RateLimiter limits new connections per IP with a token bucket of
// MaxConnectionsPerMinute tokens refilled evenly over a minute. An IP that
// finds its bucket empty is refused and, when BanDuration is set, banned
// for that many seconds. It tracks at most maxTracked IPs (beyond that,
// new IPs are allowed untracked rather than letting a flood of addresses
// grow memory). Safe for concurrent use.
type RateLimiter struct {
	mu      sync.Mutex
	cfg     RateLimit
	buckets map[netip.Addr]*bucket
	now     func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
	banned time.Time // zero when not banned
}

const maxTracked = 1 << 16

// NewRateLimiter returns a limiter; a zero MaxConnectionsPerMinute allows
// everything.
func NewRateLimiter(cfg RateLimit) *RateLimiter {
	return &RateLimiter{cfg: cfg, buckets: map[netip.Addr]*bucket{}, now: time.Now}
}

// SetConfig changes the limits (hot reload); existing buckets are kept.
func (r *RateLimiter) SetConfig(cfg RateLimit) {
	r.mu.Lock()
	r.cfg = cfg
	if cfg.MaxConnectionsPerMinute == 0 {
		clear(r.buckets)
	}
	r.mu.Unlock()
}

// Allow decides on one connection attempt from ip.
func (r *RateLimiter) Allow(ip netip.Addr) Verdict {
	r.mu.Lock()
	defer r.mu.Unlock()
	limit := r.cfg.MaxConnectionsPerMinute
	if limit <= 0 || !ip.IsValid() {
		return Allowed
	}
	ip = ip.Unmap()
	now := r.now()
	b := r.buckets[ip]
	if b == nil {
		if len(r.buckets) >= maxTracked {
			return Allowed
		}
		b = &bucket{tokens: float64(limit), last: now}
		r.buckets[ip] = b
	}
	if !b.banned.IsZero() {
		if now.Before(b.banned) {
			return Banned
		}
		b.banned = time.Time{}
		b.tokens, b.last = float64(limit), now
	}
	b.tokens = min(float64(limit), b.tokens+now.Sub(b.last).Minutes()*float64(limit))
	b.last = now
	if b.tokens < 1 {
		if r.cfg.BanDuration > 0 {
			b.banned = now.Add(time.Duration(r.cfg.BanDuration) * time.Second)
			return Banned
		}
		return Limited
	}
	b.tokens--
	return Allowed
}

// Tick forgets IPs whose bucket is full again and whose ban is over, so
// the table holds only recent offenders.
func (r *RateLimiter) Tick(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	limit := float64(r.cfg.MaxConnectionsPerMinute)
	for ip, b := range r.buckets {
		if !b.banned.IsZero() && now.Before(b.banned) {
			continue
		}
		if b.tokens+now.Sub(b.last).Minutes()*limit >= limit {
			delete(r.buckets, ip)
		}
	}
}

// Tracked returns the number of IPs being tracked.
func (r *RateLimiter) Tracked() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buckets)
}
