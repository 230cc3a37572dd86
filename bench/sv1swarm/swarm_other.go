//go:build !linux

package sv1swarm

import (
	"context"
	"errors"
)

// Swarm is a running set of simulated miners. The epoll implementation is
// Linux only; on this platform Start always fails.
type Swarm struct{}

// errUnsupported is returned by Start off Linux.
var errUnsupported = errors.New("sv1swarm: requires linux (epoll)")

// Start fails: the swarm needs Linux.
func Start(ctx context.Context, cfg Config) (*Swarm, error) { return nil, errUnsupported }

// Close does nothing.
func (s *Swarm) Close() error { return nil }

// Stats returns an empty snapshot.
func (s *Swarm) Stats() Stats { return Stats{} }

// WaitFor fails at once.
func (s *Swarm) WaitFor(ctx context.Context, cond func(Stats) bool) error { return errUnsupported }
