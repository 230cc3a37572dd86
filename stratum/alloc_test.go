//go:build !race

package stratum

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"
)

// The hot path of the codec allocates nothing once buffers are warm.
// (Skipped under -race, which instruments allocations.)

func TestAllocs_ParseSubmit(t *testing.T) {
	var p fastjson.Parser
	var req Request
	line := []byte(cnSeeds[4])
	id := RequestID{}
	out := make([]byte, 0, 512)
	n := testing.AllocsPerRun(1000, func() {
		if ParseRequest(&p, line, &req) != nil || req.Params.ValidateSubmit() != nil {
			t.Fatal("bad submit")
		}
		id = req.ID
		out = AppendPoolSubmit(out[:0], 7, "POOLSESS", req.Params.JobID, req.Params.Nonce, req.Params.Result, req.Params.Algo)
		out = AppendStatusReply(out[:0], &id, "OK")
	})
	require.Zero(t, n)
}

func TestAllocs_JobWrite(t *testing.T) {
	j := Job{Blob: strings.Repeat("0707", 38), JobID: "J", Target: "b88d0600", Algo: "rx/0", Height: 1, SeedHash: strings.Repeat("ab", 32)}
	sess := []byte("a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d")
	out := make([]byte, 0, 1024)
	fb := 0
	n := testing.AllocsPerRun(1000, func() {
		fb = (fb + 1) & 0xff
		out = AppendJobNotify(out[:0], &j, sess, JobOptions{FixedByte: fb, Algo: true, Target: "e8030000"})
	})
	require.Zero(t, n)
}

func TestAllocs_PoolResult(t *testing.T) {
	var p fastjson.Parser
	var m PoolMessage
	ok := []byte(`{"id":5123,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`)
	rej := []byte(`{"id":5124,"jsonrpc":"2.0","error":{"code":-1,"message":"Low difficulty share"}}`)
	n := testing.AllocsPerRun(1000, func() {
		_ = ParsePoolMessage(&p, ok, &m)
		_ = ParsePoolMessage(&p, rej, &m)
	})
	require.Zero(t, n)
}
