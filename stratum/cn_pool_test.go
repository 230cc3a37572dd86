package stratum

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"
)

func parsePool(t *testing.T, line string) (PoolMessage, error) {
	t.Helper()
	var p fastjson.Parser
	var m PoolMessage
	err := ParsePoolMessage(&p, []byte(line), &m)
	return m, err
}

func TestParsePoolMessage_LoginReply_Good(t *testing.T) {
	j := rfcJob()
	id := NumericID(1)
	line := AppendLoginReply(nil, &id, []byte("POOLSESS"), &j, JobOptions{FixedByte: -1, Algo: true}, ExtKeepalive)
	m, err := parsePool(t, string(line))
	require.NoError(t, err)
	require.Equal(t, PoolResponse, m.Kind)
	require.True(t, m.HasID)
	require.Equal(t, uint64(1), m.ID)
	require.Nil(t, m.Error)
	require.Equal(t, "POOLSESS", string(m.SessionID))
	require.Equal(t, "OK", string(m.Status))
	require.True(t, m.HasJob)
	require.Equal(t, j, m.Job)
}

func TestParsePoolMessage_Job_Good(t *testing.T) {
	j := rfcJob()
	j.Height = 77
	j.SeedHash = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	m, err := parsePool(t, string(AppendJobNotify(nil, &j, []byte("POOLSESS"), JobOptions{FixedByte: -1, Algo: true})))
	require.NoError(t, err)
	require.Equal(t, PoolJobNotify, m.Kind)
	require.True(t, m.HasJob)
	require.Equal(t, j, m.Job)
}

func TestParsePoolMessage_Result_Good(t *testing.T) {
	m, err := parsePool(t, `{"id":5,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`)
	require.NoError(t, err)
	require.Equal(t, uint64(5), m.ID)
	require.Nil(t, m.Error)
	require.Equal(t, "OK", string(m.Status))
	require.False(t, m.HasJob)
}

func TestParsePoolMessage_Result_Bad(t *testing.T) {
	m, err := parsePool(t, `{"id":6,"jsonrpc":"2.0","error":{"code":-1,"message":"Low difficulty share"}}`)
	require.NoError(t, err)
	require.Equal(t, "Low difficulty share", string(m.Error))
	m, err = parsePool(t, `{"id":6,"error":{"code":-1}}`)
	require.NoError(t, err)
	require.Equal(t, "error", string(m.Error), "error without message still rejects")
	m, err = parsePool(t, `{"id":6,"error":"text"}`)
	require.NoError(t, err)
	require.Equal(t, "error", string(m.Error))
	m, err = parsePool(t, `{"id":6,"error":{"message":"bad\u0000\nline"}}`)
	require.NoError(t, err)
	require.Equal(t, "error", string(m.Error), "control characters from a pool are not relayed")
}

func TestParsePoolMessage_Ugly(t *testing.T) {
	// Garbage and lies from a pool: malformed, invalid job, ids we never sent.
	_, err := parsePool(t, `{"id":1,`)
	require.ErrorIs(t, err, ErrMalformed)
	_, err = parsePool(t, `"str"`)
	require.ErrorIs(t, err, ErrMalformed)
	m, err := parsePool(t, `{"jsonrpc":"2.0","method":"job","params":{"blob":"zz","job_id":"1","target":"ffffffff"}}`)
	require.ErrorIs(t, err, ErrInvalidJob)
	require.False(t, m.HasJob)
	m, err = parsePool(t, `{"jsonrpc":"2.0","method":"job","params":7}`)
	require.ErrorIs(t, err, ErrInvalidJob)
	m, err = parsePool(t, `{"id":"x","result":{"status":"OK"}}`)
	require.NoError(t, err)
	require.False(t, m.HasID)
	m, err = parsePool(t, `{"id":-1,"result":{"status":"OK"}}`)
	require.NoError(t, err)
	require.False(t, m.HasID)
	m, err = parsePool(t, `{"jsonrpc":"2.0","method":"mining.notify","params":[]}`)
	require.NoError(t, err)
	require.Equal(t, PoolUnknown, m.Kind)
	require.Equal(t, "mining.notify", string(m.Method))
}

func TestParsePoolMessage_Reconnect_Good(t *testing.T) {
	m, err := parsePool(t, `{"jsonrpc":"2.0","method":"client.reconnect","params":["pool2.example.com",3333,5]}`)
	require.NoError(t, err)
	require.Equal(t, PoolReconnect, m.Kind)
	require.Equal(t, "pool2.example.com", string(m.Host))
	require.Equal(t, 3333, m.Port)
	require.Equal(t, 5, m.Wait)
	m, err = parsePool(t, `{"method":"client.reconnect","params":{"host":"h","port":"4444"}}`)
	require.NoError(t, err)
	require.Equal(t, "h", string(m.Host))
	require.Equal(t, 4444, m.Port)
}

func TestParsePoolMessage_Reconnect_Ugly(t *testing.T) {
	for _, params := range []string{`[]`, `null`, `["h"]`, `["h",70000]`, `["h",-1]`, `["bad host",1]`, `["h","12a"]`, `7`, `["h",1.5]`} {
		m, err := parsePool(t, `{"method":"client.reconnect","params":`+params+`}`)
		require.NoError(t, err, params)
		require.Equal(t, PoolReconnect, m.Kind, params)
		require.Nil(t, m.Host, "unreadable target means the same pool: %s", params)
		require.Zero(t, m.Port, params)
	}
}
