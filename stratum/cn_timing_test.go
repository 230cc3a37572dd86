package stratum

import (
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

// Sink keeps benchmark results alive so the compiler cannot drop the work.
var Sink int

func BenchmarkParseRequest_Login(b *testing.B) {
	benchParse(b, cnSeeds[3])
}

func BenchmarkParseRequest_Submit(b *testing.B) {
	benchParse(b, cnSeeds[4])
}

func benchParse(b *testing.B, line string) {
	var p fastjson.Parser
	var req Request
	data := []byte(line)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseRequest(&p, data, &req); err != nil {
			b.Fatal(err)
		}
		if req.Method == MethodSubmit && req.Params.ValidateSubmit() != nil {
			b.Fatal("invalid")
		}
		Sink += len(req.Params.Nonce)
	}
}

func BenchmarkAppendJobNotify(b *testing.B) {
	j := Job{Blob: strings.Repeat("0707", 38), JobID: "4BiGm3/RgGQzgkTI", Target: "b88d0600", Algo: "rx/0", Height: 3100000, SeedHash: strings.Repeat("ab", 32)}
	sess := []byte("a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d")
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = AppendJobNotify(buf[:0], &j, sess, JobOptions{FixedByte: i & 0xff, Algo: true})
	}
	Sink += len(buf)
}

func BenchmarkParsePoolMessage_Result(b *testing.B) {
	var p fastjson.Parser
	var m PoolMessage
	line := []byte(`{"id":5123,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := ParsePoolMessage(&p, line, &m); err != nil {
			b.Fatal(err)
		}
		Sink += int(m.ID)
	}
}
