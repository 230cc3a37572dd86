//go:build !race

package reactor

import (
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/vardiff"
)

// Vardiff on the hot path allocates nothing: a share answered locally and
// counted in the controller, the sweep's retarget, a new difficulty sent
// as a job variant, a job fanned out to miners with vardiff state, and an
// SV1 share on a scrypt pool (once the loop's scrypt memory exists).

func TestAllocs_VardiffLocalShare(t *testing.T) {
	ms := vdMemShard(t, vardiff.Config{Enabled: true, MinDiff: 1, MaxDiff: 2000, InitialDiff: 2000}, 1_000_000)
	m, sink := ms.addMiner(t, "WALLET")
	share := vdLocalShareRound(t, ms, m)
	for range 4 * 512 {
		share()
	}
	require.Zero(t, mallocs(4*512, share))
	require.Contains(t, string(sink.last), `"status":"OK"`)
	require.Equal(t, uint64(8*512), ms.s.fc[FamilyCryptoNote].CustomAccepted)
}

func TestAllocs_VardiffApply(t *testing.T) {
	ms := vdMemShard(t, vardiff.Config{Enabled: true, MinDiff: 1, InitialDiff: 1000}, 1_000_000)
	m, sink := ms.addMiner(t, "WALLET")
	i := 0
	require.Zero(t, testing.AllocsPerRun(200, func() {
		i++
		m.vdApply(ms.mp, float64(1000+i%2))
	}))
	require.Contains(t, string(sink.last), `"job_id":"job-2~`)
}

func TestAllocs_VardiffFanOut(t *testing.T) {
	ms := vdMemShard(t, vardiff.Config{Enabled: true, MinDiff: 1, InitialDiff: 1000}, 1_000_000)
	for range 256 {
		m, _ := ms.addMiner(t, "WALLET")
		require.NotNil(t, m.vd)
	}
	jobs := [2]string{"job-a", "job-b"}
	i := 0
	require.Zero(t, testing.AllocsPerRun(200, func() {
		ms.job.JobID = jobs[i&1]
		i++
		ms.mp.setJob(&ms.job, true)
	}))
}

func TestAllocs_VardiffSV1Scrypt(t *testing.T) {
	ms, mp := newMemShardSV1Algo(t, 1.0/(1<<40), "scrypt", &Config{Vardiff: vardiff.Config{Enabled: true, MinDiff: 1e-12}})
	m, sink := ms.addSV1Miner(t)
	require.NotNil(t, m.vd)
	round := sv1ShareRound(t, mp, m)
	round()
	require.NotNil(t, ms.s.scrypt, "scrypt memory made on the first share")
	require.Zero(t, testing.AllocsPerRun(200, round))
	require.Equal(t, `{"id":9,"result":true,"error":null}`+"\n", string(sink.last))
}
