package registry

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTouch(t *testing.T) { eachStore(t, testTouch) }

func testTouch(t *testing.T, open opener) {
	ctx := context.Background()
	s := withPool(t, open)
	acc, err := s.CreateAccount(ctx, testPool, "wallet", "pw")
	require.NoError(t, err)
	require.True(t, acc.LastSeen.IsZero(), "never seen yet")

	t1 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	require.NoError(t, s.Touch(ctx, acc.Name, t1))
	got, err := s.Account(ctx, acc.Name)
	require.NoError(t, err)
	require.Equal(t, t1, got.LastSeen)

	// An older report (a disconnect processed late) does not move it back.
	require.NoError(t, s.Touch(ctx, acc.Name, t1.Add(-time.Hour)))
	got, err = s.Account(ctx, acc.Name)
	require.NoError(t, err)
	require.Equal(t, t1, got.LastSeen)

	require.NoError(t, s.Touch(ctx, acc.Name, t1.Add(time.Hour)))
	got, err = s.Account(ctx, acc.Name)
	require.NoError(t, err)
	require.Equal(t, t1.Add(time.Hour), got.LastSeen)

	requireField(t, s.Touch(ctx, acc.Name, time.Time{}), "time")
	require.NoError(t, s.DeleteAccount(ctx, acc.Name))
	requireKind(t, s.Touch(ctx, acc.Name, t1), ErrNotFound)
}

func TestExpireAccountsWithClock(t *testing.T) { eachStore(t, testExpireAccountsWithClock) }

func testExpireAccountsWithClock(t *testing.T, open opener) {
	ctx := context.Background()
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	s := withPool(t, open, WithClock(func() time.Time { return now }))
	const idle = 24 * time.Hour

	never, err := s.CreateAccount(ctx, testPool, "never-seen", "pw")
	require.NoError(t, err)
	seen, err := s.CreateAccount(ctx, testPool, "seen", "pw")
	require.NoError(t, err)
	require.NoError(t, s.Touch(ctx, seen.Name, t0.Add(10*time.Hour)))

	expire := func(at time.Time) int {
		now = at
		n, err := s.ExpireAccounts(ctx, idle)
		require.NoError(t, err)
		return n
	}
	require.Zero(t, expire(t0.Add(idle)), "exactly idle is not older than idle")
	require.Equal(t, 1, expire(t0.Add(idle+time.Second)), "never-seen account expires by created_at")
	_, err = s.Account(ctx, never.Name)
	requireKind(t, err, ErrNotFound)
	_, err = s.Account(ctx, seen.Name)
	require.NoError(t, err, "touched account is judged by last_seen")

	require.Zero(t, expire(t0.Add(10*time.Hour+idle)))
	require.Equal(t, 1, expire(t0.Add(10*time.Hour+idle+time.Second)))
	n, err := s.CountAccounts(ctx)
	require.NoError(t, err)
	require.Zero(t, n)

	_, err = s.ExpireAccounts(ctx, 0)
	requireField(t, err, "idle")
}

// TestRunExpiry drives the expiry loop with a fake clock: the store is opened
// and closed inside the synctest bubble, time.Sleep only advances that clock,
// and synctest.Wait returns once the loop has finished each sweep.
func TestRunExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := Open(filepath.Join(t.TempDir(), "registry.db"))
		require.NoError(t, err)
		defer func() { require.NoError(t, s.Close()) }()
		require.NoError(t, s.AddPool(ctx, Pool{Address: testPool, Family: FamilySV1, Algorithm: "sha256d"}))

		count := func() int {
			n, err := s.CountAccounts(ctx)
			require.NoError(t, err)
			return n
		}
		start := time.Now()
		_, err = s.CreateAccount(ctx, testPool, "never-seen", "pw")
		require.NoError(t, err)
		seen, err := s.CreateAccount(ctx, testPool, "seen", "pw")
		require.NoError(t, err)

		errs := make(chan error, 10)
		done := make(chan struct{})
		go func() {
			defer close(done)
			RunExpiry(ctx, s, time.Hour, 24*time.Hour, func(err error) { errs <- err })
		}()

		advance := func(d time.Duration) {
			time.Sleep(d)
			synctest.Wait() // the sweep due at this instant has run
		}
		advance(12 * time.Hour)
		require.NoError(t, s.Touch(ctx, seen.Name, time.Now()))

		advance(12 * time.Hour) // t = 24h: cutoff = start, nothing is older
		require.Equal(t, 24*time.Hour, time.Since(start))
		require.Equal(t, 2, count())
		advance(time.Hour) // t = 25h: the never-seen account goes
		require.Equal(t, 1, count())
		advance(11 * time.Hour) // t = 36h: cutoff = 12h = last_seen, kept
		require.Equal(t, 1, count())
		advance(time.Hour) // t = 37h
		require.Zero(t, count())

		cancel()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("RunExpiry did not return after cancel")
		}
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	})
}

func TestRunExpiryReportsErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := Open(filepath.Join(t.TempDir(), "registry.db"))
		require.NoError(t, err)
		require.NoError(t, s.Close()) // every sweep now fails

		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 10)
		done := make(chan struct{})
		go func() {
			defer close(done)
			RunExpiry(ctx, s, time.Minute, time.Hour, func(err error) { errs <- err })
		}()
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		cancel()
		<-done
		close(errs)
		var got []error
		for err := range errs {
			got = append(got, err)
		}
		require.Len(t, got, 2, "one report per sweep")
		for _, err := range got {
			require.Contains(t, err.Error(), "registry: expire accounts")
		}
	})
}

func TestRunExpiryRejectsBadIntervals(t *testing.T) {
	s, _ := openTemp(t)
	for _, tc := range []struct {
		every, idle time.Duration
		field       string
	}{
		{0, time.Hour, "every"},
		{-time.Second, time.Hour, "every"},
		{time.Hour, 0, "idle"},
	} {
		var got error
		RunExpiry(context.Background(), s, tc.every, tc.idle, func(err error) { got = errors.Join(got, err) })
		requireField(t, got, tc.field)
	}
	// A nil onErr is allowed and RunExpiry still returns at once.
	RunExpiry(context.Background(), s, 0, 0, nil)
}

// ExpireUnusedAccounts marks the accounts of connected miners as seen now
// (the store's clock) and deletes the idle ones in one go; unknown and
// malformed names are skipped, case does not matter.
func TestExpireUnusedAccounts(t *testing.T) { eachStore(t, testExpireUnusedAccounts) }

func testExpireUnusedAccounts(t *testing.T, open opener) {
	ctx := context.Background()
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	s := withPool(t, open, WithClock(func() time.Time { return now }))
	live, err := s.CreateAccount(ctx, testPool, "live", "pw")
	require.NoError(t, err)
	idle, err := s.CreateAccount(ctx, testPool, "idle", "pw")
	require.NoError(t, err)
	gone, err := s.CreateAccount(ctx, testPool, "gone", "pw")
	require.NoError(t, err)
	require.NoError(t, s.DeleteAccount(ctx, gone.Name))

	now = t0.Add(72 * time.Hour)
	n, err := s.ExpireUnusedAccounts(ctx, 48*time.Hour, []string{strings.ToUpper(live.Name), live.Name, gone.Name, "not-a-name", ""})
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the idle account")
	_, err = s.Account(ctx, idle.Name)
	requireKind(t, err, ErrNotFound)
	got, err := s.Account(ctx, live.Name)
	require.NoError(t, err)
	require.Equal(t, now, got.LastSeen)

	// Without inUse it is ExpireAccounts.
	now = t0.Add(200 * time.Hour)
	n, err = s.ExpireUnusedAccounts(ctx, 48*time.Hour, nil)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	_, err = s.ExpireUnusedAccounts(ctx, 0, nil)
	requireField(t, err, "idle")
}
