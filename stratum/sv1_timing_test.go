package stratum

import (
	"testing"

	"github.com/valyala/fastjson"
)

// sv1BenchJob is block 100000 as a prepared job with its real extranonces.
func sv1BenchJob(tb testing.TB) (*SV1JobBinary, []byte, []byte) {
	tb.Helper()
	var p fastjson.Parser
	var m SV1PoolMessage
	if err := ParseSV1PoolMessage(&p, []byte(b100kNotify), &m); err != nil {
		tb.Fatal(err)
	}
	job, err := m.Job.Binary()
	if err != nil {
		tb.Fatal(err)
	}
	return job, mustHex(tb, b100kE1), mustHex(tb, b100kE2)
}

func BenchmarkParseSV1Request_Submit(b *testing.B) {
	var p fastjson.Parser
	var req SV1Request
	line := []byte(sv1SeedSubmitRolling)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if ParseSV1Request(&p, line, &req) != nil || req.Submit.Validate(8, SV1DefaultVersionMask) != nil {
			b.Fatal("bad submit")
		}
		Sink += int(req.Submit.NonceValue & 1)
	}
}

func BenchmarkParseSV1Request_Subscribe(b *testing.B) {
	var p fastjson.Parser
	var req SV1Request
	line := []byte(sv1SeedSubscribeCgminer)
	b.ReportAllocs()
	for b.Loop() {
		if ParseSV1Request(&p, line, &req) != nil {
			b.Fatal("bad subscribe")
		}
		req.Subscribe.Sanitize()
		Sink += len(req.Subscribe.UserAgent)
	}
}

// BenchmarkSV1ShareCheck is the whole per-share check: coinbase, merkle
// branch (2 levels, block 100000), header, hash, target and difficulty.
func BenchmarkSV1ShareCheck(b *testing.B) {
	job, e1, e2 := sv1BenchJob(b)
	var h SV1Hasher
	target, _ := SV1TargetFromDifficulty(1.0 / 65536)
	b.ReportAllocs()
	for i := uint32(0); b.Loop(); i++ {
		hash := h.ShareHash(job, e1, e2, b100kTime, b100kNonce+i, 0, 0)
		if target.Meets(&hash) {
			Sink++
		}
		Sink += int(SV1HashDifficulty(&hash)) & 1
	}
}

// BenchmarkSV1ShareCheck_Branch12 is the same with a 12-level branch (a
// block of ~4000 transactions) and a 250-byte coinbase, a typical mainnet job.
func BenchmarkSV1ShareCheck_Branch12(b *testing.B) {
	job, e1, e2 := sv1BenchJob(b)
	big := *job
	big.Coinb2 = append(append([]byte(nil), job.Coinb2...), make([]byte, 100)...)
	big.Branch = make([][32]byte, 12)
	var h SV1Hasher
	target, _ := SV1TargetFromDifficulty(1.0 / 65536)
	b.ReportAllocs()
	for i := uint32(0); b.Loop(); i++ {
		hash := h.ShareHash(&big, e1, e2, b100kTime, i, 0x2000, SV1DefaultVersionMask)
		if target.Meets(&hash) {
			Sink++
		}
	}
}

// BenchmarkBlockHeader_Hash is one nonce of a test miner's search.
func BenchmarkBlockHeader_Hash(b *testing.B) {
	job, e1, e2 := sv1BenchJob(b)
	var h SV1Hasher
	hdr := h.Header(job, e1, e2, job.Version, job.NTime, 0)
	target, _ := SV1TargetFromDifficulty(1.0 / 65536)
	b.ReportAllocs()
	start := uint32(0)
	for b.Loop() {
		_, _, ok := hdr.Search(&target, start, 1)
		if ok {
			Sink++
		}
		start++
	}
}

func BenchmarkAppendSV1Notify(b *testing.B) {
	j := sv1TestJob()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendSV1Notify(buf[:0], &j, true)
	}
	Sink += len(buf)
}

func BenchmarkAppendSV1PoolSubmit(b *testing.B) {
	var p fastjson.Parser
	var req SV1Request
	if ParseSV1Request(&p, []byte(sv1SeedSubmitRolling), &req) != nil || req.Submit.Validate(8, SV1DefaultVersionMask) != nil {
		b.Fatal("bad submit")
	}
	prefix := []byte{0x0a, 0x0b}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for i := uint64(0); b.Loop(); i++ {
		buf = AppendSV1PoolSubmit(buf[:0], i, "pool.account", prefix, &req.Submit)
	}
	Sink += len(buf)
}

func BenchmarkParseSV1PoolMessage_Result(b *testing.B) {
	var p fastjson.Parser
	var m SV1PoolMessage
	line := []byte(`{"id":5123,"result":true,"error":null}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseSV1PoolMessage(&p, line, &m); err != nil {
			b.Fatal(err)
		}
		Sink += int(m.ID)
	}
}

// BenchmarkParseSV1PoolMessage_Notify includes building the job's owned
// strings (one allocation set per job, not per miner).
func BenchmarkParseSV1PoolMessage_Notify(b *testing.B) {
	var p fastjson.Parser
	var m SV1PoolMessage
	line := []byte(b100kNotify)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseSV1PoolMessage(&p, line, &m); err != nil {
			b.Fatal(err)
		}
		Sink += len(m.Job.JobID)
	}
}

func BenchmarkSV1TargetFromDifficulty(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		t, _ := SV1TargetFromDifficulty(1.0 / 65536)
		Sink += int(t[2])
	}
}
