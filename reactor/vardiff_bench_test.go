package reactor

import (
	"testing"

	"forge.lthn.ai/core/go-proxy/vardiff"
)

// vdLocalShareRound returns a function that plays one CryptoNote share of
// a vardiff miner that the proxy answers itself (difficulty 3000, under
// the pool's 1,000,000; the miner is held at 2000 by max-diff), then the
// miner's part of the sweep. The pool sends a job every 512 shares, so the
// duplicate windows turn as in service. It allocates nothing once warm.
func vdLocalShareRound(tb testing.TB, ms *memShard, m *miner) func() {
	line := []byte(`{"id":7,"jsonrpc":"2.0","method":"submit","params":{"id":"` + string(m.sessionID()) +
		`","job_id":"job-2","nonce":"00000000","result":"` + cnResult(3000) + `","algo":"rx/0"}}`)
	jobAt := len(`{"id":7,"jsonrpc":"2.0","method":"submit","params":{"id":"`) + 36 + len(`","job_id":"job-`)
	nonceAt := jobAt + len(`2","nonce":"`)
	hex := []byte("0123456789abcdef")
	n := uint32(0)
	return func() {
		n++
		if n%512 == 0 {
			id := [2]string{"job-2", "job-3"}[n/512%2]
			ms.job.JobID = id // same target: TargetFromDifficulty would allocate
			ms.mp.setJob(&ms.job, true)
			line[jobAt] = id[4]
		}
		for i := 0; i < 6; i++ {
			line[nonceAt+i] = hex[n>>(4*uint(5-i))&15]
		}
		if !m.handleLine(line) {
			tb.Fatal("submit refused")
		}
		m.vdTick() // the miner's part of the sweep (the sweep itself publishes a snapshot)
	}
}

// BenchmarkVardiffLocalShare is a vardiff miner's share below the pool's
// difficulty, end to end in the loop: parsed, validated, judged at its job's
// difficulty, answered by the proxy, counted in the controller and the
// statistics, plus the miner's 1 Hz retarget check.
func BenchmarkVardiffLocalShare(b *testing.B) {
	ms := vdMemShard(b, vardiff.Config{Enabled: true, MinDiff: 1, MaxDiff: 2000, InitialDiff: 2000}, 1_000_000)
	m, _ := ms.addMiner(b, "WALLET")
	round := vdLocalShareRound(b, ms, m)
	b.ReportAllocs()
	for b.Loop() {
		round()
	}
}

// BenchmarkVardiffSubmitRoundTrip is BenchmarkSubmitRoundTrip with vardiff
// on (the share meets the pool's difficulty and is forwarded).
func BenchmarkVardiffSubmitRoundTrip(b *testing.B) {
	ms := newMemShard(b, nil)
	on := ms.s.cfg.Clone()
	on.Vardiff = vardiff.Config{Enabled: true, MinDiff: 1}
	on.Normalize()
	ms.s.cfg = on
	m, _ := ms.addMiner(b, "WALLET")
	if m.vd == nil {
		b.Fatal("vardiff did not start")
	}
	round := ms.shareRound(b, m)
	b.ReportAllocs()
	for b.Loop() {
		round()
	}
}

// BenchmarkVardiffJobFanOut256 is BenchmarkJobFanOut256 with every miner on
// vardiff (its own difficulty and target, recorded for the share check).
func BenchmarkVardiffJobFanOut256(b *testing.B) {
	ms := vdMemShard(b, vardiff.Config{Enabled: true, MinDiff: 1, InitialDiff: 1000}, 1_000_000)
	for range 256 {
		ms.addMiner(b, "WALLET")
	}
	jobs := [2]string{"job-a", "job-b"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ms.job.JobID = jobs[i&1]
		ms.mp.setJob(&ms.job, true)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/256, "ns/miner")
}

// BenchmarkSV1ScryptSubmitRoundTrip is an SV1 share on a scrypt pool end to
// end: BenchmarkSV1SubmitRoundTrip with the share checked by scrypt.
func BenchmarkSV1ScryptSubmitRoundTrip(b *testing.B) {
	ms, mp := newMemShardSV1Algo(b, 1.0/(1<<40), "scrypt", nil)
	m, _ := ms.addSV1Miner(b)
	round := sv1ShareRound(b, mp, m)
	b.ReportAllocs()
	for b.Loop() {
		round()
	}
}
