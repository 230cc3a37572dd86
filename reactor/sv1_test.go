package reactor

import (
	"bytes"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/upstream"
)

func TestSV1_Aggregate_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	p, addr := startProxy(t, sv1Config(pool.Addr()))
	miners := make([]*testminer.SV1, 3)
	for i := range miners {
		miners[i] = testminer.DialSV1(t, addr)
		miners[i].Login("farm.rig"+string(rune('a'+i)), 0)
		require.Equal(t, 8-4, miners[i].E2Size, "pool e2 size 8 → 4-byte prefix, 4 left for the miner")
	}
	for _, m := range miners {
		r := m.Submit()
		require.Equal(t, "true", string(r.Result), r.Raw)
	}
	st := pool.Stats()
	require.Equal(t, int64(3), st.Accepted)
	require.Zero(t, st.Rejected)
	require.Equal(t, 1, len(pool.Sessions()), "three miners, one pool connection")
	testutil.Eventually(t, func() bool { return p.Summary().ByFamily[FamilySV1].Accepted == 3 }, "SV1 shares counted")
}

func TestSV1_Aggregate_Ugly(t *testing.T) {
	// 300 SV1 miners: zero invalid shares at a pool that verifies every
	// share, and no two miners with overlapping extranonce space.
	var mu sync.Mutex
	pool := startSV1Pool(t, sv1pool.Config{})
	_, addr := startProxy(t, sv1Config(pool.Addr()))
	miners := make([]*testminer.SV1, 300)
	for i := range miners {
		miners[i] = testminer.DialSV1(t, addr)
		miners[i].Login("farm.rig", 0)
	}
	byE1 := map[string]bool{}
	for _, m := range miners {
		mu.Lock()
		k := string(m.E1)
		require.False(t, byE1[k], "two miners got extranonce1 %x", m.E1)
		byE1[k] = true
		mu.Unlock()
	}
	// Same width prefixes: no extranonce1 is a prefix of another.
	for a := range byE1 {
		for b := range byE1 {
			if a != b {
				require.False(t, bytes.HasPrefix([]byte(a), []byte(b)))
			}
		}
	}
	for _, m := range miners {
		r := m.Submit()
		require.Equal(t, "true", string(r.Result), r.Raw)
	}
	st := pool.Stats()
	require.Equal(t, int64(300), st.Accepted)
	require.Zero(t, st.Rejected)
	require.Zero(t, st.Duplicates)
	require.Zero(t, st.LowDiff)
	require.Empty(t, pool.Overlaps())
}

func TestSV1_VersionRolling_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{VersionRolling: true})
	_, addr := startProxy(t, sv1Config(pool.Addr()))
	m := testminer.DialSV1(t, addr)
	m.Login("rig", 0xffffffff)
	require.Equal(t, uint32(0x1fffe000), m.Mask, "the AND of the pool's and the miner's masks")
	for i := 0; i < 5; i++ {
		r := m.Submit()
		require.Equal(t, "true", string(r.Result), r.Raw)
	}
	require.Equal(t, int64(5), pool.Stats().Accepted)
	// Bits outside the mask are refused locally.
	e2, ntime, nonce, _ := m.Share()
	r := m.SubmitRaw(m.Job.JobID, e2, ntime, nonce, 0x00000001)
	require.Equal(t, 20, r.ErrCode(), r.Raw)
	require.Equal(t, int64(5), pool.Stats().Submits)
}

func TestSV1_SetExtranonce_Ugly(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	_, addr := startProxy(t, sv1Config(pool.Addr()))
	subscribed := testminer.DialSV1(t, addr)
	subscribed.XSub = true
	subscribed.Login("rig.a", 0)
	plain := testminer.DialSV1(t, addr)
	plain.Login("rig.b", 0)
	oldE1 := append([]byte(nil), subscribed.E1...)
	require.Equal(t, 1, pool.SetExtranonce(nil), "the proxy's session subscribed to extranonce updates")
	// The subscribed miner is told its new extranonce1 and keeps mining.
	for {
		if l := subscribed.Read(); l.Method == "mining.set_extranonce" {
			break
		}
	}
	require.NotEqual(t, oldE1, subscribed.E1)
	subscribed.WaitJob()
	r := subscribed.Submit()
	require.Equal(t, "true", string(r.Result), r.Raw)
	// The other one is asked to reconnect, then closed.
	for {
		l := plain.Read()
		if l.Method == "client.reconnect" {
			break
		}
	}
	_, err := plain.ReadLineBy(deadlineIn(5))
	require.Error(t, err, "closed after client.reconnect")
	require.Zero(t, pool.Stats().Rejected)
}

func TestSV1_LocalRejects_Bad(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	p, addr := startProxy(t, sv1Config(pool.Addr()))
	m := testminer.DialSV1(t, addr)
	m.Login("rig", 0)
	e2, ntime, nonce, vbits := m.Share()
	first := m.Job.JobID
	require.Equal(t, "true", string(m.SubmitRaw(first, e2, ntime, nonce, vbits).Result))
	r := m.SubmitRaw(first, e2, ntime, nonce, vbits)
	require.Equal(t, 22, r.ErrCode(), "duplicate answered locally: "+r.Raw)
	r = m.SubmitRaw(first, e2, ntime, nonce+1, vbits)
	require.Equal(t, 23, r.ErrCode(), "low difficulty answered locally (a neighbouring nonce misses the target): "+r.Raw)
	pool.BroadcastJob(true)
	m.WaitJob()
	pool.BroadcastJob(true) // the first job was replaced by a clean job, then this one retires it
	m.WaitJob()
	e2, ntime, nonce, vbits = m.Share()
	r = m.SubmitRaw(first, e2, ntime, nonce, vbits)
	require.Equal(t, 21, r.ErrCode(), "a job retired by two clean jobs: "+r.Raw)
	r = m.SubmitRaw(m.Job.JobID, e2[:1], ntime, nonce, vbits)
	require.Equal(t, 20, r.ErrCode(), "wrong extranonce2 size: "+r.Raw)
	require.Equal(t, int64(1), pool.Stats().Submits, "only the good share reached the pool")
	testutil.Eventually(t, func() bool { return p.Summary().ByFamily[FamilySV1].Invalid == 4 }, "invalid shares counted")
}

func TestSV1_Requests_Bad(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	_, addr := startProxy(t, sv1Config(pool.Addr()))
	m := testminer.DialSV1(t, addr)
	r := m.Reply(m.Send(`"method":"mining.submit","params":["w","j","00000000","00000000","00000000"]}`))
	require.Equal(t, 25, r.ErrCode(), "not subscribed")
	r = m.Reply(m.Send(`"method":"mining.subscribe","params":["x"]}`))
	require.Empty(t, r.Error)
	r = m.Reply(m.Send(`"method":"mining.submit","params":["w","j","00000000","00000000","00000000"]}`))
	require.Equal(t, 24, r.ErrCode(), "not authorized")
	r = m.Reply(m.Send(`"method":"mining.get_transactions","params":[]}`))
	require.Equal(t, 20, r.ErrCode(), "unknown method")
	r = m.Reply(m.Send(`"method":"mining.authorize","params":[42,"x"]}`))
	require.Equal(t, 24, r.ErrCode(), "a user that is not a string")
	r = m.Reply(m.Send(`"method":"mining.suggest_difficulty","params":[-5]}`))
	require.Equal(t, 20, r.ErrCode())
}

func TestSV1_CustomDifficulty_Good(t *testing.T) {
	// The miner asks for a quarter of the pool's difficulty: shares between
	// the two are answered locally and never forwarded.
	pool := startSV1Pool(t, sv1pool.Config{})
	p, addr := startProxy(t, sv1Config(pool.Addr()))
	m := testminer.DialSV1(t, addr)
	id := m.Send(`"method":"mining.suggest_difficulty","params":[%v]}`, tinyDiff/4)
	m.Reply(id)
	m.Login("rig", 0)
	require.Equal(t, tinyDiff/4, m.Diff)
	for i := 0; i < 20; i++ {
		r := m.Submit()
		require.Equal(t, "true", string(r.Result), r.Raw)
	}
	st := pool.Stats()
	require.Less(t, st.Submits, int64(20))
	require.Equal(t, st.Submits, st.Accepted, "everything forwarded met the pool's difficulty")
	testutil.Eventually(t, func() bool {
		c := p.Summary().ByFamily[FamilySV1]
		return c.CustomAccepted+uint64(st.Accepted) == 20
	}, "local accepts counted")
}

func TestSV1_CustomDifficulty_Bad(t *testing.T) {
	// On a pool whose algorithm the proxy cannot hash (x11 here; it hashes
	// sha256d and scrypt) it cannot tell which shares meet the pool's
	// difficulty: a lower difficulty would send the pool shares it rejects,
	// so the miner keeps the pool's.
	pool := startSV1Pool(t, sv1pool.Config{})
	cfg := sv1Config(pool.Addr())
	cfg.Pools[0].Algo = "x11"
	_, addr := startProxy(t, cfg)
	m := testminer.DialSV1(t, addr)
	m.Reply(m.Send(`"method":"mining.suggest_difficulty","params":[%v]}`, tinyDiff/4))
	m.Login("rig", 0)
	require.Equal(t, tinyDiff, m.Diff, "the pool's difficulty, not the suggested one")
}

func TestSV1_MixedFamilies_Good(t *testing.T) {
	// One port, both families; each goes to pools of its own family only.
	cnPool := startPool(t, mockpool.Config{})
	svPool := startSV1Pool(t, sv1pool.Config{})
	cfg := sv1Config(svPool.Addr())
	cfg.Pools = append(cfg.Pools, upstream.PoolConfig{URL: cnPool.Addr(), User: "W"})
	p, addr := startProxy(t, cfg)
	sv := testminer.DialSV1(t, addr)
	sv.Login("asic-1", 0)
	cn := testminer.DialCN(t, addr)
	require.Nil(t, cn.Login("WALLET").Error)
	require.Equal(t, "true", string(sv.Submit().Result))
	require.Nil(t, cn.Submit().Error)
	require.Equal(t, int64(1), svPool.Stats().Accepted)
	require.Equal(t, int64(1), cnPool.Stats().Accepted)
	require.Zero(t, cnPool.Stats().Submits-1)
	for _, s := range svPool.Sessions() {
		require.Equal(t, "proxyacct", s.User, "the SV1 pool only ever saw the SV1 session")
	}
	miners, err := p.Miners(waitCtx(t))
	require.NoError(t, err)
	fams := map[Family]int{}
	for _, mv := range miners {
		fams[mv.Family]++
	}
	require.Equal(t, map[Family]int{FamilyCryptoNote: 1, FamilySV1: 1}, fams)
}

func TestSV1_WrongFamily_Bad(t *testing.T) {
	// Only a CryptoNote pool: an SV1 miner is refused, never sent there.
	cnPool := startPool(t, mockpool.Config{})
	cfg := baseConfig(cnPool.Addr())
	_, addr := startProxy(t, cfg)
	m := testminer.DialSV1(t, addr)
	r := m.Reply(m.Send(`"method":"mining.subscribe","params":["cgminer/4.12.0"]}`))
	require.Equal(t, 20, r.ErrCode(), r.Raw)
	require.NoError(t, cnPool.WaitFor(waitCtx(t), func(s mockpool.Stats) bool { return s.Logins == 1 }))
	require.Zero(t, cnPool.Stats().Submits)
	require.Equal(t, 1, cnPool.Stats().Connections, "only the proxy's own CryptoNote session, no SV1 traffic")
}

func TestSV1_PinnedBind_Bad(t *testing.T) {
	// A bind pinned to cryptonote treats SV1 lines as CryptoNote: unknown method.
	cnPool := startPool(t, mockpool.Config{})
	port, _ := freePort()
	cfg := baseConfig(cnPool.Addr())
	cfg.Bind = []BindConfig{{Host: "127.0.0.1", Port: port, Family: "cryptonote"}}
	_, addr := startProxy(t, cfg)
	m := testminer.DialCN(t, addr)
	m.Send(`{"id":1,"method":"mining.subscribe","params":[]}`)
	require.Equal(t, "Invalid method", m.ReadReply().Error.Message)
}

func TestSV1_PrefixExhaustion_Ugly(t *testing.T) {
	// extranonce2 of 4 bytes → 1-byte prefixes → 256 miners per session;
	// the 257th opens a second pool connection.
	pool := startSV1Pool(t, sv1pool.Config{Extranonce2Size: 4})
	_, addr := startProxy(t, sv1Config(pool.Addr()))
	miners := make([]*testminer.SV1, 260)
	for i := range miners {
		miners[i] = testminer.DialSV1(t, addr)
		miners[i].Login("rig", 0)
		require.Equal(t, 3, miners[i].E2Size)
	}
	require.Len(t, pool.Sessions(), 2)
	for _, m := range miners[250:] {
		r := m.Submit()
		require.Equal(t, "true", string(r.Result), r.Raw)
	}
	require.Zero(t, pool.Stats().Rejected)
}

func TestSV1_NoRoomToSplit_Ugly(t *testing.T) {
	// extranonce2 of 3 bytes cannot be split (miners keep at least 2): one
	// miner per pool session.
	pool := startSV1Pool(t, sv1pool.Config{Extranonce2Size: 3})
	_, addr := startProxy(t, sv1Config(pool.Addr()))
	for i := 0; i < 3; i++ {
		m := testminer.DialSV1(t, addr)
		m.Login("rig", 0)
		require.Equal(t, 3, m.E2Size, "the whole extranonce2, unsplit")
		require.Equal(t, "true", string(m.Submit().Result))
	}
	require.GreaterOrEqual(t, len(pool.Sessions()), 3)
}

func TestSV1_Failover_Ugly(t *testing.T) {
	// The pool connection drops; the new one brings another extranonce1.
	// Miners that take set_extranonce keep mining without reconnecting.
	pool := startSV1Pool(t, sv1pool.Config{})
	_, addr := startProxy(t, sv1Config(pool.Addr()))
	m := testminer.DialSV1(t, addr)
	m.XSub = true
	m.Login("rig", 0)
	old := append([]byte(nil), m.E1...)
	pool.DropConnections()
	for {
		if l := m.Read(); l.Method == "mining.set_extranonce" {
			break
		}
	}
	require.NotEqual(t, old, m.E1)
	m.WaitJob()
	r := m.Submit()
	require.Equal(t, "true", string(r.Result), r.Raw)
	require.Zero(t, pool.Stats().Rejected)
}
