package upstream

import "time"

// Failover decides which pool to connect to next and when. Pools are tried
// in configuration order: each gets Retries attempts with RetryPause
// between them, then the next pool is tried at once; after the last pool a
// new round starts at the primary after RetryPause. A connection that
// reaches the active state and later drops is retried from the primary.
//
// It is pure state: the caller dials and reports back. Not safe for
// concurrent use.
type Failover struct {
	pools   int // number of enabled pools
	retries int
	pause   time.Duration
	current int // pool being tried
	attempt int // attempts made on current in this round
}

// NewFailover returns the strategy for n enabled pools. retries < 1 means 1.
func NewFailover(n, retries int, pause time.Duration) *Failover {
	if retries < 1 {
		retries = 1
	}
	return &Failover{pools: n, retries: retries, pause: pause}
}

// Next returns the pool index to dial now. It must be followed by exactly
// one call to Failed or Active.
func (f *Failover) Next() int { return f.current }

// Failed records that the attempt on the current pool failed (connect
// error, login refused, timeout, pin mismatch, dropped before becoming
// active) and returns the pool to try next and how long to wait first.
func (f *Failover) Failed() (pool int, wait time.Duration) {
	f.attempt++
	if f.attempt < f.retries {
		return f.current, f.pause
	}
	f.attempt = 0
	f.current++
	if f.current >= f.pools {
		f.current = 0
		return 0, f.pause
	}
	return f.current, 0
}

// Active records that the current pool accepted the login and sent work.
func (f *Failover) Active() { f.attempt = 0 }

// MinStableSession is how long a pool connection must have been logged in
// for its loss to be redialled at once; a pool that accepts the login and
// then drops the connection sooner (a ban, an overloaded pool, a load
// balancer with no backend) is redialled after the retry pause, so
// hundreds of sessions do not reconnect in a tight loop.
const MinStableSession = 10 * time.Second

// Dropped records that an active connection was lost after being logged
// in for upFor, and returns the pool to reconnect to (the primary) and how
// long to wait first: nothing after a stable session, the retry pause
// after one shorter than MinStableSession.
func (f *Failover) Dropped(upFor time.Duration) (pool int, wait time.Duration) {
	f.current, f.attempt = 0, 0
	if upFor < MinStableSession {
		return 0, f.pause
	}
	return 0, 0
}

// Current returns the pool index in use or being tried.
func (f *Failover) Current() int { return f.current }

// Reset points the strategy at a new pool list of n pools, primary first.
func (f *Failover) Reset(n int) {
	f.pools, f.current, f.attempt = n, 0, 0
}

// Abandon gives up on the current pool at once (its certificate did not
// match the pin: retrying cannot help) and returns the next one to try.
func (f *Failover) Abandon() (pool int, wait time.Duration) {
	f.attempt = f.retries - 1
	return f.Failed()
}
