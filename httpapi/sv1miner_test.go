package httpapi

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// sv1Miner is a minimal stratum v1 miner that really mines: it
// subscribes (with extranonce.subscribe), authorizes with an account
// name, and finds shares with stratum.SV1Hasher at the difficulty it was
// given. Lines from the proxy are parsed with the proxy's own pool-side
// parser. Not safe for concurrent use.
type sv1Miner struct {
	t      *testing.T
	c      net.Conn
	r      *bufio.Reader
	p      fastjson.Parser
	nextID uint64
	e1     []byte
	e2size int
	diff   float64
	jobID  string
	bin    *stratum.SV1JobBinary
	e2     uint64
	hasher stratum.SV1Hasher
}

// dialSV1Miner connects to a proxy and logs in as name, returning once a
// job has arrived.
func dialSV1Miner(t *testing.T, addr, name string) *sv1Miner {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	m := &sv1Miner{t: t, c: c, r: bufio.NewReader(c), nextID: 1}
	sub := m.call(`"mining.subscribe","params":["cpuminer/2.5.1"]`)
	require.Equal(t, stratum.SV1ResultSubscribe, sub.Result)
	m.e1, m.e2size = mustHex(t, sub.Extranonce1), sub.Extranonce2Size
	m.call(`"mining.extranonce.subscribe","params":[]`)
	auth := m.call(fmt.Sprintf(`"mining.authorize","params":[%q,"x"]`, name))
	require.True(t, auth.ResultBool, "authorized as %s", name)
	for m.bin == nil {
		m.read()
	}
	return m
}

// read reads one line and applies what it says to the miner's state.
func (m *sv1Miner) read() stratum.SV1PoolMessage {
	m.t.Helper()
	_ = m.c.SetReadDeadline(time.Now().Add(waitTimeout))
	line, err := m.r.ReadBytes('\n')
	require.NoError(m.t, err, "waiting for a line from the proxy")
	var msg stratum.SV1PoolMessage
	require.NoError(m.t, stratum.ParseSV1PoolMessage(&m.p, line, &msg), string(line))
	switch msg.Kind {
	case stratum.SV1PoolSetExtranonce:
		m.e1, m.e2size = mustHex(m.t, msg.Extranonce1), msg.Extranonce2Size
	case stratum.SV1PoolSetDifficulty:
		m.diff = msg.Difficulty
	case stratum.SV1PoolNotify:
		bin, err := msg.Job.Binary()
		require.NoError(m.t, err)
		m.jobID, m.bin = msg.Job.JobID, bin
	}
	return msg
}

// call sends a request (`"method","params":[...]`) and reads until its
// answer, applying notifications on the way.
func (m *sv1Miner) call(methodAndParams string) stratum.SV1PoolMessage {
	m.t.Helper()
	id := m.nextID
	m.nextID++
	_ = m.c.SetWriteDeadline(time.Now().Add(waitTimeout))
	_, err := io.WriteString(m.c, fmt.Sprintf(`{"id":%d,"method":%s}`+"\n", id, methodAndParams))
	require.NoError(m.t, err)
	for {
		msg := m.read()
		if msg.Kind == stratum.SV1PoolResponse && msg.HasID && msg.ID == id {
			require.Nil(m.t, msg.Error, "error %d: %s", msg.ErrorCode, msg.Error)
			return msg
		}
	}
}

// mustHex decodes an extranonce, which the parser hands out as hex.
func mustHex(t *testing.T, h []byte) []byte {
	t.Helper()
	b, err := hex.DecodeString(string(h))
	require.NoError(t, err)
	return b
}

// submit mines a share meeting the miner's difficulty on its current job
// and reports whether the proxy (and so the pool) accepted it.
func (m *sv1Miner) submit() bool {
	m.t.Helper()
	target, ok := stratum.SV1TargetFromDifficulty(m.diff)
	require.True(m.t, ok, "difficulty %v", m.diff)
	e2 := make([]byte, m.e2size)
	for {
		m.e2++
		var ctr [8]byte
		binary.BigEndian.PutUint64(ctr[:], m.e2)
		copy(e2[max(0, m.e2size-8):], ctr[max(0, 8-m.e2size):])
		h := m.hasher.Header(m.bin, m.e1, e2, m.bin.Version, m.bin.NTime, 0)
		if nonce, _, found := h.Search(&target, 0, 1<<22); found {
			r := m.call(fmt.Sprintf(`"mining.submit","params":["w",%q,"%x","%08x","%08x"]`, m.jobID, e2, m.bin.NTime, nonce))
			return r.Result == stratum.SV1ResultBool && r.ResultBool
		}
	}
}
