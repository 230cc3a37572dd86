//go:build !race

package stratum

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"
)

// The stratum v1 hot path allocates nothing once buffers are warm.
// (Skipped under -race, which instruments allocations.)

func TestAllocs_SV1ParseSubmit(t *testing.T) {
	var p fastjson.Parser
	var req SV1Request
	line := []byte(sv1SeedSubmitRolling)
	out := make([]byte, 0, 512)
	n := testing.AllocsPerRun(1000, func() {
		if ParseSV1Request(&p, line, &req) != nil || req.Submit.Validate(8, SV1DefaultVersionMask) != nil {
			t.Fatal("bad submit")
		}
		out = AppendSV1BoolReply(out[:0], &req.ID, true)
		out = AppendSV1ErrorReply(out[:0], &req.ID, ErrSV1LowDifficulty)
	})
	require.Zero(t, n)
}

func TestAllocs_SV1RejectSubmit(t *testing.T) {
	var p fastjson.Parser
	var req SV1Request
	line := []byte(sv1SeedSubmitRolling)
	n := testing.AllocsPerRun(1000, func() {
		if ParseSV1Request(&p, line, &req) != nil {
			t.Fatal("bad line")
		}
		if err := req.Submit.Validate(4, 0); err != ErrSV1BadExtranonce2 {
			t.Fatal(err)
		}
	})
	require.Zero(t, n)
}

func TestAllocs_SV1ShareCheck(t *testing.T) {
	job, e1, e2 := sv1BenchJob(t)
	var h SV1Hasher
	_ = h.ShareHash(job, e1, e2, b100kTime, b100kNonce, 0, 0) // warm the buffer
	target, _ := SV1TargetFromDifficulty(1.0 / 65536)
	n := testing.AllocsPerRun(1000, func() {
		hash := h.ShareHash(job, e1, e2, b100kTime, b100kNonce, 0x2000, SV1DefaultVersionMask)
		if !target.Meets(&hash) && SV1HashDifficulty(&hash) > 1 {
			t.Fatal("inconsistent")
		}
	})
	require.Zero(t, n)
}

func TestAllocs_SV1Notify(t *testing.T) {
	j := sv1TestJob()
	out := make([]byte, 0, 1024)
	n := testing.AllocsPerRun(1000, func() {
		out = AppendSV1Notify(out[:0], &j, true)
		out = AppendSV1NotifyVariant(out[:0], &j, 200, 0x504e86c9, false)
		out = AppendSV1SetDifficulty(out[:0], 1.0/65536)
		out = AppendSV1SetDifficulty(out[:0], 65536)
	})
	require.Zero(t, n)
}

func TestAllocs_SV1PoolSubmit(t *testing.T) {
	var p fastjson.Parser
	var req SV1Request
	if ParseSV1Request(&p, []byte(sv1SeedSubmitRolling), &req) != nil || req.Submit.Validate(8, SV1DefaultVersionMask) != nil {
		t.Fatal("bad submit")
	}
	prefix := []byte{0x0a, 0x0b}
	out := make([]byte, 0, 512)
	n := testing.AllocsPerRun(1000, func() {
		out = AppendSV1PoolSubmit(out[:0], 12345, "pool.account", prefix, &req.Submit)
	})
	require.Zero(t, n)
}

func TestAllocs_SV1PoolResult(t *testing.T) {
	var p fastjson.Parser
	var m SV1PoolMessage
	ok := []byte(`{"id":5123,"result":true,"error":null}`)
	rej := []byte(`{"id":5124,"result":null,"error":[23,"Low difficulty share",null]}`)
	diff := []byte(`{"id":null,"method":"mining.set_difficulty","params":[0.0000152587890625]}`)
	n := testing.AllocsPerRun(1000, func() {
		_ = ParseSV1PoolMessage(&p, ok, &m)
		_ = ParseSV1PoolMessage(&p, rej, &m)
		_ = ParseSV1PoolMessage(&p, diff, &m)
	})
	require.Zero(t, n)
}

func TestAllocs_SV1HeaderSearch(t *testing.T) {
	job, e1, e2 := sv1BenchJob(t)
	var h SV1Hasher
	hdr := h.Header(job, e1, e2, job.Version, job.NTime, 0)
	target, _ := SV1TargetFromDifficulty(1.0 / 65536)
	start := uint32(0)
	n := testing.AllocsPerRun(100, func() {
		_, _, _ = hdr.Search(&target, start, 64)
		start += 64
	})
	require.Zero(t, n)
}
