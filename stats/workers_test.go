package stats

import (
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWorkers_Get_Good(t *testing.T) {
	w := NewWorkers(10)
	a := w.Get("rig-a", t0)
	require.NotNil(t, a)
	require.Equal(t, "rig-a", a.Name)
	require.Equal(t, uint32(t0), a.LastSeen)
	require.Same(t, a, w.Get("rig-a", t0+5), "one record per name")
	require.Equal(t, 1, w.Len())
}

func TestWorkers_Get_Bad(t *testing.T) {
	// At the cap new names are not tracked (counted as dropped); known
	// names still are. Raising the cap makes room.
	w := NewWorkers(2)
	require.NotNil(t, w.Get("a", t0))
	require.NotNil(t, w.Get("b", t0))
	require.Nil(t, w.Get("c", t0))
	require.Nil(t, w.Get("d", t0))
	require.Equal(t, uint64(2), w.Dropped)
	require.NotNil(t, w.Get("a", t0))
	require.Equal(t, 2, w.Len())
	w.SetMax(3)
	require.NotNil(t, w.Get("c", t0))
	w.SetMax(1) // lowering keeps existing workers until evicted
	require.Equal(t, 3, w.Len())
}

func TestWorkers_Evict_Good(t *testing.T) {
	w := NewWorkers(10)
	idle := w.Get("idle", t0)
	busy := w.Get("busy", t0)
	busy.Connections = 1
	recent := w.Get("recent", t0)
	recent.LastSeen = uint32(t0 + 50)
	var gone []string
	n := w.Evict(t0+100, 100, func(wk *Worker) { gone = append(gone, wk.Name) })
	require.Equal(t, 1, n)
	require.Equal(t, []string{"idle"}, gone)
	require.Equal(t, uint64(1), w.Evicted)
	require.Equal(t, 2, w.Len())
	require.NotSame(t, idle, w.Get("idle", t0+100), "an evicted name starts afresh")
	require.Zero(t, w.Evict(t0+100, 100, nil))
	var names []string
	w.Each(func(wk *Worker) { names = append(names, wk.Name) })
	require.ElementsMatch(t, []string{"busy", "recent", "idle"}, names)
}

// A day-long run in virtual time: a ticker evicts once a minute with the
// default 24 h expiry. Idle workers go after 24 h; a worker with a miner
// connected never does; a worker active at 12 h goes 24 h after that.
func TestWorkers_Evict_Ugly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const expire = 24 * 3600
		var mu sync.Mutex
		w := NewWorkers(100)
		now := time.Now().Unix()
		w.Get("idle", now)
		w.Get("connected", now).Connections = 1
		w.Get("active", now)
		var gone []string
		done := make(chan struct{})
		go func() {
			tick := time.NewTicker(time.Minute)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					mu.Lock()
					w.Evict(time.Now().Unix(), expire, func(wk *Worker) { gone = append(gone, wk.Name) })
					mu.Unlock()
				}
			}
		}()
		check := func(at time.Duration, want ...string) {
			t.Helper()
			time.Sleep(at - time.Duration(time.Now().Unix()-now)*time.Second)
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, want, gone, "at %v", at)
		}
		check(12 * time.Hour)
		mu.Lock()
		w.Get("active", 0).LastSeen = uint32(time.Now().Unix())
		mu.Unlock()
		check(24*time.Hour - time.Minute)
		check(25*time.Hour, "idle")
		check(36*time.Hour+2*time.Minute, "idle", "active")
		check(100*time.Hour, "idle", "active")
		mu.Lock()
		require.Equal(t, 1, w.Len(), "the connected worker stays")
		require.Equal(t, uint64(2), w.Evicted)
		mu.Unlock()
		close(done)
	})
}

func TestWorker_Speed_Good(t *testing.T) {
	// Speed is the hashes of the five whole minutes before the current
	// one ÷ 300 s, recomputed when the minute turns.
	m0 := t0 / 60
	var wk Worker
	wk.AddHashes(m0*60, 300)
	wk.AddHashes(m0*60+59, 300)
	require.Zero(t, wk.Speed(), "the current minute does not count yet")
	wk.Tick((m0 + 1) * 60)
	require.InDelta(t, 2.0, wk.Speed(), 1e-12)
	for k := int64(1); k <= 4; k++ {
		wk.AddHashes((m0+k)*60+1, 600)
	}
	wk.Tick((m0 + 5) * 60)
	require.InDelta(t, (600.0+4*600)/300, wk.Speed(), 1e-12)
	wk.Tick((m0 + 6) * 60)
	require.InDelta(t, 4*600.0/300, wk.Speed(), 1e-12, "minute m0 left the window")
}

func TestWorker_Speed_Bad(t *testing.T) {
	// A worker that stops submitting: ticks alone bring Speed to zero,
	// even across a long gap; a time in the past changes nothing.
	m0 := t0 / 60
	var wk Worker
	for k := int64(0); k < 10; k++ {
		wk.AddHashes((m0+k)*60, 3000)
	}
	wk.Tick((m0 + 10) * 60)
	require.InDelta(t, 50.0, wk.Speed(), 1e-12)
	wk.Tick((m0 + 2) * 60)
	require.InDelta(t, 50.0, wk.Speed(), 1e-12)
	wk.Tick((m0 + 13) * 60)
	require.InDelta(t, 2*3000.0/300, wk.Speed(), 1e-12)
	wk.Tick((m0 + 1000) * 60)
	require.Zero(t, wk.Speed())
}

func TestWorkers_Tick_Ugly(t *testing.T) {
	w := NewWorkers(10)
	m0 := t0 / 60
	a, b := w.Get("a", t0), w.Get("b", t0)
	a.AddHashes(m0*60, 600)
	b.AddHashes(m0*60, 1200)
	w.Tick((m0 + 1) * 60)
	require.InDelta(t, 2.0, a.Speed(), 1e-12)
	require.InDelta(t, 4.0, b.Speed(), 1e-12)
}

func TestMergeWorkers_Good(t *testing.T) {
	// The same worker on two event loops: counters and rates add up, the
	// most recently seen loop's address and labels win, sorted by name.
	a := &Worker{Name: "rig", Connections: 1, Accepted: 10, Rejected: 1, Invalid: 2,
		Hashes: 1000, LastShare: uint32(t0 + 5), LastSeen: uint32(t0 + 5), Submitted: 13, SubmittedOne: 1300,
		Family: 1, Where: &Placement{User: "W1", Pool: "pool-a:3333", Algo: "rx/0", Divider: 1}, Difficulty: 100}
	a.SetLastIP(netip.MustParseAddr("10.0.0.1"))
	a.AddHashes(t0-60, 900) // 3 H/s over the five minutes before now
	a.Tick(t0)
	a.Rates.Add(t0, 600)
	b := &Worker{Name: "rig", Connections: 2, Accepted: 5, Hashes: 500,
		LastShare: uint32(t0 + 3), LastSeen: uint32(t0 + 9), Submitted: 5, SubmittedOne: 500,
		Family: 1, Where: &Placement{User: "W2", Pool: "pool-b:3333", Algo: "rx/0", Divider: 1}, Difficulty: 200}
	b.SetLastIP(netip.MustParseAddr("10.0.0.2"))
	b.AddHashes(t0-60, 300)
	b.Tick(t0)
	b.Rates.Add(t0, 1200)
	c := &Worker{Name: "alpha", Accepted: 1}
	now := t0 + 10
	out := MergeWorkers([]WorkerView{a.View(now)}, []WorkerView{c.View(now), b.View(now)})
	require.Len(t, out, 2)
	require.Equal(t, "alpha", out[0].Name)
	m := out[1]
	require.Equal(t, "rig", m.Name)
	require.Equal(t, netip.MustParseAddr("10.0.0.2"), m.LastIP)
	require.Equal(t, uint64(3), m.Connections)
	require.Equal(t, uint64(15), m.Accepted)
	require.Equal(t, uint64(1), m.Rejected)
	require.Equal(t, uint64(2), m.Invalid)
	require.Equal(t, 1500.0, m.Hashes)
	require.Equal(t, t0+5, m.LastShare)
	require.Equal(t, uint64(18), m.Submitted)
	require.Equal(t, 1800.0, m.SubmittedOne)
	require.Equal(t, 1500.0, m.OneAccepted)
	require.Equal(t, 4.0, m.Speed)
	require.Equal(t, "W2", m.User)
	require.Equal(t, "pool-b:3333", m.Pool)
	require.Equal(t, 200.0, m.Difficulty)
	ra, rb := a.Rates.At(now), b.Rates.At(now)
	for i := range m.Hashrate {
		require.InEpsilon(t, ra[i]+rb[i], m.Hashrate[i], 1e-6)
	}
	require.Empty(t, MergeWorkers())
}

func TestWorker_View_Bad(t *testing.T) {
	// A connection count that went negative (a bug elsewhere) shows as 0.
	v := (&Worker{Name: "x", Connections: -1}).View(t0)
	require.Zero(t, v.Connections)
}
