package stratum

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/valyala/fastjson"
)

// Real miner lines, in the spacing each miner uses.
const (
	// cgminer util.c initiate_stratum: "{\"id\": %d, \"method\": \"mining.subscribe\", \"params\": [\"" PACKAGE "/" VERSION "\"]}".
	sv1SeedSubscribeCgminer = `{"id": 1, "method": "mining.subscribe", "params": ["cgminer/4.12.0"]}`
	// Antminer cgminer fork resuming a session: [agent, sessionid].
	sv1SeedSubscribeResume = `{"id": 1, "method": "mining.subscribe", "params": ["cgminer/4.9.0", "b4b6693b72a50c71"]}`
	// Antminer S9 bmminer (no spaces after colons).
	sv1SeedSubscribeBmminer = `{"id":1,"method":"mining.subscribe","params":["bmminer/2.0.0"]}`
	sv1SeedSubscribeBfg     = `{"id": 0, "method": "mining.subscribe", "params": ["bfgminer/5.5.0"]}`
	sv1SeedSubscribeCpu     = `{"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5.1"]}`
	// slush's stratum documentation.
	sv1SeedAuthorize = `{"params": ["slush.miner1", "password"], "id": 2, "method": "mining.authorize"}`
	// bmminer's BIP310 request (format string from Antminer firmware,
	// mask 1fffe000, min-bit-count 16).
	sv1SeedConfigureBmminer = `{"id":1, "method":"mining.configure", "params":[["version-rolling"],{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":16}]}`
	// BIP310's example request (Braiins OS miners send this shape).
	sv1SeedConfigureBIP310     = `{"method": "mining.configure", "id": 1, "params": [["minimum-difficulty", "version-rolling"], {"minimum-difficulty.value": 2048, "version-rolling.mask": "1fffe000", "version-rolling.min-bit-count": 2}]}`
	sv1SeedSuggestDifficulty   = `{"id": 3, "method": "mining.suggest_difficulty", "params": [512]}`
	sv1SeedExtranonceSubscribe = `{"id": 4, "method": "mining.extranonce.subscribe", "params": []}`
	// slush's documentation: five params.
	sv1SeedSubmitSlush = `{"params": ["slush.miner1", "bf", "00000001", "504e86ed", "b2957c02"], "id": 4, "method": "mining.submit"}`
	// An ASIC with version rolling: six params, upper-case hex as some
	// firmware sends it.
	sv1SeedSubmitRolling = `{"id":12,"method":"mining.submit","params":["bc1qexample.s19","1a2b","00000000DEADBEEF","6578a1c0","5F3A1B2C","04a2e000"]}`
)

// sv1MinerSeeds are what real miners send, plus the usual abuse.
var sv1MinerSeeds = []string{
	sv1SeedSubscribeCgminer, sv1SeedSubscribeResume, sv1SeedSubscribeBmminer, sv1SeedSubscribeBfg, sv1SeedSubscribeCpu,
	sv1SeedAuthorize, sv1SeedConfigureBmminer, sv1SeedConfigureBIP310, sv1SeedSuggestDifficulty,
	sv1SeedExtranonceSubscribe, sv1SeedSubmitSlush, sv1SeedSubmitRolling, b100kSubmit,
	`{"id": 5, "method": "mining.get_transactions", "params": ["bf"]}`,
	`{"id":6,"method":"mining.suggest_difficulty","params":[NaN]}`,
	`{"id":7,"method":"mining.submit","params":["w","j","00","00000000","00000000","ffffffff"]}`,
	`{"id":8,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"x"}]}`,
	`{"id":1-2,"method":"mining.submit","params":[]}`,
}

// sv1PoolSeeds are what real pools send.
var sv1PoolSeeds = []string{
	// slush's documentation.
	`{"id": 1, "result": [ [ ["mining.set_difficulty", "b4b6693b72a50c7116db18d6497cac52"], ["mining.notify", "ae6812eb4cd7735a302a8a9dd95cf71f"]], "08000002", 4], "error": null}`,
	`{"params": ["bf", "4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000", "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20020862062f503253482f04b8864e5008", "072f736c7573682f000000000100f2052a010000001976a914d23fcdf86f7e756a64a7a9688ef9903327048ed988ac00000000", [], "00000002", "1c2ac4af", "504e86b9", false], "id": null, "method": "mining.notify"}`,
	`{"id": 2, "result": true, "error": null}`,
	`{"id": 4, "result": null, "error": [23, "Low difficulty share", null]}`,
	`{"id": null, "method": "mining.set_difficulty", "params": [2]}`,
	// ckpool-style subscribe result and BIP310 configure result.
	`{"error":null,"id":2,"result":[[["mining.notify","e26e1928"]],"e26e1928",4]}`,
	`{"error": null, "id": 1, "result": {"version-rolling": true, "version-rolling.mask": "18000000", "minimum-difficulty": true}}`,
	`{"params":["00003000"], "id":null, "method": "mining.set_version_mask"}`,
	`{"id":null,"method":"mining.set_extranonce","params":["aabbccdd",4]}`,
	`{"id":null,"method":"client.reconnect","params":["stratum.example.org",3333,10]}`,
	`{"id":null,"method":"client.show_message","params":["maintenance at 12:00"]}`,
	`{"id":7,"result":false,"error":{"code":21,"message":"Stale"}}`,
	b100kNotify, b100kSubscribeResult,
}

// FuzzParseSV1Request feeds miner lines through the framing and parser:
// whole, split in two, and byte by byte; nothing may panic, framing must not
// depend on how bytes arrive, and a submit that validates must re-encode
// into a line that parses back to the same share.
func FuzzParseSV1Request(f *testing.F) {
	for _, s := range sv1MinerSeeds {
		f.Add([]byte(s + "\n"))
	}
	f.Add([]byte(sv1SeedSubscribeCgminer + "\r\n" + sv1SeedAuthorize + "\n" + sv1SeedSubmitSlush + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		whole := frameAll(data, 0)
		for split := 1; split < len(data) && split < 64; split++ {
			if got := frameAll(data, split); got != whole {
				t.Fatalf("split at %d framed %d lines, whole framed %d", split, got, whole)
			}
		}
		if got := frameAll(data, 1); got != whole {
			t.Fatalf("byte by byte framed %d lines, whole framed %d", got, whole)
		}
		var p, p2 fastjson.Parser
		var req, back SV1Request
		rest := data
		for {
			line, n, err := NextLine(rest)
			if err != nil || n == 0 {
				return
			}
			rest = rest[n:]
			if len(line) == 0 || ParseSV1Request(&p, line, &req) != nil {
				continue
			}
			out := AppendSV1ErrorReply(nil, &req.ID, ErrSV1UnknownMethod)
			if !json.Valid(out) {
				t.Fatalf("invalid error reply %q", out)
			}
			switch req.Method {
			case SV1MethodSubscribe:
				req.Subscribe.Sanitize()
				if req.Subscribe.UserAgent != nil && !IsText(req.Subscribe.UserAgent, MaxAgentLen) {
					t.Fatal("agent kept")
				}
			case SV1MethodAuthorize:
				if req.Authorize.Validate() == nil {
					line := AppendSV1PoolAuthorize(nil, 1, string(req.Authorize.User), string(req.Authorize.Pass))
					if !json.Valid(line) {
						t.Fatalf("invalid authorize %q", line)
					}
				}
			case SV1MethodConfigure:
				if req.Configure.Validate() == nil {
					r := SV1ConfigureResult{Requested: req.Configure.Extensions, VersionRolling: true, VersionMask: req.Configure.VersionMask}
					if !json.Valid(AppendSV1ConfigureReply(nil, &req.ID, &r)) {
						t.Fatal("invalid configure reply")
					}
					if d := req.Configure.MinimumDifficulty; d < 0 || math.IsNaN(d) || d > MaxSV1Difficulty {
						t.Fatalf("bad minimum difficulty %v", d)
					}
				}
			case SV1MethodSuggestDifficulty:
				if req.SuggestDifficulty.Validate() == nil {
					d := req.SuggestDifficulty.Difficulty
					if !(d > 0) || d > MaxSV1Difficulty {
						t.Fatalf("bad difficulty %v", d)
					}
					if !json.Valid(AppendSV1SetDifficulty(nil, d)) {
						t.Fatal("invalid set_difficulty")
					}
				}
			case SV1MethodSubmit:
				s := req.Submit
				for _, size := range []int{0, 1, 2, 4, 8} {
					if s.Validate(size, SV1DefaultVersionMask) != nil {
						continue
					}
					up := AppendSV1PoolSubmit(nil, 9, string(s.Worker), []byte{0xab}, &s)
					if ParseSV1Request(&p2, up[:len(up)-1], &back) != nil || back.Method != SV1MethodSubmit {
						t.Fatalf("forwarded submit %q does not parse", up)
					}
					if back.Submit.Validate(size+1, SV1DefaultVersionMask) != nil ||
						back.Submit.NonceValue != s.NonceValue || back.Submit.NTimeValue != s.NTimeValue ||
						back.Submit.VersionBitsValue != s.VersionBitsValue ||
						!bytes.Equal(back.Submit.JobID, s.JobID) || !bytes.Equal(back.Submit.Worker, s.Worker) {
						t.Fatalf("forwarded submit %q changed the share", up)
					}
				}
			}
		}
	})
}

// FuzzParseSV1PoolMessage: a pool can send anything. Whatever the parser
// hands out must be within its documented limits, and a job must survive
// decoding and re-encoding.
func FuzzParseSV1PoolMessage(f *testing.F) {
	for _, s := range sv1PoolSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p, p2 fastjson.Parser
		var m, back SV1PoolMessage
		// Lines arrive framed; feed each framed line, as the upstream does.
		rest := append(append([]byte(nil), data...), '\n')
		for {
			line, n, err := NextLine(rest)
			if err != nil || n == 0 {
				break
			}
			rest = rest[n:]
			_ = ParseSV1PoolMessage(&p, line, &m)
		}
		err := ParseSV1PoolMessage(&p, data, &m)
		if err == ErrMalformed {
			return
		}
		if m.HasJob {
			if err != nil || !m.Job.IsValid() {
				t.Fatal("HasJob with an invalid job")
			}
			b, err := m.Job.Binary()
			if err != nil {
				t.Fatal(err)
			}
			var h SV1Hasher
			hash := h.ShareHash(b, []byte{1, 2}, []byte{3, 4}, 1, 2, 3, SV1DefaultVersionMask)
			_ = SV1HashDifficulty(&hash)
			line := AppendSV1Notify(nil, &m.Job, m.Job.CleanJobs)
			if ParseSV1PoolMessage(&p2, line, &back) != nil || !back.HasJob {
				t.Fatalf("re-encoded job %q does not parse", line)
			}
		}
		if m.Extranonce1 != nil && (len(m.Extranonce1) > 2*MaxSV1ExtranonceSize || m.Extranonce2Size < 1 || m.Extranonce2Size > MaxSV1ExtranonceSize) {
			t.Fatalf("extranonce out of bounds: %q %d", m.Extranonce1, m.Extranonce2Size)
		}
		if m.Kind == SV1PoolSetDifficulty && err == nil && (!(m.Difficulty > 0) || m.Difficulty > MaxSV1Difficulty) {
			t.Fatalf("bad difficulty %v", m.Difficulty)
		}
		if m.Error != nil && !IsText(m.Error, MaxSV1MessageLen) {
			t.Fatal("unprintable error message")
		}
		if m.Host != nil && !IsToken(m.Host, MaxSV1HostLen) {
			t.Fatal("bad host")
		}
		if m.Port < 0 || m.Port > 65535 || m.Wait < 0 || m.Wait > maxSV1ReconnectWait {
			t.Fatal("bad reconnect numbers")
		}
		if m.SessionID != nil && !IsToken(m.SessionID, MaxSV1SessionIDLen) {
			t.Fatal("bad session id")
		}
	})
}
