package reactor

import (
	"strconv"
	"testing"

	"forge.lthn.ai/core/go-proxy/stratum"
)

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
	line := ms.submitLine(m, 0)
	nonceAt := len(`{"id":7,"jsonrpc":"2.0","method":"submit","params":{"id":"`) + 36 + len(`","job_id":"job-1","nonce":"`)
	answer := make([]byte, 0, 128)
	poolID := uint64(2) // the pool client's first submit id after login
	var hex [6]byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		n := uint32(i + 1)
		stratum.AppendHex(hex[:0], []byte{byte(n), byte(n >> 8), byte(n >> 16)})
		copy(line[nonceAt:], hex[:])
		if !m.handleLine(line) {
			b.Fatal("submit refused")
		}
		answer = append(answer[:0], `{"id":`...)
		answer = strconv.AppendUint(answer, poolID, 10)
		answer = append(answer, `,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`...)
		poolID++
		if !ms.mp.conn.handleLine(answer) {
			b.Fatal("answer refused")
		}
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
	// The proxy refuses duplicates, so every share gets a new extranonce2,
	// written in place.
	line := benchSubmitLine(0)
	e2At := len(`{"id":9,"method":"mining.submit","params":["farm.rig1","job-1","`)
	answer := make([]byte, 0, 64)
	poolID := uint64(5) // the pool client's first submit id after the handshake
	var hex [8]byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		n := uint32(i + 1)
		stratum.AppendHex(hex[:0], []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		copy(line[e2At:], hex[:])
		if !m.handleLine(line) {
			b.Fatal("submit refused")
		}
		answer = append(answer[:0], `{"id":`...)
		answer = strconv.AppendUint(answer, poolID, 10)
		answer = append(answer, `,"result":true,"error":null}`...)
		poolID++
		if !mp.conn.handleLine(answer) {
			b.Fatal("answer refused")
		}
	}
}
