package registry

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var namePattern = regexp.MustCompile(`^[a-z2-7]{26}$`)

func TestAccountLifecycle(t *testing.T) { eachStore(t, testAccountLifecycle) }

func testAccountLifecycle(t *testing.T, open opener) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := open(t, WithClock(func() time.Time { return now }))
	require.NoError(t, s.AddPool(ctx, Pool{Address: "Pool.Example.COM:03333", Family: FamilySV1, Algorithm: "scrypt"}))

	acc, err := s.CreateAccount(ctx, "POOL.example.com:3333", "wallet.rig1", "s3cret-pw")
	require.NoError(t, err)
	require.Regexp(t, namePattern, acc.Name)
	require.Equal(t, Account{
		Name:      acc.Name,
		Pool:      "pool.example.com:3333",
		User:      "wallet.rig1",
		Algorithm: "scrypt",
		Divider:   65536,
		Family:    FamilySV1,
		CreatedAt: now,
	}, acc)

	got, err := s.Account(ctx, acc.Name)
	require.NoError(t, err)
	require.Equal(t, acc, got)
	got, err = s.Account(ctx, strings.ToUpper(acc.Name))
	require.NoError(t, err, "names are case-insensitive")
	require.Equal(t, acc, got)

	creds, err := s.Credentials(ctx, acc.Name)
	require.NoError(t, err)
	require.Equal(t, Credentials{
		Name:      acc.Name,
		Pool:      "pool.example.com:3333",
		User:      "wallet.rig1",
		Password:  "s3cret-pw",
		Algorithm: "scrypt",
		Divider:   65536,
		Family:    FamilySV1,
	}, creds)

	list, err := s.ListAccounts(ctx, 10, 0)
	require.NoError(t, err)
	require.Equal(t, []Account{acc}, list)
	n, err := s.CountAccounts(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	require.NoError(t, s.DeleteAccount(ctx, acc.Name))
	_, err = s.Account(ctx, acc.Name)
	requireKind(t, err, ErrNotFound)
	_, err = s.Credentials(ctx, acc.Name)
	requireKind(t, err, ErrNotFound)
	requireKind(t, s.DeleteAccount(ctx, acc.Name), ErrNotFound)
	n, err = s.CountAccounts(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestCreateAccountUnknownPool(t *testing.T) { eachStore(t, testCreateAccountUnknownPool) }

func testCreateAccountUnknownPool(t *testing.T, open opener) {
	s := withPool(t, open)
	_, err := s.CreateAccount(context.Background(), "other.example.com:3333", "wallet", "pw")
	requireKind(t, err, ErrUnknownPool)
	require.NotErrorIs(t, err, ErrInvalid)
	require.Contains(t, err.Error(), "other.example.com:3333")
}

func TestCreateAccountAcceptsEdgeValues(t *testing.T) {
	eachStore(t, testCreateAccountAcceptsEdgeValues)
}

func testCreateAccountAcceptsEdgeValues(t *testing.T, open opener) {
	ctx := context.Background()
	s := withPool(t, open)
	for _, tc := range []struct{ user, password string }{
		{"wallet", ""}, // empty password
		{"мой кошелёк.rig 1", "pässwörd with spaces"},                          // printable Unicode and ASCII space
		{strings.Repeat("u", MaxUserLen), strings.Repeat("p", MaxPasswordLen)}, // at the caps
	} {
		acc, err := s.CreateAccount(ctx, testPool, tc.user, tc.password)
		require.NoError(t, err)
		creds, err := s.Credentials(ctx, acc.Name)
		require.NoError(t, err)
		require.Equal(t, tc.user, creds.User)
		require.Equal(t, tc.password, creds.Password)
	}
}

func TestCreateAccountRejectsBadFields(t *testing.T) { eachStore(t, testCreateAccountRejectsBadFields) }

func testCreateAccountRejectsBadFields(t *testing.T, open opener) {
	ctx := context.Background()
	s := withPool(t, open)
	cases := []struct {
		name, pool, user, password, field string
	}{
		{"empty pool", "", "u", "p", "pool"},
		{"no port", "pool.example.com", "u", "p", "pool"},
		{"port zero", "pool.example.com:0", "u", "p", "pool"},
		{"port too big", "pool.example.com:65536", "u", "p", "pool"},
		{"port not numeric", "pool.example.com:http", "u", "p", "pool"},
		{"port signed", "pool.example.com:+3333", "u", "p", "pool"},
		{"empty host", ":3333", "u", "p", "pool"},
		{"space in host", "pool example.com:3333", "u", "p", "pool"},
		{"control char in host", "pool\x00.example.com:3333", "u", "p", "pool"},
		{"empty label", "pool..example.com:3333", "u", "p", "pool"},
		{"bad IPv4", "999.1.1.1:3333", "u", "p", "pool"},
		{"IPv6 zone", "[fe80::1%eth0]:3333", "u", "p", "pool"},
		{"IPv6 without brackets", "2001:db8::1:3333", "u", "p", "pool"},
		{"label too long", strings.Repeat("a", 64) + ".com:3333", "u", "p", "pool"},
		{"address too long", strings.Repeat("a.", 140) + "com:3333", "u", "p", "pool"},
		{"empty user", testPool, "", "p", "user"},
		{"user with newline", testPool, "wallet\nrig", "p", "user"},
		{"user with tab", testPool, "wallet\trig", "p", "user"},
		{"user too long", testPool, strings.Repeat("u", MaxUserLen+1), "p", "user"},
		{"user not UTF-8", testPool, "wallet\xff", "p", "user"},
		{"password too long", testPool, "u", strings.Repeat("Pw!", 86), "password"},
		{"password with CRLF", testPool, "u", "hunter2\r\nX-Injected: 1", "password"},
		{"password not UTF-8", testPool, "u", "hunter2\xfe", "password"},
		{"password with NUL", testPool, "u", "hunter2\x00", "password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateAccount(ctx, tc.pool, tc.user, tc.password)
			requireField(t, err, tc.field)
			if tc.password != "p" {
				require.NotContains(t, err.Error(), tc.password)
				require.NotContains(t, err.Error(), "hunter2")
			}
		})
	}
	n, err := s.CountAccounts(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestAccountNamesAreUniqueAndWellFormed(t *testing.T) {
	eachStore(t, testAccountNamesAreUniqueAndWellFormed)
}

func testAccountNamesAreUniqueAndWellFormed(t *testing.T, open opener) {
	ctx := context.Background()
	s := withPool(t, open)
	seen := make(map[string]bool)
	for range 1000 {
		// Identical credentials every time: the name must not derive from them.
		acc, err := s.CreateAccount(ctx, testPool, "wallet", "pw")
		require.NoError(t, err)
		require.Regexp(t, namePattern, acc.Name)
		canon, ok := canonicalName(acc.Name)
		require.True(t, ok)
		require.Equal(t, acc.Name, canon)
		require.False(t, seen[acc.Name], "duplicate name %s", acc.Name)
		seen[acc.Name] = true
	}
	n, err := s.CountAccounts(ctx)
	require.NoError(t, err)
	require.Equal(t, 1000, n)
}

func TestCanonicalName(t *testing.T) {
	name, err := newName()
	require.NoError(t, err)
	got, ok := canonicalName(strings.ToUpper(name))
	require.True(t, ok)
	require.Equal(t, name, got)

	for _, bad := range []string{
		"",
		"short",
		strings.Repeat("a", NameLength+1),
		strings.Repeat("a", NameLength-1) + "1", // '1' is not base32
		strings.Repeat("a", NameLength-1) + "b", // spare bits set: no 128-bit value encodes to this
		strings.Repeat("a", NameLength-2) + "\na",
		strings.Repeat("é", NameLength/2),
	} {
		_, ok := canonicalName(bad)
		require.False(t, ok, "%q", bad)
	}
}

func TestLookupsOfMalformedNamesAreNotFound(t *testing.T) {
	eachStore(t, testLookupsOfMalformedNamesAreNotFound)
}

func testLookupsOfMalformedNamesAreNotFound(t *testing.T, open opener) {
	ctx := context.Background()
	s := withPool(t, open)
	for _, name := range []string{"", "x", "' OR 1=1 --", strings.Repeat("a", NameLength-1) + "b"} {
		_, err := s.Account(ctx, name)
		requireKind(t, err, ErrNotFound)
		_, err = s.Credentials(ctx, name)
		requireKind(t, err, ErrNotFound)
		requireKind(t, s.DeleteAccount(ctx, name), ErrNotFound)
		requireKind(t, s.Touch(ctx, name, time.Now()), ErrNotFound)
	}
	// Well formed but never issued.
	name, err := newName()
	require.NoError(t, err)
	_, err = s.Account(ctx, name)
	requireKind(t, err, ErrNotFound)
	require.NotContains(t, err.Error(), name, "errors do not echo account names")
}

func TestListAccountsPaginates(t *testing.T) { eachStore(t, testListAccountsPaginates) }

func testListAccountsPaginates(t *testing.T, open opener) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := withPool(t, open, WithClock(func() time.Time { return now }))
	var want []Account
	for range 5 {
		now = now.Add(time.Minute)
		acc, err := s.CreateAccount(ctx, testPool, "wallet", "pw")
		require.NoError(t, err)
		want = append(want, acc)
	}
	var got []Account
	for offset := 0; offset < 6; offset += 2 {
		page, err := s.ListAccounts(ctx, 2, offset)
		require.NoError(t, err)
		got = append(got, page...)
	}
	require.Equal(t, want, got, "oldest first, every account exactly once")

	page, err := s.ListAccounts(ctx, 10, 5)
	require.NoError(t, err)
	require.Empty(t, page)
	_, err = s.ListAccounts(ctx, 0, 0)
	requireField(t, err, "limit")
	_, err = s.ListAccounts(ctx, 1, -1)
	requireField(t, err, "offset")
}

func TestAccountJSONHasNoPassword(t *testing.T) { eachStore(t, testAccountJSONHasNoPassword) }

func testAccountJSONHasNoPassword(t *testing.T, open opener) {
	ctx := context.Background()
	const password = "correct-horse-battery-staple"
	s := withPool(t, open)
	acc, err := s.CreateAccount(ctx, testPool, "wallet", password)
	require.NoError(t, err)
	require.NoError(t, s.Touch(ctx, acc.Name, time.Unix(1_800_000_000, 0)))
	acc, err = s.Account(ctx, acc.Name)
	require.NoError(t, err)
	list, err := s.ListAccounts(ctx, 10, 0)
	require.NoError(t, err)

	for _, v := range []any{acc, &acc, list} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.NotContains(t, string(b), password)
		require.NotContains(t, strings.ToLower(string(b)), "password")
		require.Contains(t, string(b), `"user":"wallet"`)
	}

	b, err := json.Marshal(acc)
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(b, &fields))
	require.ElementsMatch(t,
		[]string{"name", "pool", "user", "algorithm", "divider", "family", "created_at", "last_seen"},
		keys(fields))
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestConcurrentCreateAccount(t *testing.T) { eachStore(t, testConcurrentCreateAccount) }

func testConcurrentCreateAccount(t *testing.T, open opener) {
	const workers, each = 8, 50
	ctx := context.Background()
	s := withPool(t, open)

	errs := make(chan error, workers*each)
	names := make(chan string, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				acc, err := s.CreateAccount(ctx, testPool, "wallet", "pw")
				if err != nil {
					errs <- err
					continue
				}
				names <- acc.Name
				// Interleave reads with the writes of other goroutines.
				if _, err := s.Credentials(ctx, acc.Name); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	close(names)
	for err := range errs {
		require.NoError(t, err)
	}
	unique := make(map[string]bool)
	for n := range names {
		unique[n] = true
	}
	require.Len(t, unique, workers*each)
	n, err := s.CountAccounts(ctx)
	require.NoError(t, err)
	require.Equal(t, workers*each, n)
}
