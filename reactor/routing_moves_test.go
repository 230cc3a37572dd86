package reactor

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/upstream"
	"forge.lthn.ai/core/go-proxy/vardiff"
)

// Moving single miners, with scripted miners: what a move sends, where a
// share in flight goes, how routes match by worker, and where an SV1
// miner asked to reconnect lands.

// twoTargets is a one-loop proxy config with pools a and b (family f) and
// route r over them, 1:1.
func twoTargets(f upstream.Family, a, b string) *Config {
	cfg := &Config{EventLoops: 1, Retries: 1, RetryPause: 1, Rebalance: 3600}
	for _, x := range []struct{ name, url string }{{"a", a}, {"b", b}} {
		cfg.Pools = append(cfg.Pools, upstream.PoolConfig{Name: x.name, URL: x.url, User: "W", Pass: "x", Family: f})
	}
	cfg.Routes = []RouteConfig{{Name: "r", Targets: []TargetConfig{{Pools: []string{"a"}, Weight: 1}, {Pools: []string{"b"}, Weight: 1}}}}
	return cfg
}

// dropTarget reloads the proxy with route 0 reduced to its target i: the
// miners of the others move.
func dropTarget(t *testing.T, p *Proxy, keep int) {
	t.Helper()
	next := p.Config().Clone()
	next.Routes[0].Targets = next.Routes[0].Targets[keep : keep+1]
	_, err := p.Reload(next)
	require.NoError(t, err)
}

// A CryptoNote miner moved to another target gets that target's job with
// a new NiceHash byte, without reconnecting; a share it found for the old
// job and sends after the move is answered by the old pool; its next
// shares go to the new one.
func TestRouting_MoveInFlight_Good(t *testing.T) {
	pa := startPool(t, mockpool.Config{Seed: 31})
	pb := startPool(t, mockpool.Config{Seed: 32})
	p, addr := startProxy(t, twoTargets("", pa.Addr(), pb.Addr()))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	require.Equal(t, 1, pa.Stats().Logins, "first miner on the first target")
	old := m.Job
	nonce, result := m.Share() // found on a's job, sent after the move

	dropTarget(t, p, 1)
	for m.Read().Method != "job" {
	}
	require.NotEqual(t, old.JobID, m.Job.JobID, "b's job")

	r := m.SubmitRaw(m.Session, old.JobID, nonce, result)
	require.Nil(t, r.Error, r.Raw)
	require.Equal(t, int64(1), pa.Stats().Accepted, "the old pool answered the share for its job")
	require.Equal(t, "OK", m.Submit().Result.Status)
	require.Equal(t, int64(1), pb.Stats().Accepted, "the next share went to the new pool")
	require.Equal(t, int64(1), pa.Stats().Accepted)
	require.Equal(t, uint64(1), routeView(t, p, "r", FamilyCryptoNote).Moves)
	testutil.Eventually(t, func() bool { return routeView(t, p, "r", FamilyCryptoNote).Targets[0].Miners == 1 },
		"the miner counted on b (figures of the last second)")
	require.Equal(t, uint64(1), p.Summary().Counters.Connections, "never reconnected")
}

// A share for the job of a session the miner left after that session is
// gone is answered here, as an invalid job id, and counted.
func TestRouting_MoveInFlight_Bad(t *testing.T) {
	ms := newMemShard(t, nil)
	m, sink := ms.addMiner(t, "WALLET")
	old := ms.mp
	line := ms.submitLine(m, 1)
	// Move m by hand to a second session with another job, then end the
	// first.
	mp2 := &mapper{s: ms.s, id: 2, family: FamilyCryptoNote, kind: kindNiceHash, pools: old.pools}
	mp2.fo = upstream.NewFailover(1, upstream.FailoverPolicy{Retries: 1})
	mp2.table = newNiceHashTable()
	mp2.job = ms.job
	mp2.job.JobID = "job-9"
	mp2.jobs.Set("job-9", false)
	mp2.hasJob, mp2.state, mp2.jobDiff = true, mapperActive, 1000
	slot := m.fixed
	require.True(t, mp2.addMiner(m))
	old.release(m, slot)
	m.prev, m.prevFixed = old, slot
	old.close()
	require.True(t, m.handleLine(line))
	require.Contains(t, string(sink.last), `"`+stratum.MsgInvalidJobID+`"`, "answered here")
	require.Equal(t, uint64(1), ms.s.fc[FamilyCryptoNote].Invalid, "and counted")
}

// Routes match a CryptoNote miner by its worker name (rig id here) at
// login.
func TestRouting_MatchWorker_Good(t *testing.T) {
	pa := startPool(t, mockpool.Config{Seed: 41})
	pb := startPool(t, mockpool.Config{Seed: 42})
	cfg := baseConfig()
	cfg.Pools = []upstream.PoolConfig{{Name: "a", URL: pa.Addr(), User: "W"}, {Name: "b", URL: pb.Addr(), User: "W"}}
	cfg.Routes = []RouteConfig{
		{Name: "rack1", Match: RouteMatch{Worker: `^rack1\.`}, Targets: []TargetConfig{{Pools: []string{"b"}, Weight: 1}}},
		{Name: "rest", Targets: []TargetConfig{{Pools: []string{"a"}, Weight: 1}}},
	}
	_, addr := startProxy(t, cfg)
	for _, rig := range []string{"rack1.m01", "rack2.m01", "rack1.m02"} {
		m := testminer.DialCN(t, addr)
		m.RigID = rig
		require.Nil(t, m.Login("WALLET").Error)
		require.Equal(t, "OK", m.Submit().Result.Status)
	}
	require.Equal(t, int64(2), pb.Stats().Accepted, "rack1's miners")
	require.Equal(t, int64(1), pa.Stats().Accepted, "the rest")
}

// sv1Subscribe sends mining.subscribe with a session id to resume (none
// when empty) and returns the extranonce1 and session id answered.
func sv1Subscribe(t *testing.T, m *testminer.SV1, session string) (e1 []byte, sid string) {
	t.Helper()
	params := `["cpuminer/2.5.1"]`
	if session != "" {
		params = `["cpuminer/2.5.1",` + `"` + session + `"]`
	}
	r := m.Reply(m.Send(`"method":"mining.subscribe","params":%s}`, params))
	var res []json.RawMessage
	require.NoError(t, json.Unmarshal(r.Result, &res), r.Raw)
	var subs [][]string
	require.NoError(t, json.Unmarshal(res[0], &subs), r.Raw)
	var e1hex string
	require.NoError(t, json.Unmarshal(res[1], &e1hex), r.Raw)
	require.NoError(t, json.Unmarshal(res[2], &m.E2Size), r.Raw)
	m.E1, _ = hex.DecodeString(e1hex)
	return m.E1, subs[0][1]
}

// onPool reports whether an extranonce1 was handed out on a session of
// pool p (it starts with that session's extranonce1).
func onPool(p *sv1pool.Pool, e1 []byte) bool {
	for _, s := range p.Sessions() {
		pe, _ := hex.DecodeString(s.Extranonce1)
		if s.Connected && len(pe) > 0 && bytes.HasPrefix(e1, pe) {
			return true
		}
	}
	return false
}

// An SV1 miner that did not subscribe to extranonce changes is asked to
// reconnect when it moves; its resubscribe with the session id it had
// lands on the planned target (not where placement alone would put it).
func TestRouting_SV1Reconnect_Good(t *testing.T) {
	pa := startSV1Pool(t, sv1pool.Config{Seed: 51})
	pb := startSV1Pool(t, sv1pool.Config{Seed: 52})
	cfg := twoTargets(upstream.SV1, pa.Addr(), pb.Addr())
	p, addr := startProxy(t, cfg)
	m := testminer.DialSV1(t, addr)
	e1, sid := sv1Subscribe(t, m, "")
	require.True(t, onPool(pa, e1), "first miner on the first target")
	require.True(t, m.Reply(m.Send(`"method":"mining.authorize","params":["farm.rig1","x"]}`)).Accepted())

	dropTarget(t, p, 1)
	for m.Read().Method != "client.reconnect" {
	}
	m.ExpectClosed()
	v := routeView(t, p, "r", FamilySV1)
	require.Equal(t, uint64(1), v.Moves)

	m2 := testminer.DialSV1(t, addr)
	e1, _ = sv1Subscribe(t, m2, sid)
	require.True(t, onPool(pb, e1), "landed on its planned target")
	require.True(t, m2.Reply(m2.Send(`"method":"mining.authorize","params":["farm.rig1","x"]}`)).Accepted())
	m2.WaitJob()
	m2.Worker = "farm.rig1"
	require.True(t, m2.Submit().Accepted())
	require.Equal(t, int64(1), pb.Stats().Accepted)

	// The plan decides even against placement: planned onto a (weight 1
	// of 1001), a miner lands there.
	next := p.Config().Clone()
	next.Routes[0].Targets = []TargetConfig{{Pools: []string{"a"}, Weight: 1}, {Pools: []string{"b"}, Weight: 1000}}
	_, err := p.Reload(next)
	require.NoError(t, err)
	p.router.plans.put(planKey([]byte("resume-me")), routePlan{family: FamilySV1, route: "r", target: "a"}, time.Now().Unix())
	m3 := testminer.DialSV1(t, addr)
	e1, _ = sv1Subscribe(t, m3, "resume-me")
	require.True(t, onPool(pa, e1))
	// A plan serves once: the same id again (another miner claiming it)
	// is placed by the weights.
	m4 := testminer.DialSV1(t, addr)
	e1, _ = sv1Subscribe(t, m4, "resume-me")
	require.True(t, onPool(pb, e1))
}

// SV1 routes that match by worker are decided at mining.authorize: a
// miner with extranonce updates placed by its port moves to its worker's
// route by mining.set_extranonce before its first job; one without is
// asked to reconnect once, and comes back to its route with its session
// id (or, without it, stays where its port put it: no reconnect loop).
func TestRouting_SV1MatchWorker_Good(t *testing.T) {
	pa := startSV1Pool(t, sv1pool.Config{Seed: 61})
	pb := startSV1Pool(t, sv1pool.Config{Seed: 62})
	cfg := sv1Config()
	cfg.Pools = []upstream.PoolConfig{
		{Name: "a", URL: pa.Addr(), User: "proxyacct", Family: upstream.SV1},
		{Name: "b", URL: pb.Addr(), User: "proxyacct", Family: upstream.SV1}}
	cfg.Routes = []RouteConfig{
		{Name: "rack1", Match: RouteMatch{Worker: `^farm\.rack1`}, Targets: []TargetConfig{{Pools: []string{"b"}, Weight: 1}}},
		{Name: "rest", Targets: []TargetConfig{{Pools: []string{"a"}, Weight: 1}}},
	}
	_, addr := startProxy(t, cfg)

	x := testminer.DialSV1(t, addr)
	e1, _ := sv1Subscribe(t, x, "")
	require.True(t, onPool(pa, e1), "placed by its port before its name is known")
	require.Empty(t, x.Reply(x.Send(`"method":"mining.extranonce.subscribe","params":[]}`)).Error)
	require.True(t, x.Reply(x.Send(`"method":"mining.authorize","params":["farm.rack1.m1","x"]}`)).Accepted())
	for x.Read().Method != "mining.set_extranonce" {
	}
	x.WaitJob()
	require.True(t, onPool(pb, x.E1), "moved by mining.set_extranonce")
	x.Worker = "farm.rack1.m1"
	require.True(t, x.Submit().Accepted())
	require.Equal(t, int64(1), pb.Stats().Accepted)

	y := testminer.DialSV1(t, addr)
	_, sid := sv1Subscribe(t, y, "")
	require.True(t, y.Reply(y.Send(`"method":"mining.authorize","params":["farm.rack1.m2","x"]}`)).Accepted())
	for y.Read().Method != "client.reconnect" {
	}
	y.ExpectClosed()
	y2 := testminer.DialSV1(t, addr)
	e1, _ = sv1Subscribe(t, y2, sid)
	require.True(t, onPool(pb, e1), "back with its session id: its route")

	z := testminer.DialSV1(t, addr)
	sv1Subscribe(t, z, "")
	require.True(t, z.Reply(z.Send(`"method":"mining.authorize","params":["farm.rack1.m3","x"]}`)).Accepted())
	for z.Read().Method != "client.reconnect" {
	}
	z.ExpectClosed()
	z2 := testminer.DialSV1(t, addr)
	sv1Subscribe(t, z2, "") // no session id
	require.True(t, z2.Reply(z2.Send(`"method":"mining.authorize","params":["farm.rack1.m3","x"]}`)).Accepted())
	z2.WaitJob()
	require.True(t, onPool(pa, z2.E1), "asked once: stays where its port put it")
	z2.Worker = "farm.rack1.m3"
	require.True(t, z2.Submit().Accepted())
}

// Routing works in simple mode too: each miner's own session is on its
// target.
func TestRouting_Simple_Good(t *testing.T) {
	pa := startPool(t, mockpool.Config{Seed: 71})
	pb := startPool(t, mockpool.Config{Seed: 72})
	cfg := twoTargets("", pa.Addr(), pb.Addr())
	cfg.Mode = "simple"
	p, addr := startProxy(t, cfg)
	for i := 0; i < 4; i++ {
		m := testminer.DialCN(t, addr)
		require.Nil(t, m.Login("WALLET").Error)
		require.Equal(t, "OK", m.Submit().Result.Status)
	}
	require.Equal(t, int64(2), pa.Stats().Accepted)
	require.Equal(t, int64(2), pb.Stats().Accepted)
	testutil.Eventually(t, func() bool {
		v := routeView(t, p, "r", FamilyCryptoNote)
		return v.Targets[0].Miners == 2 && v.Targets[1].Miners == 2
	}, "two miners on each target")
	ups, err := p.Upstreams(context.Background())
	require.NoError(t, err)
	require.Len(t, ups, 4)
}

// An SV1 vardiff miner that moves to another target (by
// mining.set_extranonce) while it still holds a share for the job variant
// it had on the session it left: the share is found on that session, at
// the miner's old extranonce, and accepted, as a CryptoNote miner's is.
func TestRouting_SV1VardiffMoveInFlight_Good(t *testing.T) {
	pa := startSV1Pool(t, sv1pool.Config{Seed: 53})
	pb := startSV1Pool(t, sv1pool.Config{Seed: 54})
	cfg := twoTargets(upstream.SV1, pa.Addr(), pb.Addr())
	d0 := tinyDiff / 64
	cfg.Vardiff = vardiff.Config{Enabled: true, InitialDiff: d0, MinDiff: 1e-12}
	p, addr := startProxy(t, cfg)
	m := testminer.DialSV1(t, addr)
	m.XSub = true
	m.Login("farm.rig1", 0)
	require.True(t, onPool(pa, m.E1), "first miner on the first target")
	base := m.Job.JobID
	for range 16 { // shares far faster than the target: a new difficulty at once
		require.True(t, m.Submit().Accepted())
	}
	if m.Job.JobID == base { // not read already with a forwarded share's answer
		m.WaitJob()
	}
	require.Equal(t, base+"~1", m.Job.JobID, "the job re-sent with the miner's difficulty")
	variant := m.Job.JobID
	e2, ntime, nonce, vbits := m.Share() // found on a's variant, sent after the move

	dropTarget(t, p, 1)
	for l := m.Read(); l.Method != "mining.set_extranonce"; l = m.Read() {
	}
	m.WaitJob()
	require.True(t, onPool(pb, m.E1), "moved to b")
	require.Equal(t, uint64(1), routeView(t, p, "r", FamilySV1).Moves)

	r := m.SubmitRaw(variant, e2, ntime, nonce, vbits)
	require.True(t, r.Accepted(), "the old session's variant share: %s", r.Raw)
	require.True(t, m.Submit().Accepted(), "and the next share on b")
	require.Zero(t, pa.Stats().Rejected)
	require.Zero(t, pb.Stats().Rejected)
	require.Equal(t, uint64(1), p.Summary().Counters.Connections, "never reconnected")
}
