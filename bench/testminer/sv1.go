package testminer

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// SV1 is a scripted stratum v1 miner that really searches nonces (with
// stratum.SV1Hasher and BlockHeader.Search). Besides the fields below it
// has Conn (the connection: write raw bytes to it, set deadlines, close it)
// and Timeout (the bound on each read and write), and the methods
// ReadLineBy and ExpectClosed.
//
// Every line read is applied to its state: mining.set_difficulty to Diff,
// mining.notify to Job, mining.set_extranonce to E1 and E2Size,
// mining.set_version_mask to Mask.
type SV1 struct {
	wire
	// XSub makes Login send mining.extranonce.subscribe.
	XSub bool
	// Worker is the worker name of submits (default "w", which a proxy
	// takes; a pool wants a user it authorized).
	Worker string
	// Scrypt makes Share search with scrypt (Litecoin's proof of work,
	// ~0.2 ms a hash) instead of sha256d, with Diff in scrypt's unit.
	Scrypt bool
	// E1 is the extranonce1 and E2Size the extranonce2 size, from the
	// subscribe answer or mining.set_extranonce (a test resuming a session
	// by hand may set them).
	E1     []byte
	E2Size int
	// Diff is the share difficulty (1 until the first set_difficulty).
	Diff float64
	// Mask is the version-rolling mask granted by mining.configure or
	// mining.set_version_mask; 0 means no version rolling.
	Mask uint32
	// Job is the last job notified.
	Job    stratum.SV1Job
	bin    *stratum.SV1JobBinary
	jobs   int // notifies received
	e2     uint64
	hasher stratum.SV1Hasher
	scrypt *stratum.ScryptHasher
	parser fastjson.Parser
}

// SV1Line is a decoded stratum v1 line: an answer (Method empty, ID the
// request's) or a notification.
type SV1Line struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
	Result json.RawMessage   `json:"result"`
	Error  []json.RawMessage `json:"error"`
	// Raw is the line as received, for failure messages.
	Raw string `json:"-"`
}

// ErrCode is the error code of an answer ([code, message, data]), 0 when
// there is none.
func (l SV1Line) ErrCode() int {
	if len(l.Error) == 0 {
		return 0
	}
	var c int
	_ = json.Unmarshal(l.Error[0], &c)
	return c
}

// Accepted reports whether the answer is a plain true without an error
// (an accepted share, a successful authorize).
func (l SV1Line) Accepted() bool {
	return len(l.Error) == 0 && string(l.Result) == "true"
}

// DialSV1 connects to addr (a proxy's miner port or a stratum v1 pool)
// and closes the connection when the test ends. It does not log in.
func DialSV1(t testing.TB, addr string, opts ...Option) *SV1 {
	t.Helper()
	o := makeOptions(4096, opts)
	return newSV1(t, dial(t, addr, o), o)
}

// NewSV1 makes a miner over an established connection. The caller closes
// c.
func NewSV1(t testing.TB, c net.Conn, opts ...Option) *SV1 {
	return newSV1(t, c, makeOptions(4096, opts))
}

func newSV1(t testing.TB, c net.Conn, o options) *SV1 {
	return &SV1{wire: newWire(t, c, o), Diff: 1, Worker: "w"}
}

// Send writes a request with the next id and returns the id. format is
// the rest of the JSON object after `{"id":N,`, e.g.
// `"method":"mining.subscribe","params":["x"]}`.
func (m *SV1) Send(format string, args ...any) int {
	m.t.Helper()
	id := m.id()
	m.writeLine(fmt.Sprintf(`{"id":%d,`, id) + fmt.Sprintf(format, args...))
	return id
}

// Read returns the next line, applying notifications to the miner state.
func (m *SV1) Read() SV1Line {
	m.t.Helper()
	var l SV1Line
	s := m.readJSON(&l)
	l.Raw = s
	switch l.Method {
	case "mining.set_difficulty":
		require.NotEmpty(m.t, l.Params, s)
		require.NoError(m.t, json.Unmarshal(l.Params[0], &m.Diff), s)
	case "mining.notify":
		var pm stratum.SV1PoolMessage
		require.NoError(m.t, stratum.ParseSV1PoolMessage(&m.parser, []byte(s), &pm), s)
		require.True(m.t, pm.HasJob, s)
		bin, err := pm.Job.Binary()
		require.NoError(m.t, err, s)
		m.Job, m.bin = pm.Job, bin
		m.jobs++
	case "mining.set_extranonce":
		require.Len(m.t, l.Params, 2, s)
		var e1 string
		require.NoError(m.t, json.Unmarshal(l.Params[0], &e1), s)
		require.NoError(m.t, json.Unmarshal(l.Params[1], &m.E2Size), s)
		m.E1, _ = hex.DecodeString(e1)
	case "mining.set_version_mask":
		require.NotEmpty(m.t, l.Params, s)
		var mask string
		require.NoError(m.t, json.Unmarshal(l.Params[0], &mask), s)
		m.Mask = parseMask(mask)
	}
	return l
}

// parseMask decodes an 8-hex mask; anything else is 0.
func parseMask(s string) uint32 {
	v, err := hex.DecodeString(s)
	if err != nil || len(v) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

// Reply reads until the answer to request id, applying notifications on
// the way.
func (m *SV1) Reply(id int) SV1Line {
	m.t.Helper()
	want := fmt.Sprint(id)
	for {
		if l := m.Read(); l.Method == "" && string(l.ID) == want {
			return l
		}
	}
}

// WaitJob reads until a mining.notify arrives.
func (m *SV1) WaitJob() {
	m.t.Helper()
	for {
		if l := m.Read(); l.Method == "mining.notify" {
			return
		}
	}
}

// Login configures version rolling with versionMask (when not 0; the
// answer must grant it, and sets Mask), subscribes (setting E1 and
// E2Size), sends mining.extranonce.subscribe when XSub is set, authorizes
// as user (which must succeed) and returns once a job has arrived (after
// the authorize answer, unless one came before it).
func (m *SV1) Login(user string, versionMask uint32) {
	m.t.Helper()
	jobs := m.jobs
	if versionMask != 0 {
		r := m.Reply(m.Send(`"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"%08x","version-rolling.min-bit-count":2}]}`, versionMask))
		var res map[string]any
		require.NoError(m.t, json.Unmarshal(r.Result, &res), r.Raw)
		require.Equal(m.t, true, res["version-rolling"], r.Raw)
		mask, ok := res["version-rolling.mask"].(string)
		require.True(m.t, ok, r.Raw)
		m.Mask = parseMask(mask)
	}
	r := m.Reply(m.Send(`"method":"mining.subscribe","params":["cpuminer/2.5.1"]}`))
	var res []json.RawMessage
	require.NoError(m.t, json.Unmarshal(r.Result, &res), r.Raw)
	require.GreaterOrEqual(m.t, len(res), 3, r.Raw)
	var e1 string
	require.NoError(m.t, json.Unmarshal(res[1], &e1), r.Raw)
	require.NoError(m.t, json.Unmarshal(res[2], &m.E2Size), r.Raw)
	m.E1, _ = hex.DecodeString(e1)
	if m.XSub {
		r := m.Reply(m.Send(`"method":"mining.extranonce.subscribe","params":[]}`))
		require.Empty(m.t, r.Error, r.Raw)
	}
	r = m.Reply(m.Send(`"method":"mining.authorize","params":[%q,"x"]}`, user))
	require.Equal(m.t, "true", string(r.Result), "authorized as %s: %s", user, r.Raw)
	if m.jobs == jobs {
		m.WaitJob()
	}
}

// Share finds a share meeting Diff on the current job: a new extranonce2
// (a counter, big-endian, E2Size bytes), the job's ntime, the nonce, and
// the version bits (rolled under Mask; 0 without version rolling).
func (m *SV1) Share() (e2 []byte, ntime, nonce, vbits uint32) {
	m.t.Helper()
	require.NotNil(m.t, m.bin, "no job yet")
	pow := stratum.SV1AlgoSHA256d
	if m.Scrypt {
		pow = stratum.SV1AlgoScrypt
		if m.scrypt == nil {
			m.scrypt = new(stratum.ScryptHasher)
		}
	}
	target, ok := pow.TargetFromDifficulty(m.Diff)
	require.True(m.t, ok, "difficulty %v", m.Diff)
	for {
		m.e2++
		var c [8]byte
		binary.BigEndian.PutUint64(c[:], m.e2)
		e2 = make([]byte, m.E2Size)
		copy(e2[max(0, m.E2Size-8):], c[max(0, 8-m.E2Size):])
		if m.Mask != 0 {
			vbits = uint32(m.e2<<13) & m.Mask
		}
		version := stratum.SV1RollVersion(m.bin.Version, vbits, m.Mask)
		h := m.hasher.Header(m.bin, m.E1, e2, version, m.bin.NTime, 0)
		if m.Scrypt {
			for n := uint32(0); n < 1<<16; n++ {
				h.SetNonce(n)
				if hash := m.scrypt.Hash(&h); target.Meets(&hash) {
					return e2, m.bin.NTime, n, vbits
				}
			}
			continue
		}
		if n, _, found := h.Search(&target, 0, 1<<22); found {
			return e2, m.bin.NTime, n, vbits
		}
	}
}

// Submit mines a share on the current job, submits it and returns the
// answer.
func (m *SV1) Submit() SV1Line {
	m.t.Helper()
	e2, ntime, nonce, vbits := m.Share()
	return m.SubmitRaw(m.Job.JobID, e2, ntime, nonce, vbits)
}

// SubmitRaw submits the given share as Worker (with the version bits when
// version rolling is on) and returns the answer.
func (m *SV1) SubmitRaw(jobID string, e2 []byte, ntime, nonce, vbits uint32) SV1Line {
	m.t.Helper()
	if m.Mask != 0 {
		return m.Reply(m.Send(`"method":"mining.submit","params":[%q,%q,"%x","%08x","%08x","%08x"]}`, m.Worker, jobID, e2, ntime, nonce, vbits))
	}
	return m.Reply(m.Send(`"method":"mining.submit","params":[%q,%q,"%x","%08x","%08x"]}`, m.Worker, jobID, e2, ntime, nonce))
}

// ShareDifficulty returns the difficulty a share of the current job meets
// (scrypt's unit when Scrypt is set): what a pool or proxy that checks it
// computes.
func (m *SV1) ShareDifficulty(e2 []byte, ntime, nonce, vbits uint32) float64 {
	m.t.Helper()
	require.NotNil(m.t, m.bin, "no job yet")
	version := stratum.SV1RollVersion(m.bin.Version, vbits, m.Mask)
	h := m.hasher.Header(m.bin, m.E1, e2, version, ntime, nonce)
	if m.Scrypt {
		if m.scrypt == nil {
			m.scrypt = new(stratum.ScryptHasher)
		}
		hash := m.scrypt.Hash(&h)
		return stratum.SV1AlgoScrypt.HashDifficulty(&hash)
	}
	hash := h.Hash()
	return stratum.SV1HashDifficulty(&hash)
}
