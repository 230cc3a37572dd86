package reactor

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// tinyDiff makes a share cost ~4096 hashes (well under a millisecond).
const tinyDiff = 1.0 / (1 << 20)

func startSV1Pool(t testing.TB, cfg sv1pool.Config) *sv1pool.Pool {
	t.Helper()
	if cfg.Difficulty == 0 {
		cfg.Difficulty = tinyDiff
	}
	pool, err := sv1pool.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { pool.Close() })
	return pool
}

// sv1Config is a one-loop proxy in front of SV1 pools (aggregate mode).
func sv1Config(pools ...string) *Config {
	cfg := &Config{EventLoops: 1, Retries: 1, RetryPause: 1, PoolTimeout: 3, ConnectTimeout: 2, SubmitTimeout: 2}
	for _, addr := range pools {
		cfg.Pools = append(cfg.Pools, upstream.PoolConfig{URL: addr, User: "proxyacct", Pass: "x", Family: upstream.SV1})
	}
	return cfg
}

// sv1Line is a decoded SV1 line.
type sv1Line struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
	Result json.RawMessage   `json:"result"`
	Error  []json.RawMessage `json:"error"`
	raw    string
}

func (l sv1Line) errCode() int {
	if len(l.Error) == 0 {
		return 0
	}
	var c int
	_ = json.Unmarshal(l.Error[0], &c)
	return c
}

// sv1Miner is a scripted stratum v1 miner that really searches nonces.
type sv1TestMiner struct {
	t      testing.TB
	c      net.Conn
	r      *bufio.Reader
	nextID int
	e1     []byte
	e2size int
	diff   float64
	mask   uint32
	job    stratum.SV1Job
	bin    *stratum.SV1JobBinary
	e2     uint64
	hasher stratum.SV1Hasher
	xsub   bool
}

func dialSV1(t testing.TB, addr string) *sv1TestMiner {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &sv1TestMiner{t: t, c: c, r: bufio.NewReader(c), nextID: 1, diff: 1}
}

func (m *sv1TestMiner) send(format string, args ...any) int {
	m.t.Helper()
	id := m.nextID
	m.nextID++
	line := fmt.Sprintf(`{"id":%d,`, id) + fmt.Sprintf(format, args...) + "\n"
	_ = m.c.SetWriteDeadline(time.Now().Add(waitTimeout))
	_, err := io.WriteString(m.c, line)
	require.NoError(m.t, err)
	return id
}

// read returns the next line, applying notifications to the miner state.
func (m *sv1TestMiner) read() sv1Line {
	m.t.Helper()
	_ = m.c.SetReadDeadline(time.Now().Add(waitTimeout))
	s, err := m.r.ReadString('\n')
	require.NoError(m.t, err, "waiting for a line")
	var l sv1Line
	require.NoError(m.t, json.Unmarshal([]byte(s), &l), s)
	l.raw = s
	switch l.Method {
	case "mining.set_difficulty":
		require.NoError(m.t, json.Unmarshal(l.Params[0], &m.diff))
	case "mining.notify":
		m.job = jsonParser{}.notify(m.t, s)
		bin, err := m.job.Binary()
		require.NoError(m.t, err)
		m.bin = bin
	case "mining.set_extranonce":
		var e1 string
		require.NoError(m.t, json.Unmarshal(l.Params[0], &e1))
		require.NoError(m.t, json.Unmarshal(l.Params[1], &m.e2size))
		m.e1, _ = hex.DecodeString(e1)
	case "mining.set_version_mask":
		var mask string
		require.NoError(m.t, json.Unmarshal(l.Params[0], &mask))
		v, _ := hex.DecodeString(mask)
		m.mask = binary.BigEndian.Uint32(v)
	}
	return l
}

// reply reads until the answer to request id.
func (m *sv1TestMiner) reply(id int) sv1Line {
	m.t.Helper()
	for {
		l := m.read()
		if l.Method == "" && string(l.ID) == fmt.Sprint(id) {
			return l
		}
	}
}

// waitJob reads until a notify has arrived (skipping other lines).
func (m *sv1TestMiner) waitJob() {
	m.t.Helper()
	for {
		if l := m.read(); l.Method == "mining.notify" {
			return
		}
	}
}

// login subscribes (and configures when mask != 0) and authorizes.
func (m *sv1TestMiner) login(user string, mask uint32) {
	m.t.Helper()
	if mask != 0 {
		id := m.send(`"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"%08x","version-rolling.min-bit-count":2}]}`, mask)
		r := m.reply(id)
		var res map[string]any
		require.NoError(m.t, json.Unmarshal(r.Result, &res), r.raw)
		require.Equal(m.t, true, res["version-rolling"], r.raw)
		v, _ := hex.DecodeString(res["version-rolling.mask"].(string))
		m.mask = binary.BigEndian.Uint32(v)
	}
	id := m.send(`"method":"mining.subscribe","params":["cpuminer/2.5.1"]}`)
	r := m.reply(id)
	var res []json.RawMessage
	require.NoError(m.t, json.Unmarshal(r.Result, &res), r.raw)
	var e1 string
	require.NoError(m.t, json.Unmarshal(res[1], &e1))
	require.NoError(m.t, json.Unmarshal(res[2], &m.e2size))
	m.e1, _ = hex.DecodeString(e1)
	if m.xsub {
		id := m.send(`"method":"mining.extranonce.subscribe","params":[]}`)
		m.reply(id)
	}
	id = m.send(`"method":"mining.authorize","params":[%q,"x"]}`, user)
	require.Equal(m.t, "true", string(m.reply(id).Result))
	m.waitJob()
}

// share finds a share meeting the miner's difficulty on its current job.
func (m *sv1TestMiner) share() (e2 []byte, ntime, nonce, vbits uint32) {
	m.t.Helper()
	target, ok := stratum.SV1TargetFromDifficulty(m.diff)
	require.True(m.t, ok)
	for {
		m.e2++
		var c [8]byte
		binary.BigEndian.PutUint64(c[:], m.e2)
		e2 = make([]byte, m.e2size)
		copy(e2[max(0, m.e2size-8):], c[max(0, 8-m.e2size):])
		if m.mask != 0 {
			vbits = uint32(m.e2<<13) & m.mask
		}
		version := stratum.SV1RollVersion(m.bin.Version, vbits, m.mask)
		h := m.hasher.Header(m.bin, m.e1, e2, version, m.bin.NTime, 0)
		if n, _, found := h.Search(&target, 0, 1<<22); found {
			return e2, m.bin.NTime, n, vbits
		}
	}
}

// submit mines and submits a share, returning the answer.
func (m *sv1TestMiner) submit() sv1Line {
	m.t.Helper()
	e2, ntime, nonce, vbits := m.share()
	return m.submitRaw(m.job.JobID, e2, ntime, nonce, vbits)
}

func (m *sv1TestMiner) submitRaw(jobID string, e2 []byte, ntime, nonce, vbits uint32) sv1Line {
	m.t.Helper()
	if m.mask != 0 {
		return m.reply(m.send(`"method":"mining.submit","params":["w",%q,"%x","%08x","%08x","%08x"]}`, jobID, e2, ntime, nonce, vbits))
	}
	return m.reply(m.send(`"method":"mining.submit","params":["w",%q,"%x","%08x","%08x"]}`, jobID, e2, ntime, nonce))
}

// jsonParser decodes a notify line with the proxy's own pool parser.
type jsonParser struct{}

func (jsonParser) notify(t testing.TB, line string) stratum.SV1Job {
	var pm stratum.SV1PoolMessage
	var p = newFastjson()
	require.NoError(t, stratum.ParseSV1PoolMessage(p, []byte(line), &pm))
	require.True(t, pm.HasJob)
	return pm.Job
}

func newFastjson() *fastjson.Parser { return new(fastjson.Parser) }

func mustHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}
