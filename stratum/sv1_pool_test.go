package stratum

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"
)

func parseSV1Pool(t *testing.T, line string) (SV1PoolMessage, error) {
	t.Helper()
	var p fastjson.Parser
	var m SV1PoolMessage
	err := ParseSV1PoolMessage(&p, []byte(line), &m)
	return m, err
}

func TestParseSV1PoolMessage_Subscribe_Good(t *testing.T) {
	m, err := parseSV1Pool(t, sv1PoolSeeds[0])
	require.NoError(t, err)
	require.Equal(t, SV1PoolResponse, m.Kind)
	require.True(t, m.HasID)
	require.Equal(t, uint64(1), m.ID)
	require.Nil(t, m.Error)
	require.Equal(t, SV1ResultSubscribe, m.Result)
	require.Equal(t, "08000002", string(m.Extranonce1))
	require.Equal(t, 4, m.Extranonce2Size)
	require.Equal(t, "ae6812eb4cd7735a302a8a9dd95cf71f", string(m.SessionID))

	// The subscribe reply the proxy sends its miners parses the same way.
	id := NumericID(9)
	m, err = parseSV1Pool(t, string(AppendSV1SubscribeReply(nil, &id, []byte("abc"), []byte{1, 2, 3, 4, 5, 6, 7, 8}, 4)))
	require.NoError(t, err)
	require.Equal(t, "0102030405060708", string(m.Extranonce1))
	require.Equal(t, "abc", string(m.SessionID))

	// An empty extranonce1 (seed 003 before authorize) is allowed.
	m, err = parseSV1Pool(t, `{"id":1,"result":[[["mining.notify","1"]],"",8],"error":null}`)
	require.NoError(t, err)
	require.Equal(t, SV1ResultSubscribe, m.Result)
	require.Empty(t, m.Extranonce1)
	require.Equal(t, 8, m.Extranonce2Size)
}

func TestParseSV1PoolMessage_Subscribe_Bad(t *testing.T) {
	for _, tail := range []string{
		`"08000002",0]`, `"08000002",17]`, `"08000002",-1]`, `"08000002",4.5]`, `"08000002","x"]`, `"08000002",null]`,
		`"0800000",4]`, `"0800000z",4]`, `"` + strings.Repeat("ab", 17) + `",4]`, `7,4]`, `null,4]`,
	} {
		m, err := parseSV1Pool(t, `{"id":1,"result":[[["mining.notify","x"]],`+tail+`,"error":null}`)
		require.ErrorIs(t, err, ErrSV1InvalidParams, tail)
		require.Equal(t, SV1PoolResponse, m.Kind)
		require.Equal(t, uint64(1), m.ID)
		require.NotEqual(t, SV1ResultSubscribe, m.Result)
		require.Nil(t, m.Extranonce1)
	}
	// Sizes 16 and "4" (a quoted number) are fine.
	m, err := parseSV1Pool(t, `{"id":1,"result":[null,"aa","16"],"error":null}`)
	require.NoError(t, err)
	require.Equal(t, 16, m.Extranonce2Size)
	require.Nil(t, m.SessionID)
	// Arrays that are not subscribe results are "other".
	m, err = parseSV1Pool(t, `{"id":1,"result":["a"],"error":null}`)
	require.NoError(t, err)
	require.Equal(t, SV1ResultOther, m.Result)
}

func TestParseSV1PoolMessage_Configure_Good(t *testing.T) {
	m, err := parseSV1Pool(t, `{"error": null, "id": 1, "result": {"version-rolling": true, "version-rolling.mask": "18000000", "minimum-difficulty": true}}`)
	require.NoError(t, err)
	require.Equal(t, SV1ResultConfigure, m.Result)
	require.True(t, m.VersionRolling)
	require.Equal(t, uint32(0x18000000), m.VersionMask)
	require.True(t, m.MinimumDifficulty)
	// Refused, or granted without a usable mask: no rolling.
	for _, res := range []string{
		`{"version-rolling": false}`,
		`{"version-rolling": "not supported"}`,
		`{"version-rolling": true}`,
		`{"version-rolling": true, "version-rolling.mask": "1fffe0"}`,
		`{}`,
	} {
		m, err := parseSV1Pool(t, `{"id":1,"result":`+res+`,"error":null}`)
		require.NoError(t, err, res)
		require.Equal(t, SV1ResultConfigure, m.Result)
		require.False(t, m.VersionRolling, res)
		require.Zero(t, m.VersionMask, res)
	}
}

func TestParseSV1PoolMessage_Result_Good(t *testing.T) {
	m, err := parseSV1Pool(t, `{"id": 2, "result": true, "error": null}`)
	require.NoError(t, err)
	require.Equal(t, SV1ResultBool, m.Result)
	require.True(t, m.ResultBool)
	require.Nil(t, m.Error)
	m, err = parseSV1Pool(t, `{"id":3,"result":false}`)
	require.NoError(t, err)
	require.Equal(t, SV1ResultBool, m.Result)
	require.False(t, m.ResultBool)
}

func TestParseSV1PoolMessage_Result_Bad(t *testing.T) {
	for line, want := range map[string]struct {
		msg  string
		code int
	}{
		`{"id": 4, "result": null, "error": [23, "Low difficulty share", null]}`:  {"Low difficulty share", 23},
		`{"id":4,"result":false,"error":{"code":21,"message":"Stale"}}`:           {"Stale", 21},
		`{"id":4,"result":null,"error":"Job not found"}`:                          {"Job not found", 0},
		`{"id":4,"result":null,"error":[22]}`:                                     {"error", 22},
		`{"id":4,"result":null,"error":[null,"x"]}`:                               {"x", 0},
		`{"id":4,"result":null,"error":{"code":-1}}`:                              {"error", -1},
		`{"id":4,"result":null,"error":true}`:                                     {"error", 0},
		`{"id":4,"result":null,"error":[20,"bad\u0000text"]}`:                     {"error", 20},
		`{"id":4,"result":null,"error":[1e30,"big code"]}`:                        {"big code", 0},
		`{"id":4,"error":[20,"` + strings.Repeat("m", MaxSV1MessageLen+1) + `"]}`: {"error", 20},
	} {
		m, err := parseSV1Pool(t, line)
		require.NoError(t, err, line)
		require.Equal(t, SV1PoolResponse, m.Kind)
		require.Equal(t, want.msg, string(m.Error), line)
		require.Equal(t, want.code, m.ErrorCode, line)
	}
	// "error": false is no error.
	m, err := parseSV1Pool(t, `{"id":4,"result":true,"error":false}`)
	require.NoError(t, err)
	require.Nil(t, m.Error)
}

func TestParseSV1PoolMessage_Notify_Good(t *testing.T) {
	m, err := parseSV1Pool(t, sv1PoolSeeds[1])
	require.NoError(t, err)
	require.Equal(t, SV1PoolNotify, m.Kind)
	require.True(t, m.HasJob)
	require.False(t, m.HasID)
	j := m.Job
	require.Equal(t, "bf", j.JobID)
	require.Equal(t, "4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000", j.PrevHash)
	require.Empty(t, j.MerkleBranch)
	require.Equal(t, "00000002", j.Version)
	require.Equal(t, "1c2ac4af", j.NBits)
	require.Equal(t, "504e86b9", j.NTime)
	require.False(t, j.CleanJobs)
	// The encoder's output parses back to the same job.
	want := sv1TestJob()
	want.CleanJobs = true
	m, err = parseSV1Pool(t, string(AppendSV1Notify(nil, &want, true)))
	require.NoError(t, err)
	require.Equal(t, want, m.Job)
	// A notify without clean_jobs reads it as false.
	m, err = parseSV1Pool(t, `{"id":null,"method":"mining.notify","params":["1","`+zeros(64)+`","00","00",[],"20000000","1d00ffff","5f5e1000"]}`)
	require.NoError(t, err)
	require.True(t, m.HasJob)
	require.False(t, m.Job.CleanJobs)
}

func TestParseSV1PoolMessage_Notify_Bad(t *testing.T) {
	good := []string{`"1"`, `"` + zeros(64) + `"`, `"00"`, `"00"`, `[]`, `"20000000"`, `"1d00ffff"`, `"5f5e1000"`, `true`}
	for i, bad := range []string{
		`"a b"`, `"` + zeros(62) + `"`, `"0"`, `"0g"`, `["` + zeros(63) + `"]`, `"2000000"`, `"1d00fff"`, `"5f5e100z"`, ``,
	} {
		params := append([]string(nil), good...)
		params[i] = bad
		if bad == "" {
			continue
		}
		m, err := parseSV1Pool(t, `{"id":null,"method":"mining.notify","params":[`+strings.Join(params, ",")+`]}`)
		require.ErrorIs(t, err, ErrInvalidJob, bad)
		require.Equal(t, SV1PoolNotify, m.Kind)
		require.False(t, m.HasJob)
		require.Equal(t, SV1Job{}, m.Job)
	}
	for _, params := range []string{
		`[]`, `null`, `{"job_id":"1"}`,
		`["1","` + zeros(64) + `","00","00",[],"20000000","1d00ffff"]`,
		`["1","` + zeros(64) + `","00","00","x","20000000","1d00ffff","5f5e1000",true]`,
		`["1","` + zeros(64) + `","00","00",[],20000000,"1d00ffff","5f5e1000",true]`,
		`["1","` + zeros(64) + `","` + strings.Repeat("0", MaxSV1CoinbHex+2) + `","00",[],"20000000","1d00ffff","5f5e1000",true]`,
		`["1","` + zeros(64) + `","00","00",[` + strings.TrimSuffix(strings.Repeat(`"`+zeros(64)+`",`, MaxSV1Branch+1), ",") + `],"20000000","1d00ffff","5f5e1000",true]`,
	} {
		_, err := parseSV1Pool(t, `{"id":null,"method":"mining.notify","params":`+params+`}`)
		require.ErrorIs(t, err, ErrInvalidJob, params)
	}
	// The largest legal job is accepted.
	m, err := parseSV1Pool(t, `{"id":null,"method":"mining.notify","params":["1","`+zeros(64)+`","`+strings.Repeat("0", MaxSV1CoinbHex)+`","00",[`+
		strings.TrimSuffix(strings.Repeat(`"`+zeros(64)+`",`, MaxSV1Branch), ",")+`],"20000000","1d00ffff","5f5e1000",true]}`)
	require.NoError(t, err)
	require.Len(t, m.Job.MerkleBranch, MaxSV1Branch)
}

func TestParseSV1PoolMessage_Notifications_Good(t *testing.T) {
	m, err := parseSV1Pool(t, `{"id": null, "method": "mining.set_difficulty", "params": [2]}`)
	require.NoError(t, err)
	require.Equal(t, SV1PoolSetDifficulty, m.Kind)
	require.Equal(t, 2.0, m.Difficulty)

	m, err = parseSV1Pool(t, `{"params":["00003000"], "id":null, "method": "mining.set_version_mask"}`)
	require.NoError(t, err)
	require.Equal(t, SV1PoolSetVersionMask, m.Kind)
	require.Equal(t, uint32(0x3000), m.VersionMask)

	m, err = parseSV1Pool(t, `{"id":null,"method":"mining.set_extranonce","params":["AABBCCDD",4]}`)
	require.NoError(t, err)
	require.Equal(t, SV1PoolSetExtranonce, m.Kind)
	require.Equal(t, "AABBCCDD", string(m.Extranonce1))
	require.Equal(t, 4, m.Extranonce2Size)

	m, err = parseSV1Pool(t, `{"id":null,"method":"client.reconnect","params":["stratum.example.org",3333,10]}`)
	require.NoError(t, err)
	require.Equal(t, SV1PoolReconnect, m.Kind)
	require.Equal(t, "stratum.example.org", string(m.Host))
	require.Equal(t, 3333, m.Port)
	require.Equal(t, 10, m.Wait)
	// slush: host or port may be null (keep the current one); ports may be quoted.
	m, err = parseSV1Pool(t, `{"id":null,"method":"client.reconnect","params":[null,"3334",3]}`)
	require.NoError(t, err)
	require.Nil(t, m.Host)
	require.Equal(t, 3334, m.Port)
	m, err = parseSV1Pool(t, `{"id":null,"method":"client.reconnect","params":[]}`)
	require.NoError(t, err)
	require.Equal(t, SV1PoolReconnect, m.Kind)
	require.Zero(t, m.Port)

	m, err = parseSV1Pool(t, `{"id":null,"method":"client.show_message","params":["maintenance at 12:00"]}`)
	require.NoError(t, err)
	require.Equal(t, SV1PoolShowMessage, m.Kind)
	require.Equal(t, "maintenance at 12:00", string(m.Message))
	m, err = parseSV1Pool(t, `{"id":null,"method":"client.show_message","params":["\u001b[31mred"]}`)
	require.NoError(t, err)
	require.Nil(t, m.Message)

	m, err = parseSV1Pool(t, `{"id":7,"method":"client.get_version","params":[]}`)
	require.NoError(t, err)
	require.Equal(t, SV1PoolUnknown, m.Kind)
	require.Equal(t, "client.get_version", string(m.Method))
	require.True(t, m.HasID)
	require.Equal(t, uint64(7), m.ID)
}

func TestParseSV1PoolMessage_Notifications_Bad(t *testing.T) {
	for _, line := range []string{
		`{"id":null,"method":"mining.set_difficulty","params":[]}`,
		`{"id":null,"method":"mining.set_difficulty","params":[0]}`,
		`{"id":null,"method":"mining.set_difficulty","params":[-2]}`,
		`{"id":null,"method":"mining.set_difficulty","params":["2"]}`,
		`{"id":null,"method":"mining.set_difficulty","params":[NaN]}`,
		`{"id":null,"method":"mining.set_difficulty","params":[inf]}`,
		`{"id":null,"method":"mining.set_difficulty","params":[1e999]}`,
		`{"id":null,"method":"mining.set_difficulty","params":[18446744073709551617e3]}`,
		`{"id":null,"method":"mining.set_difficulty","params":2}`,
		`{"id":null,"method":"mining.set_version_mask","params":["3000"]}`,
		`{"id":null,"method":"mining.set_version_mask","params":[12288]}`,
		`{"id":null,"method":"mining.set_extranonce","params":["aabbccdd"]}`,
		`{"id":null,"method":"mining.set_extranonce","params":["aabbccd",4]}`,
		`{"id":null,"method":"mining.set_extranonce","params":["aabbccdd",0]}`,
		`{"id":null,"method":"client.reconnect","params":["evil host",3333,0]}`,
		`{"id":null,"method":"client.reconnect","params":[7,3333,0]}`,
		`{"id":null,"method":"client.reconnect","params":["h",65536,0]}`,
		`{"id":null,"method":"client.reconnect","params":["h","33a",0]}`,
		`{"id":null,"method":"client.reconnect","params":["h",3333,-1]}`,
		`{"id":null,"method":"client.reconnect","params":["h",3333,86401]}`,
	} {
		m, err := parseSV1Pool(t, line)
		if err == ErrMalformed {
			continue // fastjson refused the number itself
		}
		require.ErrorIs(t, err, ErrSV1InvalidParams, line)
		require.NotEqual(t, SV1PoolUnknown, m.Kind, line)
	}
}

func TestParseSV1PoolMessage_Ugly(t *testing.T) {
	for _, line := range []string{`{"id":1,`, `"str"`, `[1]`, ``, `{"id":1}x`} {
		_, err := parseSV1Pool(t, line)
		require.ErrorIs(t, err, ErrMalformed, line)
	}
	// Ids we never sent.
	for _, line := range []string{`{"id":"x","result":true}`, `{"id":-1,"result":true}`, `{"id":1.5,"result":true}`, `{"result":true}`} {
		m, err := parseSV1Pool(t, line)
		require.NoError(t, err, line)
		require.False(t, m.HasID, line)
		require.Equal(t, SV1ResultBool, m.Result)
	}
	// A CryptoNote job is not ours.
	m, err := parseSV1Pool(t, `{"jsonrpc":"2.0","method":"job","params":{"blob":"00","job_id":"1","target":"ffffffff"}}`)
	require.NoError(t, err)
	require.Equal(t, SV1PoolUnknown, m.Kind)
	// A response with neither result nor error.
	m, err = parseSV1Pool(t, `{"id":5}`)
	require.NoError(t, err)
	require.Equal(t, SV1PoolResponse, m.Kind)
	require.Equal(t, SV1ResultNull, m.Result)
}

func TestAppendSV1Pool_Requests_Good(t *testing.T) {
	requireLine(t, `{"id":1,"method":"mining.subscribe","params":["go-proxy/1.0"]}`, AppendSV1PoolSubscribe(nil, 1, "go-proxy/1.0", ""))
	requireLine(t, `{"id":1,"method":"mining.subscribe","params":["go-proxy/1.0","ae6812eb"]}`, AppendSV1PoolSubscribe(nil, 1, "go-proxy/1.0", "ae6812eb"))
	requireLine(t, `{"id":2,"method":"mining.authorize","params":["acct.worker","x"]}`, AppendSV1PoolAuthorize(nil, 2, "acct.worker", "x"))
	requireLine(t, `{"id":2,"method":"mining.authorize","params":["a\"b\\c","p\n"]}`, AppendSV1PoolAuthorize(nil, 2, `a"b\c`, "p\n"))
	requireLine(t, `{"id":3,"method":"mining.extranonce.subscribe","params":[]}`, AppendSV1PoolExtranonceSubscribe(nil, 3))
	requireLine(t, `{"id":4,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":2}]}`,
		AppendSV1PoolConfigure(nil, 4, SV1DefaultVersionMask, 2))
	requireLine(t, `{"id":4,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"ffffffff","version-rolling.min-bit-count":32}]}`,
		AppendSV1PoolConfigure(nil, 4, 0xffffffff, 99))
	requireLine(t, `{"id":5,"method":"mining.suggest_difficulty","params":[1024]}`, AppendSV1PoolSuggestDifficulty(nil, 5, 1024))
	requireLine(t, `{"id":5,"method":"mining.suggest_difficulty","params":[1.52587890625e-05]}`, AppendSV1PoolSuggestDifficulty(nil, 5, 1.0/65536))
}

func TestAppendSV1PoolSubmit_Good(t *testing.T) {
	req, err := parseSV1(t, sv1SeedSubmitSlush)
	require.NoError(t, err)
	require.NoError(t, req.Submit.Validate(4, 0))
	requireLine(t, `{"id":10,"method":"mining.submit","params":["pool.acct","bf","00000001","504e86ed","b2957c02"]}`,
		AppendSV1PoolSubmit(nil, 10, "pool.acct", nil, &req.Submit))
	// Six params; upper-case hex is forwarded in lower case; the prefix
	// goes in front of the miner's extranonce2.
	req, err = parseSV1(t, sv1SeedSubmitRolling)
	require.NoError(t, err)
	require.NoError(t, req.Submit.Validate(8, SV1DefaultVersionMask))
	requireLine(t, `{"id":11,"method":"mining.submit","params":["pool.acct","1a2b","0a0b00000000deadbeef","6578a1c0","5f3a1b2c","04a2e000"]}`,
		AppendSV1PoolSubmit(nil, 11, "pool.acct", []byte{0x0a, 0x0b}, &req.Submit))
	// The pool side reads it back as a submit with extranonce2 size 10.
	back, err := parseSV1(t, sv1SeedSubmitRolling)
	require.NoError(t, err)
	line := AppendSV1PoolSubmit(nil, 11, "pool.acct", []byte{0x0a, 0x0b}, &req.Submit)
	back, err = parseSV1(t, string(line))
	require.NoError(t, err)
	require.NoError(t, back.Submit.Validate(10, SV1DefaultVersionMask))
	require.Equal(t, req.Submit.NonceValue, back.Submit.NonceValue)
	require.Equal(t, req.Submit.VersionBitsValue, back.Submit.VersionBitsValue)
}
