// Package notify wakes goroutines that wait for a condition on some shared
// state, without polling: the owner of the state calls Notify after each
// change and waiters re-evaluate their condition on a fresh snapshot.
package notify

import (
	"context"
	"sync"
)

// Cond is a broadcast "something changed" signal. The zero value is ready to
// use. It is safe for concurrent use; it must not be copied after first use.
type Cond struct {
	mu sync.Mutex
	ch chan struct{}
}

// Changed returns a channel that is closed at the next Notify. Take it
// before reading the state a condition depends on, so that no change
// between the read and the wait is missed.
func (c *Cond) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// Notify wakes every goroutine waiting on a channel from Changed. It costs a
// mutex round trip when nobody waits.
func (c *Cond) Notify() {
	c.mu.Lock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
	c.mu.Unlock()
}

// WaitFor blocks until cond holds on a snapshot taken by snapshot, or ctx
// ends (its error is returned). The condition is re-evaluated on a fresh
// snapshot after every Notify on c.
func WaitFor[S any](ctx context.Context, c *Cond, snapshot func() S, cond func(S) bool) error {
	for {
		changed := c.Changed()
		if cond(snapshot()) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
