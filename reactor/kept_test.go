package reactor

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/registry"
)

// dialOnOtherShard connects SV1 miners until one lands on an event loop
// other than not (the kernel spreads connections over the loops'
// listeners by address hash); the others are closed.
func dialOnOtherShard(t *testing.T, p *Proxy, addr string, not int) *testminer.SV1 {
	t.Helper()
	known := minerShards(t, p)
	for try := 0; try < 64; try++ {
		m := testminer.DialSV1(t, addr)
		var id uint64
		shard := -1
		testutil.Eventually(t, func() bool {
			for mid, sh := range minerShards(t, p) {
				if _, old := known[mid]; !old {
					id, shard = mid, sh
					return true
				}
			}
			return false
		}, "the new connection is seen")
		known[id] = shard
		if shard != not {
			return m
		}
		m.Conn.Close()
	}
	t.Fatal("no connection landed on another event loop")
	return nil
}

// subscribeReply sends a subscribe (resuming session when not empty) and
// returns the subscription id, extranonce1 (hex) and extranonce2 size.
func subscribeReply(t *testing.T, m *testminer.SV1, session string) (sub, e1 string, size int) {
	t.Helper()
	params := `["cpuminer/2.5.1"]`
	if session != "" {
		params = `["cpuminer/2.5.1","` + session + `"]`
	}
	r := m.Reply(m.Send(`"method":"mining.subscribe","params":%s}`, params))
	var res []json.RawMessage
	require.NoError(t, json.Unmarshal(r.Result, &res), r.Raw)
	require.Len(t, res, 3, r.Raw)
	var subs [][]string
	require.NoError(t, json.Unmarshal(res[0], &subs), r.Raw)
	require.NoError(t, json.Unmarshal(res[1], &e1), r.Raw)
	require.NoError(t, json.Unmarshal(res[2], &size), r.Raw)
	return subs[0][1], e1, size
}

// passthroughShard returns the event loop of the only passthrough session.
func passthroughShard(t *testing.T, p *Proxy) int {
	t.Helper()
	ups, err := p.Upstreams(waitCtx(t))
	require.NoError(t, err)
	require.Len(t, ups, 1)
	return ups[0].Shard
}

// TestPassthrough_ResumeOtherLoop_Good: a cpuminer-like miner (no
// extranonce updates) is asked to reconnect once its account's session is
// up, and comes back with its subscription id on another event loop. That
// loop takes the kept session over — the owner releases it, one new pool
// session opens for the account — and answers the subscribe once it is up,
// with its extranonce: no second client.reconnect, one new pool session.
func TestPassthrough_ResumeOtherLoop_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	accts := &memAccounts{touched: map[string]int{}, byName: map[string]registry.Credentials{"acct1": account(pool, "u1")}}
	cfg := passthroughConfig(60)
	cfg.EventLoops = 2
	p, addr := startProxy(t, cfg, WithAccounts(accts))

	a := testminer.DialSV1(t, addr)
	session, _, _ := subscribeReply(t, a, "")
	require.Equal(t, "true", string(a.Reply(a.Send(`"method":"mining.authorize","params":["acct1","x"]}`)).Result))
	for a.Read().Method != "client.reconnect" {
	}
	a.Conn.Close()
	require.NoError(t, pool.WaitFor(waitCtx(t), func(s sv1pool.Stats) bool { return s.Authorizes == 1 }))
	testutil.Eventually(t, func() bool { return len(minerShards(t, p)) == 0 }, "the first connection is gone")
	owner := passthroughShard(t, p)

	b := dialOnOtherShard(t, p, addr, owner)
	sub, e1, size := subscribeReply(t, b, session)
	require.Equal(t, session, sub, "the same subscription id")
	require.NoError(t, pool.WaitFor(waitCtx(t), func(s sv1pool.Stats) bool { return s.ActiveConnections == 1 }),
		"the kept session was released")
	sessions := pool.Sessions() // every session since start, oldest first
	require.Len(t, sessions, 2, "one new pool session")
	require.NotEmpty(t, e1)
	require.Equal(t, sessions[1].Extranonce1, e1, "answered with the new session's extranonce")
	require.Equal(t, sessions[1].Extranonce2Size, size)
	b.E1, b.E2Size = mustHex(t, e1), size
	require.Equal(t, "true", string(b.Reply(b.Send(`"method":"mining.authorize","params":["acct1","x"]}`)).Result))
	// Everything up to the share's answer: difficulty and jobs, no
	// client.reconnect.
	for {
		l := b.Read()
		require.NotEqual(t, "client.reconnect", l.Method, "no second reconnect")
		if l.Method == "mining.notify" {
			break
		}
	}
	require.Equal(t, "true", string(b.Submit().Result))
	require.NotEqual(t, owner, passthroughShard(t, p), "the session now lives on the miner's loop")
	st := pool.Stats()
	require.Equal(t, 2, st.Connections, "exactly one new pool session")
	require.Equal(t, int64(1), st.Accepted)
	testutil.Eventually(t, func() bool { return p.Summary().Upstreams.Total == 1 }, "one upstream")
}

// TestPassthrough_ResumeAuthorizePipelined_Ugly: a miner that sends its
// authorize right behind the resuming subscribe, on another loop, gets
// the subscribe answered first, then the authorize — on the moved session.
func TestPassthrough_ResumeAuthorizePipelined_Ugly(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	accts := &memAccounts{touched: map[string]int{}, byName: map[string]registry.Credentials{"acct1": account(pool, "u1")}}
	cfg := passthroughConfig(60)
	cfg.EventLoops = 2
	p, addr := startProxy(t, cfg, WithAccounts(accts))
	a := testminer.DialSV1(t, addr)
	sub, _, _ := subscribeReply(t, a, "")
	a.Reply(a.Send(`"method":"mining.extranonce.subscribe","params":[]}`))
	require.Equal(t, "true", string(a.Reply(a.Send(`"method":"mining.authorize","params":["acct1","x"]}`)).Result))
	a.WaitJob()
	a.Conn.Close()
	testutil.Eventually(t, func() bool { return len(minerShards(t, p)) == 0 }, "gone")
	owner := passthroughShard(t, p)

	b := dialOnOtherShard(t, p, addr, owner)
	subID := b.Send(`"method":"mining.subscribe","params":["bmminer/2.0.0",%q]}`, sub)
	authID := b.Send(`"method":"mining.authorize","params":["acct1","x"]}`)
	first := b.Read()
	for first.Method != "" {
		first = b.Read()
	}
	require.JSONEq(t, itoa(subID), string(first.ID), "the subscribe is answered first: %s", first.Raw)
	require.Equal(t, "true", string(b.Reply(authID).Result))
	require.Equal(t, 2, pool.Stats().Connections, "one new pool session")
	require.Equal(t, 2, pool.Stats().Authorizes, "one authorize for it")
}

func TestKeptSessions_Mem_Good(t *testing.T) {
	k := NewMemKeptSessions()
	ctx := context.Background()
	owner := KeptOwner{Shard: 1, Mapper: 7}
	k.Keep("s1", KeptSession{Owner: owner, Account: "a", Expires: time.Now().Add(time.Minute)})
	k.Forget("s1", KeptOwner{Shard: 0, Mapper: 7}) // not its owner: stays
	e, ok, err := k.Claim(ctx, "s1")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "a", e.Account)
	_, ok, _ = k.Claim(ctx, "s1")
	require.False(t, ok, "claimed once")
	k.Keep("s2", KeptSession{Owner: owner, Expires: time.Now().Add(-time.Second)})
	_, ok, _ = k.Claim(ctx, "s2")
	require.False(t, ok, "expired")
	k.Keep("s3", KeptSession{Owner: owner, Expires: time.Now().Add(time.Minute)})
	k.Forget("s3", owner)
	_, ok, _ = k.Claim(ctx, "s3")
	require.False(t, ok, "forgotten by its owner")
}
