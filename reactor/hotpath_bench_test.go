package reactor

import "testing"

// Hot-path benchmarks on an in-memory shard (no sockets, no engine): what
// one event loop spends per share and per job, and what it allocates.
//
//	go test -run XXX -bench 'Submit|FanOut' -benchmem ./reactor

// BenchmarkSubmitRoundTrip is one CryptoNote share end to end inside the
// loop: the miner's submit parsed and validated, forwarded to the pool, the
// pool's answer parsed and routed back to the miner.
func BenchmarkSubmitRoundTrip(b *testing.B) {
	ms := newMemShard(b, nil)
	m, sink := ms.addMiner(b, "WALLET")
	round := ms.shareRound(b, m)
	b.ReportAllocs()
	for b.Loop() {
		round()
	}
	if len(sink.last) == 0 {
		b.Fatal("no answer reached the miner")
	}
}

// BenchmarkJobFanOut256 is one pool job written to a full NiceHash
// session: 256 miners, each with its own fixed byte and target.
func BenchmarkJobFanOut256(b *testing.B) {
	ms := newMemShard(b, nil)
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

// BenchmarkSV1SubmitRoundTrip is one stratum v1 share end to end: parse,
// validate, duplicate check, sha256d header hash against both targets,
// forward with the miner's prefix, route the pool's answer back.
func BenchmarkSV1SubmitRoundTrip(b *testing.B) {
	ms, mp := newMemShardSV1(b, 1.0/(1<<40))
	m, _ := ms.addSV1Miner(b)
	round := sv1ShareRound(b, mp, m)
	b.ReportAllocs()
	for b.Loop() {
		round()
	}
}
