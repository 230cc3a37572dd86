package mockpool

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/bench/internal/pooltest"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// testClient is a line-oriented stratum miner for the tests.
type testClient struct {
	*pooltest.Client
	parser fastjson.Parser
}

func dialPool(t *testing.T, p *Pool) *testClient {
	t.Helper()
	return &testClient{Client: pooltest.Dial(t, p.Addr())}
}

func dialPoolTLS(t *testing.T, p *Pool) *testClient {
	t.Helper()
	return &testClient{Client: pooltest.DialTLS(t, p.Addr())}
}

// readMsg reads and parses the next line.
func (c *testClient) readMsg() stratum.PoolMessage {
	c.T.Helper()
	line := c.ReadLine()
	var m stratum.PoolMessage
	require.NoError(c.T, stratum.ParsePoolMessage(&c.parser, []byte(line), &m), line)
	// Copy the parser-owned views so the message outlives the next parse.
	m.Error = append([]byte(nil), m.Error...)
	m.Status = append([]byte(nil), m.Status...)
	m.SessionID = append([]byte(nil), m.SessionID...)
	m.Method = append([]byte(nil), m.Method...)
	return m
}

func (c *testClient) sendLogin(login string) uint64 {
	id := c.ID()
	c.Send(stratum.AppendPoolLogin(nil, id, &stratum.PoolLogin{
		Login: login, Pass: "x", Agent: "test/1.0", RigID: "rig-1", Algos: []string{"rx/0", "cn/r"},
	}))
	return id
}

// login logs in and returns the session id and first job.
func (c *testClient) login() (string, stratum.Job) {
	c.T.Helper()
	id := c.sendLogin("wallet")
	m := c.readMsg()
	require.Equal(c.T, stratum.PoolResponse, m.Kind)
	require.Equal(c.T, id, m.ID)
	require.Nil(c.T, m.Error)
	require.True(c.T, m.HasJob)
	require.NotEmpty(c.T, m.SessionID)
	return string(m.SessionID), m.Job
}

func (c *testClient) sendSubmit(session, jobID, nonce, result string) uint64 {
	id := c.ID()
	c.Send(stratum.AppendPoolSubmit(nil, id, session, []byte(jobID), []byte(nonce), []byte(result), []byte("rx/0")))
	return id
}

// submit sends a submit and returns the error message ("" when accepted).
func (c *testClient) submit(session, jobID, nonce, result string) string {
	c.T.Helper()
	id := c.sendSubmit(session, jobID, nonce, result)
	m := c.readMsg()
	require.Equal(c.T, stratum.PoolResponse, m.Kind)
	require.Equal(c.T, id, m.ID)
	if m.Error != nil {
		return string(m.Error)
	}
	require.Equal(c.T, "OK", string(m.Status))
	return ""
}

func (c *testClient) keepalived(session string) stratum.PoolMessage {
	c.T.Helper()
	id := c.ID()
	c.Send(stratum.AppendPoolKeepalived(nil, id, session))
	m := c.readMsg()
	require.Equal(c.T, id, m.ID)
	return m
}

// resultFor returns a 64-hex result whose claimed difficulty is diff.
func resultFor(diff uint64) string {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[24:], math.MaxUint64/diff)
	return string(stratum.AppendHex(nil, b[:]))
}

// nonceHex returns the 8-hex little-endian nonce n.
func nonceHex(n uint32) string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], n)
	return string(stratum.AppendHex(nil, b[:]))
}
