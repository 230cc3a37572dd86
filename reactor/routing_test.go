package reactor

import (
	"context"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/sv1swarm"
	"forge.lthn.ai/core/go-proxy/bench/swarm"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// End-to-end routing over sockets, through the segmenting relays: mock
// pools that count the difficulty they accept, a proxy with a route split
// 70/30 and a rebalance every 2 s, and miners of two speeds (1:4). The
// split is read from the pools' own accepted difficulty over windows of
// shares; nothing sleeps.

// splitDeadline bounds each wait for a split (rebalancing runs every 2 s).
const splitDeadline = 90 * time.Second

// rebalanceEvery is the tests' rebalance interval, in seconds.
const rebalanceEvery = 2

// acceptedDiff reads a pool's accepted difficulty.
type acceptedDiff func() float64

// windowSplit waits until the pools together accepted at least total
// difficulty more, and returns the first pool's part of it.
func windowSplit(t *testing.T, pools []acceptedDiff, total float64) float64 {
	t.Helper()
	start := make([]float64, len(pools))
	for i, p := range pools {
		start[i] = p()
	}
	var got []float64
	deadline := time.Now().Add(splitDeadline)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		got = got[:0]
		var sum float64
		for i, p := range pools {
			d := p() - start[i]
			got = append(got, d)
			sum += d
		}
		if sum >= total {
			return got[0] / sum
		}
		require.True(t, time.Now().Before(deadline), "the pools accepted %.0f of %.0f in time", sum, total)
		<-tick.C // polling the pools' counters
	}
}

// waitSplit measures windows until the first pool's part is within tol of
// want, then measures one more window, which must be too (the split holds).
// It returns the two parts measured last.
func waitSplit(t *testing.T, pools []acceptedDiff, total, want, tol float64) (reached, held float64) {
	t.Helper()
	deadline := time.Now().Add(splitDeadline)
	for {
		reached = windowSplit(t, pools, total)
		if math.Abs(reached-want) <= tol {
			break
		}
		t.Logf("split %.3f, want %.2f ± %.2f: not yet", reached, want, tol)
		require.True(t, time.Now().Before(deadline), "split %.3f never reached %.2f ± %.2f", reached, want, tol)
	}
	held = windowSplit(t, pools, total)
	require.InDelta(t, want, held, tol, "the split holds in the next window")
	return reached, held
}

// routeView returns a route's view by name and family.
func routeView(t *testing.T, p *Proxy, name string, f Family) RouteView {
	t.Helper()
	for _, v := range p.Routes() {
		if v.Name == name && v.Family == f {
			return v
		}
	}
	t.Fatalf("no route %s/%s", f, name)
	return RouteView{}
}

// waitRebalances waits until the route has run n more rebalance rounds
// than it had when called.
func waitRebalances(t *testing.T, p *Proxy, name string, f Family, n uint64) {
	t.Helper()
	from := routeView(t, p, name, f).Rebalances
	testutil.Eventually(t, func() bool { return routeView(t, p, name, f).Rebalances >= from+n },
		"rebalance rounds")
}

// setWeights reloads the proxy's configuration with new weights for the
// targets of route 0.
func setWeights(t *testing.T, p *Proxy, weights ...float64) {
	t.Helper()
	next := p.Config().Clone()
	for i, w := range weights {
		next.Routes[0].Targets[i].Weight = w
	}
	_, err := p.Reload(next)
	require.NoError(t, err)
}

// startCNSwarm connects n CryptoNote miners submitting rate shares/s each.
func startCNSwarm(t *testing.T, addr, rigPrefix string, n int, rate float64) *swarm.Swarm {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sw, err := swarm.Start(ctx, swarm.Config{ProxyAddr: addr, Miners: n, RigIDPrefix: rigPrefix,
		SharesPerSecond: float64(n) * rate, Loops: 1, Timeout: 30 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); sw.Close() })
	return sw
}

// logBuffer is a proxy logger at info level into a buffer the test reads.
func logBuffer() (*testutil.SyncBuffer, Option) {
	buf := &testutil.SyncBuffer{}
	return buf, WithLogger(slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
}

// TestRouting_CN_Ugly is the farm at test size for CryptoNote:
// 40 miners of two speeds (1:4) on a route 70/30 across two pools, two
// event loops. The pools' accepted difficulty reaches 70/30 ± 5 points;
// a reload to 50/50 is met two rebalance rounds later; when the second
// pool's chain dies its miners go to the first, and come back when it
// does. No miner is disconnected, every share is answered once, none is
// accepted twice.
func TestRouting_CN_Ugly(t *testing.T) {
	pa := startPool(t, mockpool.Config{Seed: 11, Difficulty: 1000, JobInterval: 2 * time.Second})
	pb := startPool(t, mockpool.Config{Seed: 12, Difficulty: 1000, JobInterval: 2 * time.Second})
	cfg := &Config{EventLoops: 2, Retries: 1, RetryPause: 1, Rebalance: rebalanceEvery,
		Pools: []upstream.PoolConfig{{Name: "a", URL: pa.Addr(), User: "W", Pass: "x"}, {Name: "b", URL: pb.Addr(), User: "W", Pass: "x"}},
		Routes: []RouteConfig{{Name: "farm", Targets: []TargetConfig{
			{Pools: []string{"a"}, Weight: 70}, {Pools: []string{"b"}, Weight: 30}}}},
	}
	logs, withLog := logBuffer()
	p, addr := startProxy(t, cfg, withLog)
	fast := startCNSwarm(t, addr, "fast-", 20, 8)
	slow := startCNSwarm(t, addr, "slow-", 20, 2)
	swarms := []*swarm.Swarm{fast, slow}
	for _, sw := range swarms {
		require.NoError(t, sw.WaitFor(waitCtx(t), func(s swarm.Stats) bool { return s.LoggedIn == 20 }))
	}
	pools := []acceptedDiff{func() float64 { return pa.Stats().AcceptedDiff }, func() float64 { return pb.Stats().AcceptedDiff }}
	const window = 800 * 1000 // 800 shares of difficulty 1000: ~4 s

	reached, held := waitSplit(t, pools, window, 0.70, 0.05)
	t.Logf("70/30: pool a took %.3f, then %.3f", reached, held)

	setWeights(t, p, 50, 50)
	waitRebalances(t, p, "farm", FamilyCryptoNote, 2)
	after := windowSplit(t, pools, window)
	t.Logf("50/50 after two rebalances: pool a took %.3f", after)
	require.InDelta(t, 0.50, after, 0.05, "50/50 within two rebalance intervals")

	// Pool b's chain dies: its miners go to a, nobody is disconnected.
	pb.SetBehavior(mockpool.Behavior{RejectLogin: "down for maintenance"})
	pb.DropConnections()
	testutil.Eventually(t, func() bool {
		v := routeView(t, p, "farm", FamilyCryptoNote)
		return !v.Targets[1].Up && v.Targets[1].Miners == 0
	}, "target b down and empty")
	alone := windowSplit(t, pools, window)
	require.Equal(t, 1.0, alone, "pool a takes everything while b is down")

	// It comes back: rebalancing restores the weights.
	pb.SetBehavior(mockpool.Behavior{})
	reached, held = waitSplit(t, pools, window, 0.50, 0.05)
	t.Logf("b back: pool a took %.3f, then %.3f", reached, held)

	v := routeView(t, p, "farm", FamilyCryptoNote)
	require.Greater(t, v.Moves, uint64(0))
	require.Equal(t, 40, v.Miners)
	require.Contains(t, logs.String(), "msg=rebalance route=farm family=cryptonote moved=")

	// Nothing lost or duplicated, nobody disconnected.
	for _, sw := range swarms {
		require.NoError(t, sw.WaitFor(waitCtx(t), func(s swarm.Stats) bool { return s.SharesSent == s.Accepted+s.Rejected }),
			"every share sent is answered")
		st := sw.Stats()
		require.Zero(t, st.Closed, "no miner disconnected: %v", st.Errors)
		for kind := range st.Errors {
			require.True(t, strings.HasPrefix(kind, "reject: "), "only rejections (b's shares when it died): %v", st.Errors)
		}
	}
	for _, pool := range []*mockpool.Pool{pa, pb} {
		require.Zero(t, pool.Stats().Duplicates)
	}
}

// startSV1Swarm connects n stratum v1 miners that ask for extranonce
// updates and mine (for real) rate shares/s each.
func startSV1Swarm(t *testing.T, addr, worker string, n int, rate float64) *sv1swarm.Swarm {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sw, err := sv1swarm.Start(ctx, sv1swarm.Config{ProxyAddr: addr, Miners: n, User: "farm", WorkerPrefix: worker,
		ExtranonceSubscribe: true, SharesPerSecond: float64(n) * rate, Workers: 1, Loops: 1, Timeout: 30 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); sw.Close() })
	return sw
}

// TestRouting_SV1_Ugly is TestRouting_CN_Ugly for stratum v1 miners that
// subscribed to extranonce changes (aggregate mode, real sha256d shares):
// they move by mining.set_extranonce and a clean job, without
// reconnecting.
func TestRouting_SV1_Ugly(t *testing.T) {
	const diff = 1.0 / (1 << 22) // ~1000 hashes a share
	pa := startSV1Pool(t, sv1pool.Config{Seed: 21, Difficulty: diff, JobInterval: 2 * time.Second})
	pb := startSV1Pool(t, sv1pool.Config{Seed: 22, Difficulty: diff, JobInterval: 2 * time.Second})
	cfg := sv1Config()
	cfg.EventLoops, cfg.Rebalance = 2, rebalanceEvery
	cfg.Pools = []upstream.PoolConfig{
		{Name: "a", URL: pa.Addr(), User: "proxyacct", Pass: "x", Family: upstream.SV1},
		{Name: "b", URL: pb.Addr(), User: "proxyacct", Pass: "x", Family: upstream.SV1}}
	cfg.Routes = []RouteConfig{{Name: "btc", Targets: []TargetConfig{
		{Pools: []string{"a"}, Weight: 70}, {Pools: []string{"b"}, Weight: 30}}}}
	logs, withLog := logBuffer()
	p, addr := startProxy(t, cfg, withLog)
	fast := startSV1Swarm(t, addr, "fast", 10, 8)
	slow := startSV1Swarm(t, addr, "slow", 10, 2)
	swarms := []*sv1swarm.Swarm{fast, slow}
	for _, sw := range swarms {
		require.NoError(t, sw.WaitFor(waitCtx(t), func(s sv1swarm.Stats) bool { return s.Authorized == 10 }))
	}
	pools := []acceptedDiff{func() float64 { return pa.Stats().AcceptedDiff }, func() float64 { return pb.Stats().AcceptedDiff }}
	window := 500 * diff // 500 shares: ~5 s

	reached, held := waitSplit(t, pools, window, 0.70, 0.05)
	t.Logf("70/30: pool a took %.3f, then %.3f", reached, held)

	setWeights(t, p, 50, 50)
	waitRebalances(t, p, "btc", FamilySV1, 2)
	after := windowSplit(t, pools, window)
	t.Logf("50/50 after two rebalances: pool a took %.3f", after)
	require.InDelta(t, 0.50, after, 0.05, "50/50 within two rebalance intervals")

	pb.SetBehavior(sv1pool.Behavior{RejectAuthorize: true})
	pb.DropConnections()
	testutil.Eventually(t, func() bool {
		v := routeView(t, p, "btc", FamilySV1)
		return !v.Targets[1].Up && v.Targets[1].Miners == 0
	}, "target b down and empty")
	require.Equal(t, 1.0, windowSplit(t, pools, window), "pool a takes everything while b is down")

	pb.SetBehavior(sv1pool.Behavior{})
	reached, held = waitSplit(t, pools, window, 0.50, 0.05)
	t.Logf("b back: pool a took %.3f, then %.3f", reached, held)

	v := routeView(t, p, "btc", FamilySV1)
	require.Greater(t, v.Moves, uint64(0))
	require.Equal(t, 20, v.Miners)
	require.Contains(t, logs.String(), "msg=rebalance route=btc family=sv1 moved=")
	var extranonces int64
	for _, sw := range swarms {
		require.NoError(t, sw.WaitFor(waitCtx(t), func(s sv1swarm.Stats) bool { return s.SharesSent == s.Accepted+s.Rejected }),
			"every share sent is answered")
		st := sw.Stats()
		require.Zero(t, st.Closed, "no miner disconnected: %v", st.Errors)
		require.Zero(t, st.Reconnects, "miners with extranonce updates never reconnect")
		extranonces += st.ExtranonceChanges
		for kind := range st.Errors {
			require.True(t, strings.HasPrefix(kind, "reject: "), "only rejections (b's shares when it died): %v", st.Errors)
		}
	}
	require.Greater(t, extranonces, int64(0), "moved by mining.set_extranonce")
	for _, pool := range []*sv1pool.Pool{pa, pb} {
		st := pool.Stats()
		require.Zero(t, st.Duplicates+st.Overlaps, "no share twice, no two miners on one extranonce")
	}
}
