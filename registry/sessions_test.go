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
