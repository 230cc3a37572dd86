package stratum

import (
	"testing"

	"github.com/valyala/fastjson"
)

// cnSeeds are real request lines: what XMRig sends, plus the usual abuse.
var cnSeeds = []string{
	rfcLogin, rfcSubmit, rfcKeepalived,
	`{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A+50000","pass":"x","agent":"XMRig/6.22.2 (Linux x86_64) libuv/1.44.2 gcc/12.2.0","algo":["rx/0","cn/r"],"rigid":"rig-042"}}`,
	`{"id":4,"jsonrpc":"2.0","method":"submit","params":{"id":"a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d","job_id":"4BiGm3/RgGQzgkTI","nonce":"2a000001","result":"` + hash64 + `","algo":"rx/0"}}`,
	`{"id":"x","method":"getjob"}`, `{"id":1.5}`, `{"method":[]}`, `{"id":1,"method":"submit","params":null}`,
}

// FuzzParseRequest feeds request lines through the framing and parser:
// whole, split in two at every byte, and byte by byte. Nothing may panic,
// and a line must frame the same way however it arrives.
func FuzzParseRequest(f *testing.F) {
	for _, s := range cnSeeds {
		f.Add([]byte(s + "\n"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p fastjson.Parser
		var req Request
		whole := frameAll(data, 0)
		for split := 1; split < len(data) && split < 64; split++ {
			if got := frameAll(data, split); got != whole {
				t.Fatalf("split at %d framed %d lines, whole framed %d", split, got, whole)
			}
		}
		if got := frameAll(data, 1); got != whole {
			t.Fatalf("byte by byte framed %d lines, whole framed %d", got, whole)
		}
		rest := data
		for {
			line, n, err := NextLine(rest)
			if err != nil || n == 0 {
				return
			}
			rest = rest[n:]
			if len(line) == 0 {
				continue
			}
			if ParseRequest(&p, line, &req) != nil {
				continue
			}
			_ = req.Params.ValidateLogin()
			if req.Params.ValidateSubmit() == nil {
				_ = NonceFixedByte(req.Params.Nonce)
				_ = ResultDifficulty(req.Params.Result)
			}
			_ = AppendErrorReply(nil, &req.ID, "x")
		}
	})
}

// frameAll feeds data to a line buffer in chunks of size chunk (0 = all at
// once) the way a socket would, and counts the lines framed before the
// first framing error.
func frameAll(data []byte, chunk int) int {
	if chunk <= 0 {
		chunk = len(data)
	}
	var buf []byte
	lines := 0
	for off := 0; off < len(data); off += chunk {
		buf = append(buf, data[off:min(off+chunk, len(data))]...)
		for {
			_, n, err := NextLine(buf)
			if err != nil {
				if err == ErrNotJSONObject {
					return lines + 1<<20
				}
				return lines + 1<<21
			}
			if n == 0 {
				break
			}
			lines++
			buf = buf[n:]
		}
	}
	return lines
}

// FuzzParsePoolMessage: a pool can send anything.
func FuzzParsePoolMessage(f *testing.F) {
	j := rfcJob()
	id := NumericID(1)
	f.Add(AppendLoginReply(nil, &id, []byte("S"), &j, JobOptions{FixedByte: -1, Algo: true}, ExtNiceHash))
	f.Add(AppendJobNotify(nil, &j, []byte("S"), JobOptions{FixedByte: 3}))
	f.Add([]byte(`{"id":5,"jsonrpc":"2.0","error":{"code":-1,"message":"Low difficulty share"}}`))
	f.Add([]byte(`{"id":2,"result":{"status":"KEEPALIVED"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p fastjson.Parser
		var m PoolMessage
		if ParsePoolMessage(&p, data, &m) == nil && m.HasJob {
			if !m.Job.IsValid() {
				t.Fatal("HasJob with an invalid job")
			}
			_ = AppendJobNotify(nil, &m.Job, []byte("S"), JobOptions{FixedByte: 1, Algo: true})
		}
	})
}
