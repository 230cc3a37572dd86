// Package testutil holds the small helpers the packages' tests share.
// Nothing outside _test.go files imports it.
package testutil

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"forge.lthn.ai/core/go-proxy/internal/segrelay"
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

// RelayConfig is how the tests' segmenting relays cut the stream: every
// chunk cut at random places, in 1448-byte segments, coalesced with what
// follows, or byte by byte (segrelay.Mixed). The seed comes from
// GOPROXY_RELAY_SEED when set, otherwise it is random and logged when the
// test fails, so a failure can be replayed. GOPROXY_RELAY=off returns nil
// (no relay), to tell a framing problem from another one.
func RelayConfig(t testing.TB) *segrelay.Config {
	t.Helper()
	if os.Getenv("GOPROXY_RELAY") == "off" {
		return nil
	}
	// Pauses of up to 0.5 ms are enough for the reader to see each piece
	// as a read of its own on loopback, and keep tests with thousands of
	// round trips fast.
	cfg := &segrelay.Config{Mode: segrelay.Mixed, MaxPause: 500 * time.Microsecond}
	if s := os.Getenv("GOPROXY_RELAY_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("GOPROXY_RELAY_SEED: %v", err)
		}
		cfg.Seed = seed
	} else {
		cfg.Seed = rand.Uint64() | 1
	}
	seed := cfg.Seed
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("segmenting relays of this test used GOPROXY_RELAY_SEED=%d", seed)
		}
	})
	return cfg
}

// Relay puts a segmenting relay (RelayConfig) in front of target for the
// rest of the test and returns the address to dial instead. With
// GOPROXY_RELAY=off it returns target.
func Relay(t testing.TB, target string) string {
	t.Helper()
	cfg := RelayConfig(t)
	if cfg == nil {
		return target
	}
	r, err := segrelay.Start(target, *cfg)
	if err != nil {
		t.Fatalf("segmenting relay: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r.Addr()
}
