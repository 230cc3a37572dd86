package reactor

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// waitTimeout bounds every wait in these tests; nothing sleeps.
const waitTimeout = 10 * time.Second

func testLogger() *slog.Logger {
	if os.Getenv("GOPROXY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startPool(t testing.TB, cfg mockpool.Config) *mockpool.Pool {
	t.Helper()
	pool, err := mockpool.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { pool.Close() })
	return pool
}

// baseConfig is a one-loop nicehash proxy in front of the given pools,
// with fast retries.
func baseConfig(pools ...string) *Config {
	cfg := &Config{EventLoops: 1, Retries: 1, RetryPause: 1}
	for _, addr := range pools {
		cfg.Pools = append(cfg.Pools, upstream.PoolConfig{URL: addr, User: "POOLWALLET", Pass: "x"})
	}
	return cfg
}

// startProxy starts a proxy on a free loopback port and returns it with
// its miner address.
func startProxy(t testing.TB, cfg *Config, opts ...Option) (*Proxy, string) {
	t.Helper()
	port, err := freePort()
	require.NoError(t, err)
	if len(cfg.Bind) == 0 {
		cfg.Bind = []BindConfig{{Host: "127.0.0.1", Port: port}}
	}
	p, err := New(cfg, append([]Option{WithLogger(testLogger())}, opts...)...)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, p.Start(ctx))
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	return p, cfg.Bind[0].Address()
}

// reply is a decoded stratum line.
type reply struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Result struct {
		ID         string      `json:"id"`
		Status     string      `json:"status"`
		Job        *jobMessage `json:"job"`
		Extensions []string    `json:"extensions"`
	} `json:"result"`
	Params *jobMessage `json:"params"`
	raw    string
}

type jobMessage struct {
	Blob   string `json:"blob"`
	JobID  string `json:"job_id"`
	Target string `json:"target"`
	Algo   string `json:"algo"`
	ID     string `json:"id"`
}

// testMiner is a scripted XMRig-like client.
type testMiner struct {
	t       testing.TB
	c       net.Conn
	r       *bufio.Reader
	session string
	job     jobMessage
	nonce   uint32
	nextID  int
}

func dialMiner(t testing.TB, addr string) *testMiner {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &testMiner{t: t, c: c, r: bufio.NewReaderSize(c, 64<<10), nextID: 1}
}

func (m *testMiner) send(line string) {
	m.t.Helper()
	_ = m.c.SetWriteDeadline(time.Now().Add(waitTimeout))
	_, err := io.WriteString(m.c, line+"\n")
	require.NoError(m.t, err)
}

// read returns the next line, failing the test after waitTimeout.
func (m *testMiner) read() reply {
	m.t.Helper()
	_ = m.c.SetReadDeadline(time.Now().Add(waitTimeout))
	line, err := m.r.ReadString('\n')
	require.NoError(m.t, err, "waiting for a line")
	var r reply
	require.NoError(m.t, json.Unmarshal([]byte(line), &r), line)
	r.raw = line
	if r.Method == "job" && r.Params != nil {
		m.job = *r.Params
	}
	if r.Result.Job != nil {
		m.job = *r.Result.Job
	}
	return r
}

// readReply skips job notifications until the answer to a request.
func (m *testMiner) readReply() reply {
	m.t.Helper()
	for {
		r := m.read()
		if r.Method == "" {
			return r
		}
	}
}

// expectClosed waits for the proxy to close the connection.
func (m *testMiner) expectClosed() {
	m.t.Helper()
	_ = m.c.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		_, err := m.r.ReadString('\n')
		if err != nil {
			var ne net.Error
			if ok := asNetErr(err, &ne); ok && ne.Timeout() {
				m.t.Fatal("connection still open")
			}
			return
		}
	}
}

func asNetErr(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

// login logs in and returns the reply (the proxy answers once it has a job).
func (m *testMiner) login(user string) reply {
	m.t.Helper()
	m.send(fmt.Sprintf(`{"id":%d,"jsonrpc":"2.0","method":"login","params":{"login":%q,"pass":"x","agent":"XMRig/6.22.2","algo":["rx/0"],"rigid":"rig-%d"}}`, m.next(), user, m.nextID))
	r := m.readReply()
	if r.Error == nil {
		m.session = r.Result.ID
	}
	return r
}

func (m *testMiner) next() int {
	id := m.nextID
	m.nextID++
	return id
}

// fixedByte is the NiceHash byte of the miner's current job.
func (m *testMiner) fixedByte() byte {
	b, err := strconv.ParseUint(m.job.Blob[84:86], 16, 8)
	require.NoError(m.t, err)
	return byte(b)
}

// share returns a nonce in the miner's NiceHash range and a result hash
// meeting the job target.
func (m *testMiner) share() (nonce, result string) {
	m.nonce++
	var nb [4]byte
	binary.LittleEndian.PutUint32(nb[:], m.nonce&0xffffff|uint32(m.fixedByte())<<24)
	diff := stratum.DifficultyFromTarget(m.job.Target)
	var tail [8]byte
	binary.LittleEndian.PutUint64(tail[:], ^uint64(0)/(diff+1))
	return fmt.Sprintf("%x", nb), strings.Repeat("00", 24) + fmt.Sprintf("%x", tail)
}

// submit sends a share for the current job and returns the answer.
func (m *testMiner) submit() reply {
	m.t.Helper()
	nonce, result := m.share()
	return m.submitRaw(m.session, m.job.JobID, nonce, result)
}

func (m *testMiner) submitRaw(session, jobID, nonce, result string) reply {
	m.t.Helper()
	m.send(fmt.Sprintf(`{"id":%d,"jsonrpc":"2.0","method":"submit","params":{"id":%q,"job_id":%q,"nonce":%q,"result":%q,"algo":"rx/0"}}`, m.next(), session, jobID, nonce, result))
	return m.readReply()
}

func waitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond on a short interval until it holds or the wait
// times out; used only for state that has no change signal (proxy
// statistics published once a second).
func eventually(t testing.TB, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting: " + msg)
		}
		<-tick.C
	}
}

func deadlineIn(seconds int) time.Time { return time.Now().Add(time.Duration(seconds) * time.Second) }

func atoi(t testing.TB, s string) int {
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}
