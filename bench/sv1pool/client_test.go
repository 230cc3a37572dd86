package sv1pool

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/bench/internal/pooltest"
	"forge.lthn.ai/core/go-proxy/stratum"
)

func startPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	p, err := Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

// testMiner is a line-oriented stratum v1 miner for the tests, built on the
// stratum package's encoders, parser and hasher.
type testMiner struct {
	*pooltest.Client
	parser fastjson.Parser
	hasher stratum.SV1Hasher

	// From the handshake.
	e1     []byte
	e2Size int
	mask   uint32
	diff   float64
	job    stratum.SV1Job
}

func dial(t *testing.T, p *Pool) *testMiner {
	t.Helper()
	return &testMiner{Client: pooltest.Dial(t, p.Addr())}
}

func dialTLS(t *testing.T, p *Pool) *testMiner {
	t.Helper()
	return &testMiner{Client: pooltest.DialTLS(t, p.Addr())}
}

// readMsg reads and parses the next line, copying the parser's views.
func (c *testMiner) readMsg() stratum.SV1PoolMessage {
	c.T.Helper()
	line := c.ReadLine()
	var m stratum.SV1PoolMessage
	require.NoError(c.T, stratum.ParseSV1PoolMessage(&c.parser, []byte(line), &m), line)
	for _, b := range []*[]byte{&m.Method, &m.Error, &m.Extranonce1, &m.SessionID, &m.Host, &m.Message} {
		if *b != nil {
			*b = append([]byte(nil), *b...)
		}
	}
	return m
}

// subscribe sends mining.subscribe and records extranonce1 and its size.
func (c *testMiner) subscribe() stratum.SV1PoolMessage {
	c.T.Helper()
	id := c.ID()
	c.Send(stratum.AppendSV1PoolSubscribe(nil, id, "test-miner/1.0", ""))
	m := c.readMsg()
	require.Equal(c.T, id, m.ID)
	require.Nil(c.T, m.Error)
	require.Equal(c.T, stratum.SV1ResultSubscribe, m.Result)
	var ok bool
	c.e1, ok = stratum.DecodeHex(nil, m.Extranonce1)
	require.True(c.T, ok)
	c.e2Size = m.Extranonce2Size
	return m
}

// request sends a request line with a fresh id and returns the answer.
func (c *testMiner) request(build func(dst []byte, id uint64) []byte) stratum.SV1PoolMessage {
	c.T.Helper()
	id := c.ID()
	c.Send(build(nil, id))
	m := c.readMsg()
	require.Equal(c.T, stratum.SV1PoolResponse, m.Kind)
	require.Equal(c.T, id, m.ID)
	return m
}

// authorize sends mining.authorize and returns the answer.
func (c *testMiner) authorize(user string) stratum.SV1PoolMessage {
	c.T.Helper()
	return c.request(func(dst []byte, id uint64) []byte { return stratum.AppendSV1PoolAuthorize(dst, id, user, "x") })
}

// handshake subscribes, authorizes as user and reads the difficulty and
// first job that follow.
func (c *testMiner) handshake(user string) {
	c.T.Helper()
	c.subscribe()
	m := c.authorize(user)
	require.Nil(c.T, m.Error)
	require.True(c.T, m.ResultBool)
	c.readDifficulty()
	c.readJob()
}

func (c *testMiner) readDifficulty() {
	c.T.Helper()
	m := c.readMsg()
	require.Equal(c.T, stratum.SV1PoolSetDifficulty, m.Kind)
	c.diff = m.Difficulty
}

func (c *testMiner) readJob() stratum.SV1Job {
	c.T.Helper()
	m := c.readMsg()
	require.Equal(c.T, stratum.SV1PoolNotify, m.Kind)
	require.True(c.T, m.HasJob)
	c.job = m.Job
	return m.Job
}

// share is a found share, ready to submit.
type share struct {
	jobID                     string
	e2                        []byte
	ntime, nonce, versionBits uint32
	rolled                    bool
}

// mine searches nonces of job with extranonce1 e1 and extranonce2 e2 at
// difficulty diff (version bits rolled under mask when rolled) and returns
// the first share that meets it.
func (c *testMiner) mine(job *stratum.SV1Job, e1, e2 []byte, diff float64, bits, mask uint32, rolled bool) share {
	c.T.Helper()
	bin, err := job.Binary()
	require.NoError(c.T, err)
	target, ok := stratum.SV1TargetFromDifficulty(diff)
	require.True(c.T, ok)
	h := c.hasher.Header(bin, e1, e2, stratum.SV1RollVersion(bin.Version, bits, mask), bin.NTime, 0)
	nonce, _, found := h.Search(&target, 0, 1<<26)
	require.True(c.T, found)
	return share{jobID: job.JobID, e2: e2, ntime: bin.NTime, nonce: nonce, versionBits: bits, rolled: rolled}
}

// mineCurrent mines the current job with the connection's extranonce1.
func (c *testMiner) mineCurrent(e2 uint64) share {
	c.T.Helper()
	return c.mine(&c.job, c.e1, e2Bytes(e2, c.e2Size), c.diff, 0, 0, false)
}

func e2Bytes(v uint64, size int) []byte {
	b := make([]byte, size)
	for i := size - 1; i >= 0 && v > 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}

// submit sends s as worker and returns the error code (0 when accepted)
// and message.
func (c *testMiner) submit(worker string, s share) (int, string) {
	c.T.Helper()
	sub := stratum.SV1Submit{
		Worker:      []byte(worker),
		JobID:       []byte(s.jobID),
		Extranonce2: stratum.AppendHex(nil, s.e2),
		NTime:       stratum.AppendHex32(nil, s.ntime),
		Nonce:       stratum.AppendHex32(nil, s.nonce),
	}
	if s.rolled {
		sub.VersionBits = stratum.AppendHex32(nil, s.versionBits)
	}
	m := c.request(func(dst []byte, id uint64) []byte { return stratum.AppendSV1PoolSubmit(dst, id, worker, nil, &sub) })
	if m.Error != nil {
		require.False(c.T, m.ResultBool)
		return m.ErrorCode, string(m.Error)
	}
	require.Equal(c.T, stratum.SV1ResultBool, m.Result)
	require.True(c.T, m.ResultBool)
	return 0, ""
}
