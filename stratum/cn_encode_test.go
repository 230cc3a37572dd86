package stratum

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The expected lines below are RFC §19 byte for byte, with the fixed byte
// at hex 84-85 (DESIGN §2.1) and the extensions XMRig needs to switch
// NiceHash mode on by itself.

var session = []byte("SESSION-UUID")

func rfcJob() Job {
	return Job{Blob: strings.Repeat("0", 160), JobID: "JOBID", Target: "b88d0600", Algo: "cn/r"}
}

func patchedBlob(b byte) string {
	return strings.Repeat("0", 84) + string(AppendHexByte(nil, b)) + strings.Repeat("0", 74)
}

func TestAppendLoginReply_Good(t *testing.T) {
	j := rfcJob()
	id := NumericID(1)
	got := AppendLoginReply(nil, &id, session, &j, JobOptions{FixedByte: 0x2a, Algo: true}, ExtAlgo|ExtNiceHash|ExtKeepalive)
	want := `{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"SESSION-UUID","job":{"blob":"` + patchedBlob(0x2a) +
		`","job_id":"JOBID","target":"b88d0600","algo":"cn/r","id":"SESSION-UUID"},"extensions":["algo","nicehash","keepalive"],"status":"OK"}}` + "\n"
	require.Equal(t, want, string(got))
	require.True(t, json.Valid(got))
}

func TestAppendLoginReply_Ugly(t *testing.T) {
	// No algo extension, no fixed byte (simple mode), custom target, RandomX fields.
	j := rfcJob()
	j.Height = 3100000
	j.SeedHash = strings.Repeat("ab", 32)
	id := RequestID{}
	got := AppendLoginReply(nil, &id, session, &j, JobOptions{FixedByte: -1, Target: "e8030000"}, ExtKeepalive)
	want := `{"id":null,"jsonrpc":"2.0","error":null,"result":{"id":"SESSION-UUID","job":{"blob":"` + strings.Repeat("0", 160) +
		`","job_id":"JOBID","target":"e8030000","height":3100000,"seed_hash":"` + j.SeedHash + `","id":"SESSION-UUID"},"extensions":["keepalive"],"status":"OK"}}` + "\n"
	require.Equal(t, want, string(got))
}

func TestAppendJobNotify_Good(t *testing.T) {
	j := rfcJob()
	got := AppendJobNotify(nil, &j, session, JobOptions{FixedByte: 0xff, Algo: true})
	want := `{"jsonrpc":"2.0","method":"job","params":{"blob":"` + patchedBlob(0xff) +
		`","job_id":"JOBID","target":"b88d0600","algo":"cn/r","id":"SESSION-UUID"}}` + "\n"
	require.Equal(t, want, string(got))
}

func TestAppendStatusReply_Good(t *testing.T) {
	id := NumericID(2)
	require.Equal(t, `{"id":2,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`+"\n", string(AppendStatusReply(nil, &id, "OK")))
	id = NumericID(3)
	require.Equal(t, `{"id":3,"jsonrpc":"2.0","error":null,"result":{"status":"KEEPALIVED"}}`+"\n", string(AppendStatusReply(nil, &id, "KEEPALIVED")))
}

func TestAppendErrorReply_Good(t *testing.T) {
	id := NumericID(1)
	require.Equal(t, `{"id":1,"jsonrpc":"2.0","error":{"code":-1,"message":"Invalid payment address provided"}}`+"\n",
		string(AppendErrorReply(nil, &id, MsgInvalidAddress)))
}

func TestAppendErrorReply_Ugly(t *testing.T) {
	// Pool error texts are relayed to miners: they must be escaped.
	id := NumericID(7)
	got := AppendErrorReply(nil, &id, "bad \"share\"\n\\\x01")
	require.True(t, json.Valid(got[:len(got)-1]), string(got))
	var v struct{ Error struct{ Message string } }
	require.NoError(t, json.Unmarshal(got, &v))
	require.Equal(t, "bad \"share\"\n\\\x01", v.Error.Message)
}

func TestAppendJSONString_Good(t *testing.T) {
	for _, s := range []string{"", "plain", "ünïcode ✓", "q\"b\\s\t\r\n\x00\x1f\x7f"} {
		got := AppendJSONString(nil, s)
		var back string
		require.NoError(t, json.Unmarshal(got, &back), string(got))
		require.Equal(t, s, back)
	}
}

func TestAppendPoolLogin_Good(t *testing.T) {
	got := AppendPoolLogin(nil, 1, &PoolLogin{Login: "WALLET", Pass: "x", Agent: "go-proxy/1.0", RigID: "farm-1", Algos: []string{"rx/0"}})
	require.Equal(t, `{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"WALLET","pass":"x","agent":"go-proxy/1.0","rigid":"farm-1","algo":["rx/0"]}}`+"\n", string(got))
}

func TestAppendPoolSubmit_Good(t *testing.T) {
	got := AppendPoolSubmit(nil, 12, "POOLSESS", []byte("JOBID"), []byte("deadbeef"), []byte(hash64), []byte("rx/0"))
	require.Equal(t, `{"id":12,"jsonrpc":"2.0","method":"submit","params":{"id":"POOLSESS","job_id":"JOBID","nonce":"deadbeef","result":"`+hash64+`","algo":"rx/0"}}`+"\n", string(got))
	got = AppendPoolKeepalived(nil, 13, "POOLSESS")
	require.Equal(t, `{"id":13,"jsonrpc":"2.0","method":"keepalived","params":{"id":"POOLSESS"}}`+"\n", string(got))
}

// A miner's request encoded by the pool-side encoders parses back to the
// same fields: the two directions agree.
func TestRoundTrip_Submit_Good(t *testing.T) {
	line := AppendPoolSubmit(nil, 99, "S1", []byte("J1"), []byte("0000002a"), []byte(hash64), nil)
	req, err := parse(t, string(line[:len(line)-1]))
	require.NoError(t, err)
	require.Equal(t, "99", req.ID.String())
	require.NoError(t, req.Params.ValidateSubmit())
	require.Equal(t, byte(0x2a), NonceFixedByte(req.Params.Nonce))
}
