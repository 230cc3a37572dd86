package sv1pool

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// ioTimeout bounds every read in the tests; a correct pool answers at once.
const ioTimeout = 5 * time.Second

func startPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	p, err := Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testMiner is a line-oriented stratum v1 miner for the tests, built on the
// stratum package's encoders, parser and hasher.
type testMiner struct {
	t      *testing.T
	conn   net.Conn
	r      *bufio.Reader
	parser fastjson.Parser
	nextID uint64
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
	conn, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
	require.NoError(t, err)
	return newTestMiner(t, conn)
}

func dialTLS(t *testing.T, p *Pool) *testMiner {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", p.Addr(),
		&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test against a self-signed pool
	require.NoError(t, err)
	return newTestMiner(t, conn)
}

func newTestMiner(t *testing.T, conn net.Conn) *testMiner {
	c := &testMiner{t: t, conn: conn, r: bufio.NewReader(conn), nextID: 1}
	t.Cleanup(func() { _ = conn.Close() })
	return c
}

func (c *testMiner) id() uint64 {
	c.nextID++
	return c.nextID - 1
}

func (c *testMiner) send(line []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := c.conn.Write(line)
	require.NoError(c.t, err)
}

// readLine returns the next line without its newline.
func (c *testMiner) readLine() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	line, err := c.r.ReadString('\n')
	require.NoError(c.t, err)
	return line[:len(line)-1]
}

// readMsg reads and parses the next line, copying the parser's views.
func (c *testMiner) readMsg() stratum.SV1PoolMessage {
	c.t.Helper()
	line := c.readLine()
	var m stratum.SV1PoolMessage
	require.NoError(c.t, stratum.ParseSV1PoolMessage(&c.parser, []byte(line), &m), line)
	for _, b := range []*[]byte{&m.Method, &m.Error, &m.Extranonce1, &m.SessionID, &m.Host, &m.Message} {
		if *b != nil {
			*b = append([]byte(nil), *b...)
		}
	}
	return m
}

// expectEOF asserts that the pool closes the connection.
func (c *testMiner) expectEOF() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	for {
		_, err := c.r.ReadString('\n')
		if err != nil {
			var ne net.Error
			require.False(c.t, errors.As(err, &ne) && ne.Timeout(), "pool did not close the connection")
			var oe *net.OpError
			require.True(c.t, errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.As(err, &oe), "%v", err)
			return
		}
	}
}

// subscribe sends mining.subscribe and records extranonce1 and its size.
func (c *testMiner) subscribe() stratum.SV1PoolMessage {
	c.t.Helper()
	id := c.id()
	c.send(stratum.AppendSV1PoolSubscribe(nil, id, "test-miner/1.0", ""))
	m := c.readMsg()
	require.Equal(c.t, id, m.ID)
	require.Nil(c.t, m.Error)
	require.Equal(c.t, stratum.SV1ResultSubscribe, m.Result)
	var ok bool
	c.e1, ok = stratum.DecodeHex(nil, m.Extranonce1)
	require.True(c.t, ok)
	c.e2Size = m.Extranonce2Size
	return m
}

// request sends a request line with a fresh id and returns the answer.
func (c *testMiner) request(build func(dst []byte, id uint64) []byte) stratum.SV1PoolMessage {
	c.t.Helper()
	id := c.id()
	c.send(build(nil, id))
	m := c.readMsg()
	require.Equal(c.t, stratum.SV1PoolResponse, m.Kind)
	require.Equal(c.t, id, m.ID)
	return m
}

// authorize sends mining.authorize and returns the answer.
func (c *testMiner) authorize(user string) stratum.SV1PoolMessage {
	c.t.Helper()
	return c.request(func(dst []byte, id uint64) []byte { return stratum.AppendSV1PoolAuthorize(dst, id, user, "x") })
}

// handshake subscribes, authorizes as user and reads the difficulty and
// first job that follow.
func (c *testMiner) handshake(user string) {
	c.t.Helper()
	c.subscribe()
	m := c.authorize(user)
	require.Nil(c.t, m.Error)
	require.True(c.t, m.ResultBool)
	c.readDifficulty()
	c.readJob()
}

func (c *testMiner) readDifficulty() {
	c.t.Helper()
	m := c.readMsg()
	require.Equal(c.t, stratum.SV1PoolSetDifficulty, m.Kind)
	c.diff = m.Difficulty
}

func (c *testMiner) readJob() stratum.SV1Job {
	c.t.Helper()
	m := c.readMsg()
	require.Equal(c.t, stratum.SV1PoolNotify, m.Kind)
	require.True(c.t, m.HasJob)
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
	c.t.Helper()
	bin, err := job.Binary()
	require.NoError(c.t, err)
	target, ok := stratum.SV1TargetFromDifficulty(diff)
	require.True(c.t, ok)
	h := c.hasher.Header(bin, e1, e2, stratum.SV1RollVersion(bin.Version, bits, mask), bin.NTime, 0)
	nonce, _, found := h.Search(&target, 0, 1<<26)
	require.True(c.t, found)
	return share{jobID: job.JobID, e2: e2, ntime: bin.NTime, nonce: nonce, versionBits: bits, rolled: rolled}
}

// mineCurrent mines the current job with the connection's extranonce1.
func (c *testMiner) mineCurrent(e2 uint64) share {
	c.t.Helper()
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
	c.t.Helper()
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
		require.False(c.t, m.ResultBool)
		return m.ErrorCode, string(m.Error)
	}
	require.Equal(c.t, stratum.SV1ResultBool, m.Result)
	require.True(c.t, m.ResultBool)
	return 0, ""
}
