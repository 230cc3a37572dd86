package reactor

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/registry"
)

// memAccounts is an in-memory account store.
type memAccounts struct {
	mu      sync.Mutex
	byName  map[string]registry.Credentials
	touched map[string]int
}

func (a *memAccounts) Credentials(_ context.Context, name string) (registry.Credentials, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.byName[name]
	if !ok {
		return registry.Credentials{}, fmt.Errorf("account %w", registry.ErrNotFound)
	}
	return c, nil
}

func (a *memAccounts) Touch(_ context.Context, name string, _ time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.touched[name]++
	return nil
}

func passthroughConfig(keep int) *Config {
	return &Config{EventLoops: 1, SV1Mode: "passthrough", PoolTimeout: 3, ConnectTimeout: 2, Registry: RegistryConfig{Keep: keep}}
}

func account(pool *sv1pool.Pool, user string) registry.Credentials {
	return registry.Credentials{Pool: pool.Addr(), User: user, Password: "pw-" + user, Algorithm: "sha256d", Divider: 1, Family: registry.FamilySV1}
}

func TestPassthrough_TwoAccounts_Good(t *testing.T) {
	var seen sync.Map
	auth := func(user, pass string) error { seen.Store(user, pass); return nil }
	poolA := startSV1Pool(t, sv1pool.Config{Authorize: auth, Seed: 1})
	poolB := startSV1Pool(t, sv1pool.Config{Authorize: auth, Seed: 2})
	accts := &memAccounts{touched: map[string]int{}, byName: map[string]registry.Credentials{
		"acctaaaaaaaaaaaaaaaaaaaaaa": account(poolA, "alice"),
		"acctbbbbbbbbbbbbbbbbbbbbbb": account(poolB, "bob"),
	}}
	_, addr := startProxy(t, passthroughConfig(60), WithAccounts(accts))
	a := testminer.DialSV1(t, addr)
	a.XSub = true
	a.Login("acctaaaaaaaaaaaaaaaaaaaaaa", 0)
	b := testminer.DialSV1(t, addr)
	b.XSub = true
	b.Login("acctbbbbbbbbbbbbbbbbbbbbbb", 0)
	require.Equal(t, "true", string(a.Submit().Result))
	require.Equal(t, "true", string(b.Submit().Result))
	require.Equal(t, int64(1), poolA.Stats().Accepted)
	require.Equal(t, int64(1), poolB.Stats().Accepted)
	pass, _ := seen.Load("alice")
	require.Equal(t, "pw-alice", pass, "the pool got the account's own credentials")
	require.Equal(t, "alice", poolA.Sessions()[0].User)
	require.Equal(t, "bob", poolB.Sessions()[0].User)
	require.Equal(t, poolA.Sessions()[0].Extranonce1, fmt.Sprintf("%x", a.E1), "passthrough: the pool's extranonce, unsplit")
}

func TestPassthrough_Resume_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	accts := &memAccounts{touched: map[string]int{}, byName: map[string]registry.Credentials{"acct1": account(pool, "u1")}}
	_, addr := startProxy(t, passthroughConfig(60), WithAccounts(accts))
	a := testminer.DialSV1(t, addr)
	// Not subscribed to extranonce updates: asked to reconnect once the
	// account's pool session is up, then resumes it by session id.
	id := a.Send(`"method":"mining.subscribe","params":["cpuminer/2.5.1"]}`)
	var res []json.RawMessage
	require.NoError(t, json.Unmarshal(a.Reply(id).Result, &res))
	var sub [][]string
	require.NoError(t, json.Unmarshal(res[0], &sub))
	session := sub[0][1]
	require.Equal(t, "true", string(a.Reply(a.Send(`"method":"mining.authorize","params":["acct1","x"]}`)).Result))
	for {
		if l := a.Read(); l.Method == "client.reconnect" {
			break
		}
	}
	a.Conn.Close()
	require.NoError(t, pool.WaitFor(waitCtx(t), func(s sv1pool.Stats) bool { return s.Authorizes == 1 }))

	b := testminer.DialSV1(t, addr)
	id = b.Send(`"method":"mining.subscribe","params":["cpuminer/2.5.1",%q]}`, session)
	require.NoError(t, json.Unmarshal(b.Reply(id).Result, &res))
	var e1 string
	require.NoError(t, json.Unmarshal(res[1], &e1))
	require.Equal(t, pool.Sessions()[0].Extranonce1, e1, "resumed: the session's real extranonce at once")
	require.NoError(t, json.Unmarshal(res[2], &b.E2Size))
	b.E1 = mustHex(t, e1)
	require.Equal(t, "true", string(b.Reply(b.Send(`"method":"mining.authorize","params":["acct1","x"]}`)).Result))
	b.WaitJob()
	require.Equal(t, pool.CurrentJob().JobID, b.Job.JobID, "the last job")
	require.Equal(t, tinyDiff, b.Diff, "the last difficulty")
	require.Equal(t, "true", string(b.Submit().Result))
	require.Len(t, pool.Sessions(), 1, "same upstream: the pool saw one connection")
}

func TestPassthrough_KeepTimeout_Ugly(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	accts := &memAccounts{touched: map[string]int{}, byName: map[string]registry.Credentials{"acct1": account(pool, "u1")}}
	_, addr := startProxy(t, passthroughConfig(1), WithAccounts(accts))
	m := testminer.DialSV1(t, addr)
	m.XSub = true
	m.Login("acct1", 0)
	m.Conn.Close()
	require.NoError(t, pool.WaitFor(waitCtx(t), func(s sv1pool.Stats) bool { return s.ActiveConnections == 0 }), "closed after the keep time")
}

func TestPassthrough_UnknownName_Bad(t *testing.T) {
	accts := &memAccounts{touched: map[string]int{}, byName: map[string]registry.Credentials{}}
	_, addr := startProxy(t, passthroughConfig(60), WithAccounts(accts))
	m := testminer.DialSV1(t, addr)
	m.Reply(m.Send(`"method":"mining.subscribe","params":["cgminer/4.12.0"]}`))
	r := m.Reply(m.Send(`"method":"mining.authorize","params":["nobody","x"]}`))
	require.Equal(t, 24, r.ErrCode(), r.Raw)
	_, err := m.ReadLineBy(deadlineIn(5))
	require.Error(t, err, "closed")
}

// gatedAccounts holds every lookup until release is closed.
type gatedAccounts struct {
	*memAccounts
	release chan struct{}
	lookups sync.WaitGroup // done at the first lookup
	calls   atomic.Int32
}

func (a *gatedAccounts) Credentials(ctx context.Context, name string) (registry.Credentials, error) {
	if a.calls.Add(1) == 1 {
		a.lookups.Done()
	}
	<-a.release
	return a.memAccounts.Credentials(ctx, name)
}

// A second authorize sent while the first is being looked up is refused
// (one account per connection); it must not open a second pool session
// that nothing would ever close.
func TestPassthrough_DoubleAuthorize_Ugly(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	accts := &gatedAccounts{
		memAccounts: &memAccounts{touched: map[string]int{}, byName: map[string]registry.Credentials{"acct1": account(pool, "u1")}},
		release:     make(chan struct{}),
	}
	accts.lookups.Add(1)
	p, addr := startProxy(t, passthroughConfig(60), WithAccounts(accts))
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(accts.release) }) }
	t.Cleanup(release) // runs before the proxy's Stop, which waits for lookups
	m := testminer.DialSV1(t, addr)
	m.Reply(m.Send(`"method":"mining.subscribe","params":["bmminer/2.0.0"]}`))
	m.Reply(m.Send(`"method":"mining.extranonce.subscribe","params":[]}`))
	first := m.Send(`"method":"mining.authorize","params":["acct1","x"]}`)
	accts.lookups.Wait() // the first lookup is in flight
	second := m.Send(`"method":"mining.authorize","params":["acct1","x"]}`)
	r := m.Reply(second)
	require.Equal(t, 20, r.ErrCode(), r.Raw)
	require.Contains(t, r.Raw, "Authorization in progress")
	release()
	require.Equal(t, "true", string(m.Reply(first).Result))
	m.WaitJob()
	require.Equal(t, "true", string(m.Submit().Result))
	require.Equal(t, 1, pool.Stats().Connections, "one pool session for the connection")
	require.Equal(t, int32(1), accts.calls.Load(), "one lookup")
	testutil.Eventually(t, func() bool { return p.Summary().Upstreams.Total == 1 }, "one upstream in the summary")
}

func TestPassthrough_Registry_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	store, err := registry.Open(filepath.Join(t.TempDir(), "accounts.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	ctx := context.Background()
	require.NoError(t, store.AddPool(ctx, registry.Pool{Address: pool.Addr(), Family: registry.FamilySV1, Algorithm: "sha256d"}))
	acct, err := store.CreateAccount(ctx, pool.Addr(), "miner-user", "secret")
	require.NoError(t, err)
	_, addr := startProxy(t, passthroughConfig(60), WithAccounts(store))
	m := testminer.DialSV1(t, addr)
	m.XSub = true
	m.Login(acct.Name, 0)
	require.Equal(t, "true", string(m.Submit().Result))
	require.Equal(t, "miner-user", pool.Sessions()[0].User)
	got, err := store.Account(ctx, acct.Name)
	require.NoError(t, err)
	require.False(t, got.LastSeen.IsZero(), "last seen recorded at authorize")
}
