package mockpool

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// ioTimeout bounds every read in the tests; a correct pool answers at once.
const ioTimeout = 5 * time.Second

// testClient is a line-oriented stratum miner for the tests.
type testClient struct {
	t      *testing.T
	conn   net.Conn
	r      *bufio.Reader
	parser fastjson.Parser
	nextID uint64
}

func dialPool(t *testing.T, p *Pool) *testClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
	require.NoError(t, err)
	return newTestClient(t, conn)
}

func dialPoolTLS(t *testing.T, p *Pool) *testClient {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", p.Addr(),
		&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test against a self-signed pool
	require.NoError(t, err)
	return newTestClient(t, conn)
}

func newTestClient(t *testing.T, conn net.Conn) *testClient {
	c := &testClient{t: t, conn: conn, r: bufio.NewReader(conn), nextID: 1}
	t.Cleanup(func() { _ = conn.Close() })
	return c
}

func (c *testClient) send(line []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := c.conn.Write(line)
	require.NoError(c.t, err)
}

// readLine returns the next line without its newline.
func (c *testClient) readLine() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	line, err := c.r.ReadString('\n')
	require.NoError(c.t, err)
	return line[:len(line)-1]
}

// readMsg reads and parses the next line.
func (c *testClient) readMsg() stratum.PoolMessage {
	c.t.Helper()
	line := c.readLine()
	var m stratum.PoolMessage
	require.NoError(c.t, stratum.ParsePoolMessage(&c.parser, []byte(line), &m), line)
	// Copy the parser-owned views so the message outlives the next parse.
	m.Error = append([]byte(nil), m.Error...)
	m.Status = append([]byte(nil), m.Status...)
	m.SessionID = append([]byte(nil), m.SessionID...)
	m.Method = append([]byte(nil), m.Method...)
	return m
}

// expectEOF asserts that the pool closes the connection.
func (c *testClient) expectEOF() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	for {
		_, err := c.r.ReadString('\n')
		if err != nil {
			var ne net.Error
			require.False(c.t, errors.As(err, &ne) && ne.Timeout(), "pool did not close the connection")
			require.True(c.t, errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err), "%v", err)
			return
		}
	}
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}

func (c *testClient) id() uint64 {
	c.nextID++
	return c.nextID - 1
}

func (c *testClient) sendLogin(login string) uint64 {
	id := c.id()
	c.send(stratum.AppendPoolLogin(nil, id, &stratum.PoolLogin{
		Login: login, Pass: "x", Agent: "test/1.0", RigID: "rig-1", Algos: []string{"rx/0", "cn/r"},
	}))
	return id
}

// login logs in and returns the session id and first job.
func (c *testClient) login() (string, stratum.Job) {
	c.t.Helper()
	id := c.sendLogin("wallet")
	m := c.readMsg()
	require.Equal(c.t, stratum.PoolResponse, m.Kind)
	require.Equal(c.t, id, m.ID)
	require.Nil(c.t, m.Error)
	require.True(c.t, m.HasJob)
	require.NotEmpty(c.t, m.SessionID)
	return string(m.SessionID), m.Job
}

func (c *testClient) sendSubmit(session, jobID, nonce, result string) uint64 {
	id := c.id()
	c.send(stratum.AppendPoolSubmit(nil, id, session, []byte(jobID), []byte(nonce), []byte(result), []byte("rx/0")))
	return id
}

// submit sends a submit and returns the error message ("" when accepted).
func (c *testClient) submit(session, jobID, nonce, result string) string {
	c.t.Helper()
	id := c.sendSubmit(session, jobID, nonce, result)
	m := c.readMsg()
	require.Equal(c.t, stratum.PoolResponse, m.Kind)
	require.Equal(c.t, id, m.ID)
	if m.Error != nil {
		return string(m.Error)
	}
	require.Equal(c.t, "OK", string(m.Status))
	return ""
}

func (c *testClient) keepalived(session string) stratum.PoolMessage {
	c.t.Helper()
	id := c.id()
	c.send(stratum.AppendPoolKeepalived(nil, id, session))
	m := c.readMsg()
	require.Equal(c.t, id, m.ID)
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
