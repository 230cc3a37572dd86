package reactor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/registry"
)

// sharedStores opens n handles on one SQLite account store, as n go-proxy
// processes sharing a database would, and registers pool with one
// account; it returns the handles and the account's name.
func sharedStores(t *testing.T, n int, pool *sv1pool.Pool) ([]registry.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "accounts.db")
	var stores []registry.Store
	for range n {
		st, err := registry.Open(path)
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		stores = append(stores, st)
	}
	ctx := context.Background()
	require.NoError(t, stores[0].AddPool(ctx, registry.Pool{Address: pool.Addr(), Family: registry.FamilySV1, Algorithm: "sha256d"}))
	acct, err := stores[0].CreateAccount(ctx, pool.Addr(), "farm.rig1", "pool-pass")
	require.NoError(t, err)
	return stores, acct.Name
}

// storeOptions hands a proxy its account store and the kept-session
// index backed by it, as go-proxy serve does.
func storeOptions(st registry.Store) []Option {
	return []Option{WithAccounts(st), WithKeptSessions(NewStoreKeptSessions(st))}
}

// readUntil reads lines until one with method arrives and returns the
// methods read before it.
func readUntil(m *testminer.SV1, method string) []string {
	var before []string
	for {
		l := m.Read()
		if l.Method == method {
			return before
		}
		before = append(before, l.Method)
	}
}

// TestPassthrough_ResumeOtherInstance_Good: behind a round-robin balancer
// a cpuminer-like miner (no extranonce updates) is asked to reconnect by
// instance A once its account's session is up, and comes back on instance
// B, which shares A's store. B finds the subscription id's account in the
// store, opens a pool session for it and answers the subscribe once it is
// up, with its extranonce: the miner mines after one reconnect, and gets
// the session's difficulty and a clean job at once.
func TestPassthrough_ResumeOtherInstance_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	stores, name := sharedStores(t, 2, pool)
	_, addrA := startProxy(t, passthroughConfig(60), storeOptions(stores[0])...)
	pb, addrB := startProxy(t, passthroughConfig(60), storeOptions(stores[1])...)

	a := testminer.DialSV1(t, addrA)
	sub, e1, _ := subscribeReply(t, a, "")
	require.Empty(t, e1, "the account is not known yet")
	require.Equal(t, "true", string(a.Reply(a.Send(`"method":"mining.authorize","params":[%q,"x"]}`, name)).Result))
	before := readUntil(a, "client.reconnect")
	require.NotContains(t, before, "mining.notify", "no work on an extranonce that is about to change")
	got, err := stores[1].LookupSession(context.Background(), sub)
	require.NoError(t, err)
	require.Equal(t, name, got, "recorded before the reconnect was sent")
	a.ExpectClosed()

	b := testminer.DialSV1(t, addrB)
	sub2, e1, size := subscribeReply(t, b, sub)
	require.Equal(t, sub, sub2, "the same subscription id")
	sessions := pool.Sessions()
	require.Len(t, sessions, 2, "B opened a pool session of its own for the account")
	require.Equal(t, "farm.rig1", sessions[1].User)
	require.Equal(t, sessions[1].Extranonce1, e1, "answered with B's session's extranonce")
	require.Equal(t, sessions[1].Extranonce2Size, size)
	b.E1, b.E2Size = mustHex(t, e1), size
	require.Equal(t, "true", string(b.Reply(b.Send(`"method":"mining.authorize","params":[%q,"x"]}`, name)).Result))
	// The session's difficulty, then a clean job, and no reconnect.
	first := b.Read()
	require.Equal(t, "mining.set_difficulty", first.Method, first.Raw)
	job := b.Read()
	require.Equal(t, "mining.notify", job.Method, job.Raw)
	require.Equal(t, "true", string(job.Params[len(job.Params)-1]), "a clean job: %s", job.Raw)
	require.Equal(t, "true", string(b.Submit().Result))
	require.Equal(t, int64(1), pool.Stats().Accepted)

	ms, err := pb.Miners(waitCtx(t))
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.True(t, ms[0].Account)
	require.Equal(t, sub, ms[0].Session)
}

// TestPassthrough_ReconnectOncePerWindow_Bad: a miner that cannot take
// mining.set_extranonce is asked to reconnect at most once per window per
// subscription id: when its account's pool session changes extranonce
// again right after its resume, it is disconnected without a second
// client.reconnect (with the in-memory index and with a store alike).
func TestPassthrough_ReconnectOncePerWindow_Bad(t *testing.T) {
	for _, mode := range []string{"memory", "store"} {
		t.Run(mode, func(t *testing.T) {
			pool := startSV1Pool(t, sv1pool.Config{})
			var opts []Option
			name := "acct1"
			if mode == "store" {
				var stores []registry.Store
				stores, name = sharedStores(t, 1, pool)
				opts = storeOptions(stores[0])
			} else {
				opts = []Option{WithAccounts(&memAccounts{touched: map[string]int{}, byName: map[string]registry.Credentials{name: account(pool, "farm.rig1")}})}
			}
			_, addr := startProxy(t, passthroughConfig(60), opts...)

			a := testminer.DialSV1(t, addr)
			sub, _, _ := subscribeReply(t, a, "")
			require.Equal(t, "true", string(a.Reply(a.Send(`"method":"mining.authorize","params":[%q,"x"]}`, name)).Result))
			readUntil(a, "client.reconnect")
			a.ExpectClosed()

			b := testminer.DialSV1(t, addr)
			_, e1, size := subscribeReply(t, b, sub)
			require.NotEmpty(t, e1, "resumed")
			b.E1, b.E2Size = mustHex(t, e1), size
			require.Equal(t, "true", string(b.Reply(b.Send(`"method":"mining.authorize","params":[%q,"x"]}`, name)).Result))
			b.WaitJob()
			require.Equal(t, "true", string(b.Submit().Result))

			require.Equal(t, 1, pool.SetExtranonce(func(sv1pool.Session) bool { return true }))
			var methods []string
			for {
				line, err := b.ReadLineBy(time.Now().Add(testutil.WaitTimeout))
				if err != nil {
					var ne interface{ Timeout() bool }
					require.False(t, errors.As(err, &ne) && ne.Timeout(), "still connected")
					break
				}
				var l testminer.SV1Line
				require.NoError(t, json.Unmarshal([]byte(line), &l), line)
				methods = append(methods, l.Method)
			}
			require.NotContains(t, methods, "client.reconnect", "one reconnect per window")
			require.NotContains(t, methods, "mining.notify", "no work on the old extranonce")
		})
	}
}

// failingAccounts is an account store that fails (as a database that went
// away does) for its first fails calls, then answers from accts.
type failingAccounts struct {
	fails atomic.Int32
	calls atomic.Int32
	accts *memAccounts
}

func (f *failingAccounts) Credentials(ctx context.Context, name string) (registry.Credentials, error) {
	f.calls.Add(1)
	if f.fails.Add(-1) >= 0 {
		return registry.Credentials{}, errors.New("registry: get credentials: dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return f.accts.Credentials(ctx, name)
}

func (f *failingAccounts) Touch(ctx context.Context, name string, t time.Time) error {
	return f.accts.Touch(ctx, name, t)
}

// TestPassthrough_StoreUnavailable_Bad: while the account store fails, a
// new passthrough miner's authorize waits (the lookup is retried) and, if
// the store does not come back, gets a clear "try again" error — not
// "unauthorized", its account may well exist. A store that comes back
// within the wait logs the miner in. Miners already connected keep mining.
func TestPassthrough_StoreUnavailable_Bad(t *testing.T) {
	saved := accountWait
	t.Cleanup(func() { accountWait = saved }) // after the proxy's Stop (cleanups run last first)
	accountWait = 2 * time.Second
	pool := startSV1Pool(t, sv1pool.Config{})
	accts := &failingAccounts{accts: &memAccounts{touched: map[string]int{}, byName: map[string]registry.Credentials{"acct1": account(pool, "u1")}}}
	_, addr := startProxy(t, passthroughConfig(60), WithAccounts(accts))

	connected := testminer.DialSV1(t, addr)
	connected.XSub = true
	connected.Login("acct1", 0)

	accts.fails.Store(1 << 20) // down
	m := testminer.DialSV1(t, addr)
	subscribeReply(t, m, "")
	r := m.Reply(m.Send(`"method":"mining.authorize","params":["acct1","x"]}`))
	require.Equal(t, 20, r.ErrCode(), r.Raw)
	require.Contains(t, r.Raw, "Account store unavailable, try again later")
	require.Greater(t, accts.calls.Load(), int32(2), "retried while waiting")
	m.ExpectClosed()
	require.Equal(t, "true", string(connected.Submit().Result), "a connected miner keeps mining")

	accts.fails.Store(2) // back after two more failures
	m = testminer.DialSV1(t, addr)
	m.XSub = true
	m.Login("acct1", 0) // waits, then succeeds
	require.Equal(t, "true", string(m.Submit().Result))

	accts.fails.Store(0)
	m = testminer.DialSV1(t, addr)
	subscribeReply(t, m, "")
	r = m.Reply(m.Send(`"method":"mining.authorize","params":["nobody","x"]}`))
	require.Equal(t, 24, r.ErrCode(), "an unknown account is still unauthorized: %s", r.Raw)
}

func TestKeptSessions_MemReconnect_Good(t *testing.T) {
	k := NewMemKeptSessions()
	ctx := context.Background()
	ok, err := k.Reconnect(ctx, "s1")
	require.NoError(t, err)
	require.True(t, ok)
	ok, _ = k.Reconnect(ctx, "s1")
	require.False(t, ok, "once per window")
	ok, _ = k.Reconnect(ctx, "s2")
	require.True(t, ok, "per subscription id")
	require.NoError(t, k.Record(ctx, "s1", "acct"), "the in-memory index records nothing")
	for i := range memKeptPrune + 10 {
		ok, _ = k.Reconnect(ctx, fmt.Sprint("x", i))
		require.True(t, ok)
	}
	ok, _ = k.Reconnect(ctx, "s1")
	require.False(t, ok, "pruning keeps the marks still in their window")
}
