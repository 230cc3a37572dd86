//go:build !race

package reactor

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/upstream"
)

// The hot path allocates nothing in steady state: a submit parsed,
// validated and forwarded, the pool's answer routed back, and a job fanned
// out to 256 miners. (Skipped under -race, which instruments allocation.)

func TestAllocs_SubmitRoundTrip(t *testing.T) {
	ms := newMemShard(t, nil)
	m, sink := ms.addMiner(t, "WALLET")
	allocs := testing.AllocsPerRun(2000, ms.shareRound(t, m))
	require.Zero(t, allocs)
	require.Contains(t, string(sink.last), `"status":"OK"`)
	require.Greater(t, ms.s.fc[FamilyCryptoNote].Accepted, uint64(1000))
}

// With routing, the share path also credits the miner's meter and its
// target's accepted hashes: still nothing allocated.
func TestAllocs_SubmitRoundTrip_Routed(t *testing.T) {
	ms := newMemShard(t, nil)
	ms.s.setTable(buildRoutes(ms.s.cfg, nil))
	ms.mp.tgt = ms.s.table.targets[0]
	m, sink := ms.addMiner(t, "WALLET")
	require.Same(t, ms.mp, m.mp)
	require.Same(t, ms.mp.tgt, m.tgt)
	allocs := testing.AllocsPerRun(2000, ms.shareRound(t, m))
	require.Zero(t, allocs)
	require.Contains(t, string(sink.last), `"status":"OK"`)
	require.Greater(t, ms.s.tl[0].accepted, 1000*1000.0, "credited to the target")
}

func TestAllocs_JobFanOut(t *testing.T) {
	ms := newMemShard(t, nil)
	sinks := make([]*memSink, 256)
	for i := range sinks {
		_, sinks[i] = ms.addMiner(t, "WALLET")
	}
	jobs := [2]string{"job-a", "job-b"}
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		ms.job.JobID = jobs[i&1]
		i++
		ms.mp.setJob(&ms.job, true)
	})
	require.Zero(t, allocs)
	for _, s := range sinks {
		require.Contains(t, string(s.last), `"method":"job"`)
	}
}

// The SV1 share path — parse, validate, duplicate check, sha256d header
// hash against both targets, forward with the prefix, answer — allocates
// nothing either.
func TestAllocs_SV1SubmitRoundTrip(t *testing.T) {
	ms, mp := newMemShardSV1(t, 1.0/(1<<40))
	m, sink := ms.addSV1Miner(t)
	const runs = 1000
	allocs := testing.AllocsPerRun(runs, sv1ShareRound(t, mp, m))
	require.Zero(t, allocs)
	require.Equal(t, `{"id":9,"result":true,"error":null}`+"\n", string(sink.last))
	require.Equal(t, uint64(runs+1), ms.s.fc[FamilySV1].Accepted)
}

// mallocs returns the exact number of allocations runs calls of f make
// (testing.AllocsPerRun averages with integer division, which would hide
// a few allocations spread over many runs, such as a map growing).
func mallocs(runs int, f func()) uint64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs
}

// The duplicate check allocates nothing once its windows have grown to the
// session's usual size: shares, and (CryptoNote) the jobs that turn the
// windows, measured exactly over several windows.
func TestAllocs_DuplicateCheck(t *testing.T) {
	ms := newMemShard(t, nil)
	m, sink := ms.addMiner(t, "WALLET")
	round := ms.shareRound(t, m)
	for range 4 * sharesPerJob {
		round()
	}
	require.Zero(t, mallocs(4*sharesPerJob, round))
	require.Contains(t, string(sink.last), `"status":"OK"`)
	require.Equal(t, sharesPerJob, ms.mp.seen.Len(true), "the previous job's shares are remembered")

	// SV1: installing a job allocates its binary form, so the measured
	// shares stay within one window (the windows turned four times before).
	ms2, mp := newMemShardSV1(t, 1.0/(1<<40))
	m2, sink2 := ms2.addSV1Miner(t)
	round2 := sv1ShareRound(t, mp, m2)
	for range 4 * sharesPerJob {
		round2()
	}
	require.Zero(t, mallocs(sharesPerJob-1, round2))
	require.Equal(t, `{"id":9,"result":true,"error":null}`+"\n", string(sink2.last))
	require.Equal(t, sharesPerJob, mp.sv.seen.Len(false), "the window of the last clean job")
}

// A miner over its share rate limit costs an answer and nothing else.
func TestAllocs_Throttled(t *testing.T) {
	ms := newMemShard(t, &Config{SubmitRateLimit: SubmitRateLimit{Burst: 1, CloseAfter: 1 << 30}, Pools: []upstream.PoolConfig{{URL: "pool:3333", User: "W"}}})
	m, sink := ms.addMiner(t, "WALLET")
	line := ms.submitLine(m, 1)
	require.True(t, m.handleLine(line))
	require.Zero(t, mallocs(1000, func() { m.handleLine(line) }))
	require.Contains(t, string(sink.last), msgShareRateLimit)
	require.Equal(t, uint64(1000), ms.s.fc[FamilyCryptoNote].Throttled)
}

// A job written in slices (the loop yields between them) allocates
// nothing per slice, shares coalesced for the pool meanwhile included.
func TestAllocs_FanOutSlices(t *testing.T) {
	ms := newMemShard(t, nil)
	miners := make([]*miner, 256)
	for i := range miners {
		miners[i], _ = ms.addMiner(t, "WALLET")
	}
	ms.s.fan.manual, ms.s.fan.size = true, 16
	share := ms.shareRound(t, miners[0])
	// The ids shareRound submits for: its shares stay valid (the current
	// or the previous job) and reach the pool.
	jobs := [2]string{"job-1", "job-2"}
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		ms.job.JobID = jobs[i&1]
		i++
		ms.mp.setJob(&ms.job, true)
		for len(ms.s.fan.q) > 0 {
			share() // coalesced for the pool, flushed at the next slice
			ms.s.fanSlice()
		}
	})
	require.Zero(t, allocs)
	require.Greater(t, ms.s.fc[FamilyCryptoNote].Accepted, uint64(100*16), "the shares went through the pool")
}
