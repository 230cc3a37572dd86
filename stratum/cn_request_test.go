package stratum

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"
)

const (
	rfcLogin      = `{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"WALLET","pass":"x","agent":"XMRig/6.21.0","algo":["cn/r","rx/0"],"rigid":"rig-name"}}`
	rfcSubmit     = `{"id":2,"jsonrpc":"2.0","method":"submit","params":{"id":"SESSION-UUID","job_id":"JOBID","nonce":"deadbeef","result":"` + hash64 + `","algo":"cn/r"}}`
	rfcKeepalived = `{"id":3,"method":"keepalived","params":{"id":"SESSION-UUID"}}`
	hash64        = "e1364b8782719d7683e2ccd3d8f724bc59dfa780a9e960e7c0e0046acdb40100"
)

func parse(t *testing.T, line string) (Request, error) {
	t.Helper()
	var p fastjson.Parser
	var req Request
	err := ParseRequest(&p, []byte(line), &req)
	return req, err
}

func TestParseRequest_Login_Good(t *testing.T) {
	req, err := parse(t, rfcLogin)
	require.NoError(t, err)
	require.Equal(t, MethodLogin, req.Method)
	require.Equal(t, "1", req.ID.String())
	p := req.Params
	require.Equal(t, "WALLET", string(p.Login))
	require.Equal(t, "x", string(p.Pass))
	require.Equal(t, "XMRig/6.21.0", string(p.Agent))
	require.Equal(t, "rig-name", string(p.RigID))
	require.Equal(t, 2, p.NumAlgos)
	require.Equal(t, "rx/0", string(p.Algos[1]))
	require.NoError(t, p.ValidateLogin())
}

func TestParseRequest_Login_Bad(t *testing.T) {
	for name, line := range map[string]string{
		"no login":      `{"id":1,"method":"login","params":{"pass":"x"}}`,
		"empty login":   `{"id":1,"method":"login","params":{"login":""}}`,
		"number login":  `{"id":1,"method":"login","params":{"login":42}}`,
		"control login": `{"id":1,"method":"login","params":{"login":"W\u0001"}}`,
		"huge login":    `{"id":1,"method":"login","params":{"login":"` + strings.Repeat("W", MaxLoginLen+1) + `"}}`,
		"no params":     `{"id":1,"method":"login"}`,
		"array params":  `{"id":1,"method":"login","params":["WALLET"]}`,
	} {
		req, err := parse(t, line)
		require.NoError(t, err, name)
		require.EqualError(t, req.Params.ValidateLogin(), MsgInvalidAddress, name)
	}
}

func TestParseRequest_Login_Ugly(t *testing.T) {
	// Informational fields that are not clean text are dropped, not fatal.
	req, err := parse(t, `{"id":"a1","method":"login","params":{"login":"WALLET","agent":"x\u0007y","rigid":"`+strings.Repeat("r", 65)+`","algo":["ok",7,"bad algo"]}}`)
	require.NoError(t, err)
	require.NoError(t, req.Params.ValidateLogin())
	require.Nil(t, req.Params.Agent)
	require.Nil(t, req.Params.RigID)
	require.Equal(t, 1, req.Params.NumAlgos)
	require.Equal(t, `"a1"`, req.ID.String())
	// A password with a control character is refused.
	req, err = parse(t, `{"id":1,"method":"login","params":{"login":"W","pass":"a\nb"}}`)
	require.NoError(t, err)
	require.EqualError(t, req.Params.ValidateLogin(), MsgInvalidPassword)
}

func TestParseRequest_Submit_Good(t *testing.T) {
	req, err := parse(t, rfcSubmit)
	require.NoError(t, err)
	require.Equal(t, MethodSubmit, req.Method)
	p := req.Params
	require.Equal(t, "SESSION-UUID", string(p.SessionID))
	require.Equal(t, "JOBID", string(p.JobID))
	require.Equal(t, "deadbeef", string(p.Nonce))
	require.Equal(t, hash64, string(p.Result))
	require.Equal(t, "cn/r", string(p.Algo))
	require.NoError(t, p.ValidateSubmit())
	require.Equal(t, byte(0xef), NonceFixedByte(p.Nonce))
}

func TestParseRequest_Submit_Bad(t *testing.T) {
	base := map[string]any{"id": "S", "job_id": "J", "nonce": "deadbeef", "result": hash64}
	for _, c := range []struct {
		key  string
		val  any
		want string
	}{
		{"job_id", nil, MsgMissingJobID},
		{"job_id", "", MsgMissingJobID},
		{"job_id", 5, MsgMissingJobID},
		{"job_id", `a"b`, MsgInvalidJobID},
		{"nonce", "DEADBEEF", MsgInvalidNonce},
		{"nonce", "deadbee", MsgInvalidNonce},
		{"nonce", "deadbeef0", MsgInvalidNonce},
		{"nonce", "deadbeeg", MsgInvalidNonce},
		{"nonce", 12345678, MsgInvalidNonce},
		{"result", "00", MsgLowDifficulty},
		{"result", strings.Repeat("g", 64), MsgLowDifficulty},
		{"algo", "rx 0", MsgIncorrectAlgo},
	} {
		params := map[string]any{}
		for k, v := range base {
			params[k] = v
		}
		if c.val == nil {
			delete(params, c.key)
		} else {
			params[c.key] = c.val
		}
		req, err := parse(t, mustJSON(t, map[string]any{"id": 9, "method": "submit", "params": params}))
		require.NoError(t, err)
		require.EqualError(t, req.Params.ValidateSubmit(), c.want, "%s=%v", c.key, c.val)
	}
}

func TestParseRequest_Submit_Ugly(t *testing.T) {
	// Duplicate keys: fastjson keeps the first, so does the proxy.
	req, err := parse(t, `{"id":2,"method":"submit","params":{"id":"S","job_id":"A","job_id":"B","nonce":"00000000","result":"`+hash64+`"}}`)
	require.NoError(t, err)
	require.Equal(t, "A", string(req.Params.JobID))
	// Escapes are decoded before validation: a \u0022 quote is refused.
	req, err = parse(t, `{"id":2,"method":"submit","params":{"id":"S","job_id":"a\u0022b","nonce":"00000000","result":"`+hash64+`"}}`)
	require.NoError(t, err)
	require.EqualError(t, req.Params.ValidateSubmit(), MsgInvalidJobID)
}

func TestParseRequest_Keepalived_Good(t *testing.T) {
	req, err := parse(t, rfcKeepalived)
	require.NoError(t, err)
	require.Equal(t, MethodKeepalived, req.Method)
	require.Equal(t, "SESSION-UUID", string(req.Params.SessionID))
}

func TestParseRequest_Method_Bad(t *testing.T) {
	req, err := parse(t, `{"id":4,"method":"getjob","params":{}}`)
	require.NoError(t, err)
	require.Equal(t, MethodUnknown, req.Method)
	for _, line := range []string{`{"id":4}`, `{"id":4,"method":7}`, `{"id":4,"method":null}`, `{`, `{"a":1}x`, `[1]`} {
		_, err := parse(t, line)
		require.ErrorIs(t, err, ErrMalformed, line)
	}
}

func TestParseRequest_ID_Ugly(t *testing.T) {
	for line, want := range map[string]string{
		`{"method":"keepalived"}`:                  "null",
		`{"id":null,"method":"keepalived"}`:        "null",
		`{"id":18446744073709551615,"method":"x"}`: "18446744073709551615",
		`{"id":-5,"method":"x"}`:                   "-5",
		`{"id":"abc-1","method":"x"}`:              `"abc-1"`,
		`{"id":0,"method":"x"}`:                    "0",
	} {
		req, err := parse(t, line)
		require.NoError(t, err, line)
		require.Equal(t, want, req.ID.String(), line)
	}
	for _, line := range []string{
		`{"id":1.5,"method":"x"}`,
		`{"id":1e3,"method":"x"}`,
		`{"id":123456789012345678901,"method":"x"}`,
		`{"id":"has space","method":"x"}`,
		`{"id":"` + strings.Repeat("a", 40) + `","method":"x"}`,
		`{"id":{},"method":"x"}`,
		`{"id":[1],"method":"x"}`,
		`{"id":true,"method":"x"}`,
		`{"id":--,"method":"x"}`,
		`{"id":1-2,"method":"x"}`,
		`{"id":0123,"method":"x"}`,
		`{"id":-01,"method":"x"}`,
	} {
		req, err := parse(t, line)
		require.ErrorIs(t, err, ErrBadID, line)
		require.Equal(t, "null", req.ID.String(), "a refused id reads as null: %s", line)
	}
}
