//go:build !race

package reactor

import (
	"testing"

	"github.com/stretchr/testify/require"
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
