package testminer

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// CN is a scripted XMRig-like CryptoNote miner. Besides the fields below it
// has Conn (the connection: write raw bytes to it, set deadlines, close it)
// and Timeout (the bound on each read and write), and the methods
// ReadLineBy and ExpectClosed.
type CN struct {
	wire
	// Session is the session id of the last successful Login.
	Session string
	// Job is the last job received (login reply or job notification).
	Job CNJob
	// Pass and Agent are what Login sends (defaults "x" and
	// "XMRig/6.22.2"). RigID is the rig id it sends; empty means
	// "rig-N" with N one more than the login request's id.
	Pass, Agent, RigID string
	nonce              uint32
}

// CNJob is a job as the miner sees it.
type CNJob struct {
	Blob   string `json:"blob"`
	JobID  string `json:"job_id"`
	Target string `json:"target"`
	Algo   string `json:"algo"`
	ID     string `json:"id"`
}

// Reply is a decoded CryptoNote line: an answer (Method empty) or a
// notification (Method "job", Params the job).
type Reply struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Error  *CNError        `json:"error"`
	Result CNResult        `json:"result"`
	Params *CNJob          `json:"params"`
	// Raw is the line as received, for failure messages.
	Raw string `json:"-"`
}

// CNError is the error of an answer.
type CNError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// CNResult is the result of an answer: login (ID, Job, Extensions),
// submit and keepalived (Status).
type CNResult struct {
	ID         string   `json:"id"`
	Status     string   `json:"status"`
	Job        *CNJob   `json:"job"`
	Extensions []string `json:"extensions"`
}

// ErrCode is the error code of an answer, 0 when there is none.
func (r Reply) ErrCode() int {
	if r.Error == nil {
		return 0
	}
	return r.Error.Code
}

// DialCN connects to addr (a proxy's miner port or a CryptoNote pool) and
// closes the connection when the test ends. It does not log in.
func DialCN(t testing.TB, addr string, opts ...Option) *CN {
	t.Helper()
	o := makeOptions(64<<10, opts)
	return newCN(t, dial(t, addr, o), o)
}

// NewCN makes a miner over an established connection (a TLS client built
// by the test, a connection it measures). The caller closes c.
func NewCN(t testing.TB, c net.Conn, opts ...Option) *CN {
	return newCN(t, c, makeOptions(64<<10, opts))
}

func newCN(t testing.TB, c net.Conn, o options) *CN {
	return &CN{wire: newWire(t, c, o), Pass: "x", Agent: "XMRig/6.22.2"}
}

// Send writes one line (a newline is added).
func (m *CN) Send(line string) {
	m.t.Helper()
	m.writeLine(line)
}

// Read returns the next line, recording the job it carries, if any.
func (m *CN) Read() Reply {
	m.t.Helper()
	var r Reply
	r.Raw = m.readJSON(&r)
	if r.Method == "job" && r.Params != nil {
		m.Job = *r.Params
	}
	if r.Result.Job != nil {
		m.Job = *r.Result.Job
	}
	return r
}

// ReadReply skips notifications until an answer.
func (m *CN) ReadReply() Reply {
	m.t.Helper()
	for {
		if r := m.Read(); r.Method == "" {
			return r
		}
	}
}

// Login logs in as user and returns the answer (which a proxy sends once
// it has a job for the miner). On success it records Session and Job.
func (m *CN) Login(user string) Reply {
	m.t.Helper()
	id := m.id()
	rig := m.RigID
	if rig == "" {
		rig = fmt.Sprintf("rig-%d", id+1)
	}
	m.Send(fmt.Sprintf(`{"id":%d,"jsonrpc":"2.0","method":"login","params":{"login":%q,"pass":%q,"agent":%q,"algo":["rx/0"],"rigid":%q}}`,
		id, user, m.Pass, m.Agent, rig))
	r := m.ReadReply()
	if r.Error == nil {
		m.Session = r.Result.ID
	}
	return r
}

// FixedByte is the NiceHash byte of the current job (blob byte 42).
func (m *CN) FixedByte() byte {
	m.t.Helper()
	if len(m.Job.Blob) < 86 {
		m.t.Fatalf("no job with a blob yet: %q", m.Job.Blob)
	}
	b, err := strconv.ParseUint(m.Job.Blob[84:86], 16, 8)
	require.NoError(m.t, err)
	return byte(b)
}

// Share returns a new nonce in the current job's NiceHash range (hex, 4
// bytes little-endian) and a result hash (hex, 32 bytes) meeting the job
// target. No hashing is done: the result is made to meet the target.
func (m *CN) Share() (nonce, result string) {
	m.t.Helper()
	m.nonce++
	var nb [4]byte
	binary.LittleEndian.PutUint32(nb[:], m.nonce&0xffffff|uint32(m.FixedByte())<<24)
	diff := stratum.DifficultyFromTarget(m.Job.Target)
	var tail [8]byte
	binary.LittleEndian.PutUint64(tail[:], ^uint64(0)/(diff+1))
	return fmt.Sprintf("%x", nb), strings.Repeat("00", 24) + fmt.Sprintf("%x", tail)
}

// Submit sends a share for the current job and returns the answer.
func (m *CN) Submit() Reply {
	m.t.Helper()
	nonce, result := m.Share()
	return m.SubmitRaw(m.Session, m.Job.JobID, nonce, result)
}

// SubmitRaw sends a submit with the given fields (algo "rx/0") and returns
// the answer.
func (m *CN) SubmitRaw(session, jobID, nonce, result string) Reply {
	m.t.Helper()
	m.Send(fmt.Sprintf(`{"id":%d,"jsonrpc":"2.0","method":"submit","params":{"id":%q,"job_id":%q,"nonce":%q,"result":%q,"algo":"rx/0"}}`,
		m.id(), session, jobID, nonce, result))
	return m.ReadReply()
}
