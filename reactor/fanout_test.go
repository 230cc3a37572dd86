package reactor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/upstream"
	"forge.lthn.ai/core/go-proxy/vardiff"
)

// Sliced fan-out on a loop-free shard: the test plays the loop and runs
// each slice itself (fan.manual), so the order of writes is exact.

// fanMiners logs n in-memory miners in on ms's session and returns their
// sinks; then it makes the shard's fan-outs manual with size writes per
// slice.
func fanMiners(t *testing.T, ms *memShard, n, size int) ([]*miner, []*memSink) {
	t.Helper()
	miners, sinks := make([]*miner, n), make([]*memSink, n)
	for i := range miners {
		miners[i], sinks[i] = ms.addMiner(t, "WALLET")
	}
	ms.s.fan.manual, ms.s.fan.size = true, size
	return miners, sinks
}

// fanJob sends job id from the pool and runs the slices to the end,
// returning the miners in the order they got it (indexes into sinks).
func fanJob(t *testing.T, ms *memShard, sinks []*memSink, id string) []int {
	t.Helper()
	before := make([]int, len(sinks))
	for i, s := range sinks {
		before[i] = s.n
	}
	var order []int
	seen := func() {
		for i, s := range sinks {
			if s.n != before[i] {
				require.Equal(t, before[i]+1, s.n, "miner %d: one write per job", i)
				require.Contains(t, string(s.last), id)
				before[i] = s.n
				order = append(order, i)
			}
		}
	}
	ms.job.JobID = id
	ms.mp.setJob(&ms.job, true)
	seen()
	for n := 0; len(ms.s.fan.q) > 0; n++ {
		require.Less(t, n, 10*len(sinks), "the fan-out ends")
		ms.s.fanSlice()
		seen()
	}
	return order
}

// Each job reaches every miner once, in slices, from a start that rotates
// per job: the last miner differs from one job to the next.
func TestFanout_Rotation_Good(t *testing.T) {
	ms := newMemShard(t, nil)
	_, sinks := fanMiners(t, ms, 10, 1)
	var lasts []int
	for i := 0; i < 6; i++ {
		order := fanJob(t, ms, sinks, "job-r"+string(rune('a'+i)))
		require.Len(t, order, 10)
		seen := map[int]bool{}
		for _, x := range order {
			seen[x] = true
		}
		require.Len(t, seen, 10, "every miner once")
		if n := len(lasts); n > 0 {
			require.NotEqual(t, lasts[n-1], order[9], "job %d: another miner is last", i)
		}
		lasts = append(lasts, order[9])
	}
}

// A newer job supersedes an unfinished fan-out: the miners still waiting
// get only the newest job; those already served get the newest too.
func TestFanout_Supersede_Good(t *testing.T) {
	ms := newMemShard(t, nil)
	_, sinks := fanMiners(t, ms, 10, 3)
	ms.job.JobID = "job-old"
	ms.mp.setJob(&ms.job, true)
	ms.s.fanSlice() // 3 miners
	served := map[int]bool{}
	for i, s := range sinks {
		if s.n == 2 {
			served[i] = true
		}
	}
	require.Len(t, served, 3)
	require.Len(t, ms.s.fan.q, 1, "still under way")

	order := fanJob(t, ms, sinks, "job-new")
	require.Len(t, order, 10)
	for i, s := range sinks {
		require.Contains(t, string(s.last), `"job_id":"job-new"`)
		if served[i] {
			require.Equal(t, 3, s.n, "login, old job, new job")
		} else {
			require.Equal(t, 2, s.n, "miner %d: login, then only the newest job", i)
		}
	}
}

// Miners closing, leaving (a move), arriving (a login or a move, which
// send them the job at once, on slots the fan-out has yet to visit) in the
// middle of a fan-out: nobody gets the job twice, nobody still there
// misses it, and a session closed mid-fan-out leaves the queue.
func TestFanout_Churn_Ugly(t *testing.T) {
	ms := newMemShard(t, nil)
	miners, sinks := fanMiners(t, ms, 12, 2)
	// Slots 2 and 3 die now and are free again with the next job.
	miners[2].closed()
	miners[3].closed()
	ms.job.JobID = "job-x"
	ms.mp.setJob(&ms.job, true)
	ms.s.fanSlice() // 2 miners
	c := &ms.mp.fan
	unvisited := func(slot uint32) bool { return (slot+c.n-c.first)%c.n >= c.pos }
	require.True(t, unvisited(2) && unvisited(3), "the test needs slots 2 and 3 ahead of the cursor")
	var waiting []int
	for i, s := range sinks {
		if s.n == 1 && i != 2 && i != 3 {
			waiting = append(waiting, i)
		}
	}
	require.Len(t, waiting, 8)

	// One waiting miner closes; one moves away to another session.
	closing, leaving := miners[waiting[0]], miners[waiting[1]]
	closing.closed()
	mp2 := &mapper{s: ms.s, id: 2, family: FamilyCryptoNote, kind: kindNiceHash, pools: ms.mp.pools}
	mp2.fo = upstream.NewFailover(1, upstream.FailoverPolicy{Retries: 1})
	mp2.table = newNiceHashTable()
	mp2.job, mp2.hasJob, mp2.state, mp2.jobDiff = ms.job, true, mapperActive, 1000
	mp2.job.JobID = "job-other"
	mp2.stamp = ms.s.nextStamp()
	ms.s.mappers = append(ms.s.mappers, mp2)
	slot := leaving.fixed
	require.True(t, mp2.addMiner(leaving))
	ms.mp.release(leaving, slot)
	mp2.sendJob(leaving.fixed, leaving)
	require.Contains(t, string(sinks[waiting[1]].last), `"job_id":"job-other"`)

	// A miner logs in on a slot ahead (its login answer carries the job),
	// and the leaver comes back by a move onto the other one (the move
	// sends it the job).
	late, lateSink := ms.addMiner(t, "WALLET")
	require.Contains(t, string(lateSink.last), `"job_id":"job-x"`)
	require.True(t, late.fixed == 2 || late.fixed == 3)
	slot = leaving.fixed
	require.True(t, ms.mp.addMiner(leaving))
	require.True(t, leaving.fixed == 2 || leaving.fixed == 3)
	mp2.release(leaving, slot)
	ms.mp.sendJob(leaving.fixed, leaving)
	require.Equal(t, 3, sinks[waiting[1]].n, "login, job-other, job-x")

	for n := 0; len(ms.s.fan.q) > 0; n++ {
		require.Less(t, n, 100)
		ms.s.fanSlice()
	}
	require.Equal(t, 1, lateSink.n, "the login answer only")
	require.Equal(t, 3, sinks[waiting[1]].n, "nothing more after the move back")
	require.Equal(t, 1, sinks[waiting[0]].n, "the closed miner got nothing")
	for _, i := range waiting[2:] {
		require.Equal(t, 2, sinks[i].n, "miner %d", i)
		require.Contains(t, string(sinks[i].last), `"job_id":"job-x"`)
	}

	// A session closed mid-fan-out leaves the queue.
	ms.job.JobID = "job-y"
	ms.mp.setJob(&ms.job, true)
	require.Len(t, ms.s.fan.q, 1)
	ms.mp.close()
	require.Empty(t, ms.s.fan.q)
	ms.s.fanSlice() // a wake-up already on its way finds nothing to do
}

// While a fan-out runs, the shares forwarded to a pool connection are
// coalesced and written once at the next slice; every one is answered.
func TestFanout_CoalescedSubmits_Good(t *testing.T) {
	ms := newMemShard(t, nil)
	miners, sinks := fanMiners(t, ms, 8, 2)
	pool := ms.pool
	ms.job.JobID = "job-c"
	ms.mp.setJob(&ms.job, true)
	require.Len(t, ms.s.fan.q, 1)
	writes := pool.n
	for i, m := range miners[:3] {
		line := strings.Replace(string(ms.submitLine(m, uint32(i+1))), "job-1", "job-c", 1)
		require.True(t, m.handleLine([]byte(line)))
	}
	require.Equal(t, writes, pool.n, "held during the fan-out")
	ms.s.fanSlice()
	require.Equal(t, writes+1, pool.n, "one write for three shares")
	require.Equal(t, 3, strings.Count(string(pool.last), `"method":"submit"`))
	require.Equal(t, 3, ms.mp.conn.proto.InFlight())
	for n := 0; len(ms.s.fan.q) > 0; n++ {
		require.Less(t, n, 100)
		ms.s.fanSlice()
	}
	// The pool answers the three (ids 2, 3, 4 after the login's 1).
	for id := 2; id <= 4; id++ {
		require.True(t, ms.mp.conn.handleLine([]byte(`{"id":`+itoa(id)+`,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`)))
	}
	for _, s := range sinks[:3] {
		require.Contains(t, string(s.last), `"status":"OK"`)
	}
	require.Equal(t, uint64(3), ms.s.fc[FamilyCryptoNote].Accepted)
	// No fan-out: a share goes out at once.
	line := strings.Replace(string(ms.submitLine(miners[4], 9)), "job-1", "job-c", 1)
	require.True(t, miners[4].handleLine([]byte(line)))
	require.Equal(t, writes+2, pool.n)
}

// Several sessions getting a job at once (in one round of the loop) share
// the slices: no job is written before the first slice, and no slice
// writes more than its size, whichever sessions it serves.
func TestFanout_SessionsShareSlices_Good(t *testing.T) {
	ms := newMemShard(t, nil)
	miners, sinks := fanMiners(t, ms, 20, 4)
	mp2 := &mapper{s: ms.s, id: 2, family: FamilyCryptoNote, kind: kindNiceHash, pools: ms.mp.pools}
	mp2.fo = upstream.NewFailover(1, upstream.FailoverPolicy{Retries: 1})
	mp2.table = newNiceHashTable()
	mp2.state = mapperActive
	ms.s.mappers = append(ms.s.mappers, mp2)
	for _, m := range miners[10:] {
		slot := m.fixed
		require.True(t, mp2.addMiner(m))
		ms.mp.release(m, slot)
	}
	count := func() (n int) {
		for _, s := range sinks {
			n += s.n
		}
		return n
	}
	before := count()
	ms.job.JobID = "job-s1"
	ms.mp.setJob(&ms.job, true)
	j2 := ms.job
	j2.JobID = "job-s2"
	mp2.setJob(&j2, true)
	require.Equal(t, before, count(), "nothing written before the first slice")
	require.Len(t, ms.s.fan.q, 2)
	for n := 0; len(ms.s.fan.q) > 0; n++ {
		require.Less(t, n, 10)
		was := count()
		ms.s.fanSlice()
		require.LessOrEqual(t, count()-was, 4, "slice %d", n)
	}
	require.Equal(t, before+20, count())
	for i, s := range sinks {
		want := "job-s1"
		if i >= 10 {
			want = "job-s2"
		}
		require.Contains(t, string(s.last), want)
	}
}

// Vardiff during a fan-out: a miner still waiting for the job gets no
// difficulty change on its own (a variant of a job it does not have yet);
// its difficulty goes out with the job. A miner already served gets the
// change at once, as a variant of the job.
func TestFanout_VardiffWaiting_Good(t *testing.T) {
	ms := vdMemShard(t, vardiff.Config{Enabled: true, MinDiff: 1, InitialDiff: 1000}, 1_000_000)
	miners, sinks := fanMiners(t, ms, 4, 1)
	for _, m := range miners {
		require.NotNil(t, m.vd)
	}
	ms.job.JobID = "job-v"
	ms.mp.setJob(&ms.job, true)
	ms.s.fanSlice() // one miner
	served, waiting := -1, -1
	for i, s := range sinks {
		if s.n == 2 {
			served = i
		} else if waiting < 0 {
			waiting = i
		}
	}
	require.GreaterOrEqual(t, served, 0)
	miners[waiting].vdApply(ms.mp, 1001)
	require.Equal(t, 1, sinks[waiting].n, "nothing before its job")
	miners[served].vdApply(ms.mp, 1001)
	require.Equal(t, 3, sinks[served].n)
	require.Contains(t, string(sinks[served].last), `"job_id":"job-v~`, "a variant of the job it has")
	for n := 0; len(ms.s.fan.q) > 0; n++ {
		require.Less(t, n, 10)
		ms.s.fanSlice()
	}
	require.Equal(t, 2, sinks[waiting].n, "then the job, once")
	require.Contains(t, string(sinks[waiting].last), `"job_id":"job-v"`)
	require.Equal(t, 3, sinks[served].n, "the served miner is not sent the job again")
}
