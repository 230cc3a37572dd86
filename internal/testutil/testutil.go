// Package testutil holds the small helpers the packages' tests share.
// Nothing outside _test.go files imports it.
package testutil

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// WaitTimeout bounds every wait in Eventually.
const WaitTimeout = 10 * time.Second

// Eventually polls cond every 20 ms until it holds, failing the test after
// WaitTimeout with msg. Use it only for state that has no change signal to
// wait on (statistics published once a second, files written by
// background goroutines); tests never sleep for a fixed time instead.
func Eventually(t testing.TB, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting: " + msg)
		}
		<-tick.C
	}
}

// SyncBuffer is a log destination safe for concurrent writers (a slog
// handler written to from event loops and goroutines at once).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
