package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSessions(t *testing.T) { eachStore(t, testSessions) }

func testSessions(t *testing.T, open opener) {
	ctx := context.Background()
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	s := withPool(t, open, WithClock(func() time.Time { return now }))
	a, err := s.CreateAccount(ctx, testPool, "wallet-a", "pw")
	require.NoError(t, err)
	b, err := s.CreateAccount(ctx, testPool, "wallet-b", "pw")
	require.NoError(t, err)

	const sub = "deadbeef01"
	_, err = s.LookupSession(ctx, sub)
	requireKind(t, err, ErrNotFound)

	require.NoError(t, s.PutSession(ctx, sub, strings.ToUpper(a.Name), time.Minute))
	got, err := s.LookupSession(ctx, sub)
	require.NoError(t, err)
	require.Equal(t, a.Name, got, "the canonical (lowercase) name comes back")

	// Valid until ttl has passed by the store's clock.
	now = t0.Add(59 * time.Second)
	got, err = s.LookupSession(ctx, sub)
	require.NoError(t, err)
	require.Equal(t, a.Name, got)
	now = t0.Add(time.Minute)
	_, err = s.LookupSession(ctx, sub)
	requireKind(t, err, ErrNotFound)

	// Writing it again (the miner resumed) renews it and may move it to
	// another account.
	require.NoError(t, s.PutSession(ctx, sub, b.Name, 1500*time.Millisecond)) // rounded up to 2 s
	now = now.Add(time.Second)
	got, err = s.LookupSession(ctx, sub)
	require.NoError(t, err)
	require.Equal(t, b.Name, got)
	now = now.Add(time.Second)
	_, err = s.LookupSession(ctx, sub)
	requireKind(t, err, ErrNotFound)

	// Expired rows stay until swept.
	require.NoError(t, s.PutSession(ctx, "live", a.Name, time.Hour))
	n, err := s.ExpireSessions(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the expired one")
	n, err = s.ExpireSessions(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	requireKind(t, s.DeleteSession(ctx, sub), ErrNotFound)

	require.NoError(t, s.DeleteSession(ctx, "live"))
	_, err = s.LookupSession(ctx, "live")
	requireKind(t, err, ErrNotFound)
	requireKind(t, s.DeleteSession(ctx, "live"), ErrNotFound)
}

func TestSessionsFollowTheirAccount(t *testing.T) { eachStore(t, testSessionsFollowTheirAccount) }

func testSessionsFollowTheirAccount(t *testing.T, open opener) {
	ctx := context.Background()
	s := withPool(t, open)
	a, err := s.CreateAccount(ctx, testPool, "wallet", "pw")
	require.NoError(t, err)
	require.NoError(t, s.PutSession(ctx, "s1", a.Name, time.Hour))
	require.NoError(t, s.PutSession(ctx, "s2", a.Name, time.Hour))

	require.NoError(t, s.DeleteAccount(ctx, a.Name))
	for _, id := range []string{"s1", "s2"} {
		_, err := s.LookupSession(ctx, id)
		requireKind(t, err, ErrNotFound)
	}
	// An unknown or malformed account cannot get a session.
	err = s.PutSession(ctx, "s3", a.Name, time.Hour)
	requireKind(t, err, ErrNotFound)
	require.NotContains(t, err.Error(), a.Name)
	requireKind(t, s.PutSession(ctx, "s3", "not-an-account", time.Hour), ErrNotFound)
}

func TestSessionsRejectBadInput(t *testing.T) { eachStore(t, testSessionsRejectBadInput) }

func testSessionsRejectBadInput(t *testing.T, open opener) {
	ctx := context.Background()
	s := withPool(t, open)
	a, err := s.CreateAccount(ctx, testPool, "wallet", "pw")
	require.NoError(t, err)

	longest := strings.Repeat("~", MaxSessionIDLen)
	require.NoError(t, s.PutSession(ctx, longest, a.Name, time.Second))
	got, err := s.LookupSession(ctx, longest)
	require.NoError(t, err)
	require.Equal(t, a.Name, got)

	for _, id := range []string{"", " ", "a b", "ab\n", "\x00", "é", "x\x7f", strings.Repeat("a", MaxSessionIDLen+1), "' OR 1=1 --"} {
		requireField(t, s.PutSession(ctx, id, a.Name, time.Hour), "session")
		_, err := s.LookupSession(ctx, id)
		requireKind(t, err, ErrNotFound)
		requireKind(t, s.DeleteSession(ctx, id), ErrNotFound)
	}
	for _, ttl := range []time.Duration{0, -time.Hour, 999 * time.Millisecond} {
		requireField(t, s.PutSession(ctx, "ok", a.Name, ttl), "ttl")
	}
}

// A miner may be asked to reconnect once per window, whichever instance
// asks: the mark is in the session's row, by the store's clock.
func TestSessionsReconnectMarks(t *testing.T) { eachStore(t, testSessionsReconnectMarks) }

func testSessionsReconnectMarks(t *testing.T, open opener) {
	ctx := context.Background()
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	s := withPool(t, open, WithClock(func() time.Time { return now }))
	a, err := s.CreateAccount(ctx, testPool, "wallet", "pw")
	require.NoError(t, err)

	ok, err := s.MarkReconnect(ctx, "unknown", time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "no session: no reconnect (its resume could not find the account)")

	require.NoError(t, s.PutSession(ctx, "s1", a.Name, time.Hour))
	ok, err = s.MarkReconnect(ctx, "s1", 10*time.Minute)
	require.NoError(t, err)
	require.True(t, ok, "the first one")
	ok, err = s.MarkReconnect(ctx, "s1", 10*time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "a second one within the window")

	// Writing the session again (a resume) keeps the mark.
	require.NoError(t, s.PutSession(ctx, "s1", a.Name, time.Hour))
	now = t0.Add(10*time.Minute - time.Second)
	ok, err = s.MarkReconnect(ctx, "s1", 10*time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "still within the window after a rewrite")
	now = t0.Add(10 * time.Minute)
	ok, err = s.MarkReconnect(ctx, "s1", 10*time.Minute)
	require.NoError(t, err)
	require.True(t, ok, "the window has passed")

	// An expired session cannot be marked.
	require.NoError(t, s.PutSession(ctx, "s2", a.Name, time.Second))
	now = now.Add(time.Second)
	ok, err = s.MarkReconnect(ctx, "s2", time.Minute)
	require.NoError(t, err)
	require.False(t, ok)

	// Bad input.
	ok, err = s.MarkReconnect(ctx, "a b", time.Minute)
	require.NoError(t, err)
	require.False(t, ok)
	_, err = s.MarkReconnect(ctx, "s1", 999*time.Millisecond)
	requireField(t, err, "window")
}

// Many instances mark one session at once: exactly one gets it.
func TestSessionsReconnectMarkOnce(t *testing.T) { eachStore(t, testSessionsReconnectMarkOnce) }

func testSessionsReconnectMarkOnce(t *testing.T, open opener) {
	ctx := context.Background()
	s := withPool(t, open)
	a, err := s.CreateAccount(ctx, testPool, "wallet", "pw")
	require.NoError(t, err)
	require.NoError(t, s.PutSession(ctx, "s1", a.Name, time.Hour))
	const n = 8
	results := make(chan bool, n)
	for range n {
		go func() {
			ok, err := s.MarkReconnect(ctx, "s1", time.Hour)
			if err != nil {
				t.Error(err)
			}
			results <- ok
		}()
	}
	granted := 0
	for range n {
		if <-results {
			granted++
		}
	}
	require.Equal(t, 1, granted)
}

// PutSessions writes (or renews) many sessions in one call, skipping the
// ones it cannot keep.
func TestPutSessions(t *testing.T) { eachStore(t, testPutSessions) }

func testPutSessions(t *testing.T, open opener) {
	ctx := context.Background()
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	s := withPool(t, open, WithClock(func() time.Time { return now }))
	a, err := s.CreateAccount(ctx, testPool, "wallet-a", "pw")
	require.NoError(t, err)
	b, err := s.CreateAccount(ctx, testPool, "wallet-b", "pw")
	require.NoError(t, err)
	gone, err := s.CreateAccount(ctx, testPool, "wallet-c", "pw")
	require.NoError(t, err)
	require.NoError(t, s.DeleteAccount(ctx, gone.Name))

	require.NoError(t, s.PutSession(ctx, "old", a.Name, time.Minute))
	ok, err := s.MarkReconnect(ctx, "old", time.Hour)
	require.NoError(t, err)
	require.True(t, ok)

	n, err := s.PutSessions(ctx, []SessionEntry{
		{ID: "old", Account: a.Name},                  // renewed
		{ID: "new", Account: strings.ToUpper(b.Name)}, // written, canonical name
		{ID: "dup", Account: a.Name},
		{ID: "dup", Account: b.Name},        // the last one counts
		{ID: "orphan", Account: gone.Name},  // deleted account: skipped
		{ID: "bad id", Account: a.Name},     // malformed id: skipped
		{ID: "noacct", Account: "not-name"}, // malformed name: skipped
	}, 2*time.Hour)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	now = t0.Add(2*time.Hour - time.Second)
	for id, want := range map[string]string{"old": a.Name, "new": b.Name, "dup": b.Name} {
		got, err := s.LookupSession(ctx, id)
		require.NoError(t, err, id)
		require.Equal(t, want, got, id)
	}
	_, err = s.LookupSession(ctx, "orphan")
	requireKind(t, err, ErrNotFound)
	ok, err = s.MarkReconnect(ctx, "old", 3*time.Hour)
	require.NoError(t, err)
	require.False(t, ok, "the reconnect mark survives a renewal")
	now = t0.Add(2 * time.Hour)
	_, err = s.LookupSession(ctx, "new")
	requireKind(t, err, ErrNotFound)

	n, err = s.PutSessions(ctx, nil, time.Hour)
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = s.PutSessions(ctx, []SessionEntry{{ID: "x", Account: a.Name}}, 0)
	requireField(t, err, "ttl")
}
