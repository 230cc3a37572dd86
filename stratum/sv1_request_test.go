package stratum

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"
)

func parseSV1(t *testing.T, line string) (SV1Request, error) {
	t.Helper()
	var p fastjson.Parser
	var req SV1Request
	err := ParseSV1Request(&p, []byte(line), &req)
	return req, err
}

func TestParseSV1Request_Subscribe_Good(t *testing.T) {
	req, err := parseSV1(t, sv1SeedSubscribeCgminer)
	require.NoError(t, err)
	require.Equal(t, SV1MethodSubscribe, req.Method)
	require.Equal(t, "1", req.ID.String())
	req.Subscribe.Sanitize()
	require.Equal(t, "cgminer/4.12.0", string(req.Subscribe.UserAgent))
	require.Nil(t, req.Subscribe.SessionID)

	req, err = parseSV1(t, sv1SeedSubscribeResume)
	require.NoError(t, err)
	req.Subscribe.Sanitize()
	require.Equal(t, "cgminer/4.9.0", string(req.Subscribe.UserAgent))
	require.Equal(t, "b4b6693b72a50c71", string(req.Subscribe.SessionID))

	// No params at all (slush's example) is a plain subscribe.
	req, err = parseSV1(t, `{"id": 1, "method": "mining.subscribe", "params": []}`)
	require.NoError(t, err)
	require.Equal(t, SV1MethodSubscribe, req.Method)
	require.Nil(t, req.Subscribe.UserAgent)
}

func TestParseSV1Request_Subscribe_Ugly(t *testing.T) {
	// Informational fields that are not clean are dropped, never fatal.
	for _, line := range []string{
		`{"id":1,"method":"mining.subscribe","params":["bad\u0007agent","has space"]}`,
		`{"id":1,"method":"mining.subscribe","params":[7,{}]}`,
		`{"id":1,"method":"mining.subscribe","params":["` + strings.Repeat("a", MaxAgentLen+1) + `","` + strings.Repeat("s", MaxSV1SessionIDLen+1) + `"]}`,
		`{"id":1,"method":"mining.subscribe","params":{"agent":"x"}}`,
		`{"id":1,"method":"mining.subscribe","params":null}`,
		`{"id":1,"method":"mining.subscribe"}`,
	} {
		req, err := parseSV1(t, line)
		require.NoError(t, err, line)
		req.Subscribe.Sanitize()
		require.Nil(t, req.Subscribe.UserAgent, line)
		require.Nil(t, req.Subscribe.SessionID, line)
	}
	// A null session id (["agent", null]) is simply absent.
	req, err := parseSV1(t, `{"id":1,"method":"mining.subscribe","params":["NerdMinerV2/1.6.3",null]}`)
	require.NoError(t, err)
	req.Subscribe.Sanitize()
	require.Equal(t, "NerdMinerV2/1.6.3", string(req.Subscribe.UserAgent))
	require.Nil(t, req.Subscribe.SessionID)
}

func TestParseSV1Request_Authorize_Good(t *testing.T) {
	req, err := parseSV1(t, sv1SeedAuthorize)
	require.NoError(t, err)
	require.Equal(t, SV1MethodAuthorize, req.Method)
	require.Equal(t, "slush.miner1", string(req.Authorize.User))
	require.Equal(t, "password", string(req.Authorize.Pass))
	require.NoError(t, req.Authorize.Validate())
	// Password omitted or null is fine.
	for _, line := range []string{
		`{"id":2,"method":"mining.authorize","params":["bc1qexample.rig7"]}`,
		`{"id":2,"method":"mining.authorize","params":["bc1qexample.rig7",null]}`,
		`{"id":2,"method":"mining.authorize","params":["üñí.códe",""]}`,
		`{"id":2,"method":"mining.authorize","params":["w",7]}`,
	} {
		req, err := parseSV1(t, line)
		require.NoError(t, err, line)
		require.NoError(t, req.Authorize.Validate(), line)
	}
}

func TestParseSV1Request_Authorize_Bad(t *testing.T) {
	for _, line := range []string{
		`{"id":2,"method":"mining.authorize","params":[]}`,
		`{"id":2,"method":"mining.authorize","params":[""]}`,
		`{"id":2,"method":"mining.authorize","params":[42,"x"]}`,
		`{"id":2,"method":"mining.authorize","params":["w\nx","x"]}`,
		`{"id":2,"method":"mining.authorize","params":["w","p\u0000"]}`,
		`{"id":2,"method":"mining.authorize","params":["` + strings.Repeat("w", MaxLoginLen+1) + `"]}`,
		`{"id":2,"method":"mining.authorize","params":["w","` + strings.Repeat("p", MaxPassLen+1) + `"]}`,
		`{"id":2,"method":"mining.authorize","params":{"user":"w"}}`,
		`{"id":2,"method":"mining.authorize"}`,
	} {
		req, err := parseSV1(t, line)
		require.NoError(t, err, line)
		require.Equal(t, SV1MethodAuthorize, req.Method)
		require.Same(t, ErrSV1Unauthorized, req.Authorize.Validate(), line)
	}
}

func TestParseSV1Request_Configure_Good(t *testing.T) {
	// Antminer bmminer's request.
	req, err := parseSV1(t, sv1SeedConfigureBmminer)
	require.NoError(t, err)
	require.Equal(t, SV1MethodConfigure, req.Method)
	c := req.Configure
	require.NoError(t, c.Validate())
	require.Equal(t, SV1ExtVersionRolling, c.Extensions)
	require.Equal(t, uint32(0x1fffe000), c.VersionMask)
	require.Equal(t, 16, c.MinBitCount)

	// BIP310's own example: two extensions, upper-case-insensitive mask.
	req, err = parseSV1(t, sv1SeedConfigureBIP310)
	require.NoError(t, err)
	c = req.Configure
	require.NoError(t, c.Validate())
	require.Equal(t, SV1ExtVersionRolling|SV1ExtMinimumDifficulty, c.Extensions)
	require.Equal(t, uint32(0x1fffe000), c.VersionMask)
	require.Equal(t, 2, c.MinBitCount)
	require.Equal(t, 2048.0, c.MinimumDifficulty)

	// Every known code, unknown ones ignored, mask defaulted, case folded.
	req, err = parseSV1(t, `{"id":3,"method":"mining.configure","params":[["version-rolling","subscribe-extranonce","info","future-ext",7],{"info.hw-version":"S19"}]}`)
	require.NoError(t, err)
	c = req.Configure
	require.NoError(t, c.Validate())
	require.Equal(t, SV1ExtVersionRolling|SV1ExtSubscribeExtranonce|SV1ExtInfo, c.Extensions)
	require.Equal(t, uint32(0xffffffff), c.VersionMask)
	req, err = parseSV1(t, `{"id":3,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"1FFFE000"}]}`)
	require.NoError(t, err)
	require.NoError(t, req.Configure.Validate())
	require.Equal(t, uint32(0x1fffe000), req.Configure.VersionMask)
	// Minimum difficulty 0 disables the feature (BIP310) and is valid.
	req, err = parseSV1(t, `{"id":3,"method":"mining.configure","params":[["minimum-difficulty"],{"minimum-difficulty.value":0}]}`)
	require.NoError(t, err)
	require.NoError(t, req.Configure.Validate())
	// Seed 003's miner test: subscribe-extranonce with empty params.
	req, err = parseSV1(t, `{"id":2, "method":"mining.configure", "params": [["subscribe-extranonce"], {}]}`)
	require.NoError(t, err)
	require.NoError(t, req.Configure.Validate())
	require.Equal(t, SV1ExtSubscribeExtranonce, req.Configure.Extensions)
}

func TestParseSV1Request_Configure_Bad(t *testing.T) {
	for _, params := range []string{
		``,
		`[]`,
		`["version-rolling"]`,
		`[["version-rolling"],"mask"]`,
		`[["version-rolling"],{"version-rolling.mask":"1fffe00"}]`,
		`[["version-rolling"],{"version-rolling.mask":"1fffe0000"}]`,
		`[["version-rolling"],{"version-rolling.mask":"1fffe00g"}]`,
		`[["version-rolling"],{"version-rolling.mask":536862720}]`,
		`[["minimum-difficulty"],{}]`,
		`[["minimum-difficulty"]]`,
		`[["minimum-difficulty"],{"minimum-difficulty.value":-1}]`,
		`[["minimum-difficulty"],{"minimum-difficulty.value":"2048"}]`,
		`[["minimum-difficulty"],{"minimum-difficulty.value":NaN}]`,
		`[["minimum-difficulty"],{"minimum-difficulty.value":-Inf}]`,
		`[["minimum-difficulty"],{"minimum-difficulty.value":1e400}]`,
		`[["minimum-difficulty"],{"minimum-difficulty.value":18446744073709551617e10}]`,
	} {
		line := `{"id":3,"method":"mining.configure"` + map[bool]string{true: "", false: `,"params":` + params}[params == ""] + `}`
		req, err := parseSV1(t, line)
		require.NoError(t, err, line)
		require.Equal(t, SV1MethodConfigure, req.Method)
		require.Same(t, ErrSV1BadConfigure, req.Configure.Validate(), line)
	}
}

func TestParseSV1Request_Configure_Ugly(t *testing.T) {
	// min-bit-count is diagnostic: an unreadable one is ignored, not fatal.
	for _, bits := range []string{`"2"`, `-1`, `33`, `2.5`, `NaN`, `null`} {
		req, err := parseSV1(t, `{"id":3,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":`+bits+`}]}`)
		require.NoError(t, err, bits)
		require.NoError(t, req.Configure.Validate(), bits)
		require.Equal(t, 0, req.Configure.MinBitCount, bits)
	}
	// Parameters of extensions that were not requested are not checked.
	req, err := parseSV1(t, `{"id":3,"method":"mining.configure","params":[["info"],{"version-rolling.mask":"zz","minimum-difficulty.value":-5}]}`)
	require.NoError(t, err)
	require.NoError(t, req.Configure.Validate())
	// A null parameter object is an empty one.
	req, err = parseSV1(t, `{"id":3,"method":"mining.configure","params":[["version-rolling"],null]}`)
	require.NoError(t, err)
	require.NoError(t, req.Configure.Validate())
	require.Equal(t, uint32(0xffffffff), req.Configure.VersionMask)
}

func TestParseSV1Request_SuggestDifficulty_Good(t *testing.T) {
	for line, want := range map[string]float64{
		sv1SeedSuggestDifficulty: 512,
		`{"id":3,"method":"mining.suggest_difficulty","params":[0.0000152587890625]}`:   1.0 / 65536,
		`{"id":3,"method":"mining.suggest_difficulty","params":[1e6]}`:                  1e6,
		`{"id":3,"method":"mining.suggest_difficulty","params":[18446744073709551616]}`: MaxSV1Difficulty,
	} {
		req, err := parseSV1(t, line)
		require.NoError(t, err, line)
		require.Equal(t, SV1MethodSuggestDifficulty, req.Method)
		require.NoError(t, req.SuggestDifficulty.Validate(), line)
		require.Equal(t, want, req.SuggestDifficulty.Difficulty, line)
	}
}

func TestParseSV1Request_SuggestDifficulty_Bad(t *testing.T) {
	for _, params := range []string{
		`[]`, `[0]`, `[-0]`, `[-1]`, `["512"]`, `[null]`, `[true]`, `[[512]]`,
		`[NaN]`, `[nan]`, `[Inf]`, `[-inf]`, `[1e309]`, `[18446744073709551617000]`,
		`512`, `{"diff":512}`,
	} {
		line := `{"id":3,"method":"mining.suggest_difficulty","params":` + params + `}`
		req, err := parseSV1(t, line)
		if err != nil {
			// fastjson refuses some of these outright: that closes the
			// connection, which is also fine.
			require.ErrorIs(t, err, ErrMalformed, line)
			continue
		}
		require.Same(t, ErrSV1BadDifficulty, req.SuggestDifficulty.Validate(), line)
	}
}

func TestParseSV1Request_ExtranonceSubscribe_Good(t *testing.T) {
	req, err := parseSV1(t, sv1SeedExtranonceSubscribe)
	require.NoError(t, err)
	require.Equal(t, SV1MethodExtranonceSubscribe, req.Method)
	require.Equal(t, "4", req.ID.String())
}

func TestParseSV1Request_Submit_Good(t *testing.T) {
	req, err := parseSV1(t, sv1SeedSubmitSlush)
	require.NoError(t, err)
	require.Equal(t, SV1MethodSubmit, req.Method)
	s := req.Submit
	require.Equal(t, "slush.miner1", string(s.Worker))
	require.Equal(t, "bf", string(s.JobID))
	require.Equal(t, "00000001", string(s.Extranonce2))
	require.Equal(t, "504e86ed", string(s.NTime))
	require.Equal(t, "b2957c02", string(s.Nonce))
	require.Nil(t, s.VersionBits)
	require.NoError(t, s.Validate(4, 0))
	require.Equal(t, uint32(0x504e86ed), s.NTimeValue)
	require.Equal(t, uint32(0xb2957c02), s.NonceValue)
	require.Zero(t, s.VersionBitsValue)

	// Six params (version rolling), upper-case hex accepted.
	req, err = parseSV1(t, sv1SeedSubmitRolling)
	require.NoError(t, err)
	s = req.Submit
	require.NoError(t, s.Validate(8, SV1DefaultVersionMask))
	require.Equal(t, uint32(0x04a2e000), s.VersionBitsValue)
	require.Equal(t, uint32(0x5f3a1b2c), s.NonceValue)
}

func TestParseSV1Request_Submit_Bad(t *testing.T) {
	base := []any{"w.1", "bf", "0000000a", "504e86ed", "b2957c02", "00002000"}
	for _, c := range []struct {
		i    int
		val  any
		want *SV1Error
	}{
		{0, nil, ErrSV1Unauthorized},
		{0, "", ErrSV1Unauthorized},
		{0, 5, ErrSV1Unauthorized},
		{0, "w\u0001", ErrSV1Unauthorized},
		{0, strings.Repeat("w", MaxLoginLen+1), ErrSV1Unauthorized},
		{1, nil, ErrSV1JobNotFound},
		{1, "", ErrSV1JobNotFound},
		{1, 191, ErrSV1JobNotFound},
		{1, "b f", ErrSV1JobNotFound},
		{1, `b"f`, ErrSV1JobNotFound},
		{1, strings.Repeat("j", MaxJobIDLen+1), ErrSV1JobNotFound},
		{2, nil, ErrSV1BadExtranonce2},
		{2, "", ErrSV1BadExtranonce2},
		{2, "000000", ErrSV1BadExtranonce2},
		{2, "0000000a0", ErrSV1BadExtranonce2},
		{2, "000000000a", ErrSV1BadExtranonce2},
		{2, "0000000g", ErrSV1BadExtranonce2},
		{2, 10, ErrSV1BadExtranonce2},
		{2, "000000\u0010\u0011", ErrSV1BadExtranonce2}, // control bytes are not digits
		{3, nil, ErrSV1BadNTime},
		{3, "504e86e", ErrSV1BadNTime},
		{3, "504e86ed0", ErrSV1BadNTime},
		{3, "0x4e86ed", ErrSV1BadNTime},
		{3, 1347323629, ErrSV1BadNTime},
		{4, nil, ErrSV1BadNonce},
		{4, "b2957c0", ErrSV1BadNonce},
		{4, "b2957c0z", ErrSV1BadNonce},
		{4, -1, ErrSV1BadNonce},
		{4, "b2957c\u0012\u0019", ErrSV1BadNonce},
		{5, "2000", ErrSV1BadVersionBits},
		{5, "0000200000", ErrSV1BadVersionBits},
		{5, "zzzzzzzz", ErrSV1BadVersionBits},
		{5, 8192, ErrSV1BadVersionBits},
		{5, "00001000", ErrSV1VersionBitsNotMask}, // bit 12, below the mask
		{5, "20000000", ErrSV1VersionBitsNotMask}, // bit 29, above the mask
		{5, "ffffffff", ErrSV1VersionBitsNotMask},
	} {
		params := append([]any(nil), base...)
		params[c.i] = c.val
		if c.val == nil {
			params = params[:c.i] // missing: drop it and what follows
		}
		line := mustJSON(t, map[string]any{"id": 9, "method": "mining.submit", "params": params})
		req, err := parseSV1(t, line)
		require.NoError(t, err, line)
		require.Same(t, c.want, req.Submit.Validate(4, SV1DefaultVersionMask), line)
	}
}

func TestParseSV1Request_Submit_Ugly(t *testing.T) {
	// Version bits from a miner that did not negotiate rolling: only zero
	// passes (mask 0).
	req, err := parseSV1(t, `{"id":1,"method":"mining.submit","params":["w","j","00","00000000","00000000","00000000"]}`)
	require.NoError(t, err)
	require.NoError(t, req.Submit.Validate(1, 0))
	req, err = parseSV1(t, `{"id":1,"method":"mining.submit","params":["w","j","00","00000000","00000000","00002000"]}`)
	require.NoError(t, err)
	require.Same(t, ErrSV1VersionBitsNotMask, req.Submit.Validate(1, 0))
	// A null sixth param is no version bits; extra params are ignored.
	req, err = parseSV1(t, `{"id":1,"method":"mining.submit","params":["w","j","00","00000000","00000000",null,"x",7]}`)
	require.NoError(t, err)
	require.Nil(t, req.Submit.VersionBits)
	require.NoError(t, req.Submit.Validate(1, 0))
	// An extranonce2 size of 0 wants an empty string, not a missing one.
	req, err = parseSV1(t, `{"id":1,"method":"mining.submit","params":["w","j","","00000000","00000000"]}`)
	require.NoError(t, err)
	require.NoError(t, req.Submit.Validate(0, 0))
	// Escapes are decoded before validation: \u0022 in a job id is refused.
	req, err = parseSV1(t, `{"id":1,"method":"mining.submit","params":["w","a\u0022b","00","00000000","00000000"]}`)
	require.NoError(t, err)
	require.Same(t, ErrSV1JobNotFound, req.Submit.Validate(1, 0))
	// Params as an object are not params.
	req, err = parseSV1(t, `{"id":1,"method":"mining.submit","params":{"0":"w"}}`)
	require.NoError(t, err)
	require.Same(t, ErrSV1Unauthorized, req.Submit.Validate(1, 0))
}

func TestParseSV1Request_Method_Bad(t *testing.T) {
	for _, line := range []string{
		`{"id":4,"method":"mining.get_transactions","params":["bf"]}`,
		`{"id":4,"method":"login","params":{}}`,
		`{"id":4,"method":"Mining.Submit","params":[]}`,
		`{"id":4,"method":"mining.submit ","params":[]}`,
	} {
		req, err := parseSV1(t, line)
		require.NoError(t, err, line)
		require.Equal(t, SV1MethodUnknown, req.Method, line)
	}
	for _, line := range []string{`{"id":4}`, `{"id":4,"method":7}`, `{"id":4,"method":null}`, `{`, `{"a":1}x`, `[1]`, `"mining.submit"`, ``} {
		_, err := parseSV1(t, line)
		require.ErrorIs(t, err, ErrMalformed, line)
	}
}

func TestParseSV1Request_ID_Ugly(t *testing.T) {
	for line, want := range map[string]string{
		`{"method":"mining.subscribe"}`:                           "null",
		`{"id":null,"method":"mining.subscribe"}`:                 "null",
		`{"id":"sub-1","method":"mining.subscribe"}`:              `"sub-1"`,
		`{"id":18446744073709551615,"method":"mining.subscribe"}`: "18446744073709551615",
	} {
		req, err := parseSV1(t, line)
		require.NoError(t, err, line)
		require.Equal(t, want, req.ID.String(), line)
	}
	// fastjson reads "--", "1-2" and "0123" as numbers; echoing them would
	// make replies that are not JSON.
	for _, line := range []string{
		`{"id":1.5,"method":"mining.submit"}`, `{"id":NaN,"method":"mining.submit"}`, `{"id":[1],"method":"mining.submit"}`,
		`{"id":--,"method":"mining.submit"}`, `{"id":1-2,"method":"mining.submit"}`, `{"id":0123,"method":"mining.submit"}`,
		`{"id":-01,"method":"mining.submit"}`, `{"id":5-,"method":"mining.submit"}`,
	} {
		req, err := parseSV1(t, line)
		require.ErrorIs(t, err, ErrBadID, line)
		require.Equal(t, "null", req.ID.String(), line)
	}
	req, err := parseSV1(t, `{"id":-0,"method":"mining.submit"}`)
	require.NoError(t, err)
	require.Equal(t, "-0", req.ID.String())
}
