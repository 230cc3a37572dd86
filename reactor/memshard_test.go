package reactor

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// memSink is an in-memory transport that keeps the last line written.
// unsent plays the bytes a slow peer has not taken yet; resumed counts
// the resume calls (a held miner woken).
type memSink struct {
	last    []byte
	n       int
	closed  bool
	unsent  int
	resumed int
}

func (w *memSink) write(p []byte, _ int) bool {
	if w.closed {
		return false
	}
	w.last = append(w.last[:0], p...)
	w.n++
	return true
}

func (w *memSink) close() { w.closed = true }

func (w *memSink) buffered() int { return w.unsent }

func (w *memSink) resume() { w.resumed++ }

// memShard is a shard with no event loop: tests call its methods directly
// from the test goroutine, which plays the loop.
type memShard struct {
	s    *shard
	mp   *mapper
	pool *memSink
	job  stratum.Job
}

func newMemShard(t testing.TB, cfg *Config) *memShard {
	t.Helper()
	if cfg == nil {
		cfg = &Config{Pools: []upstream.PoolConfig{{URL: "pool:3333", User: "W"}}}
	}
	if cfg.SubmitRateLimit.Burst == 0 {
		// The tests play shares far faster than a miner may send them and
		// run no 1 Hz sweep to refill the bucket.
		cfg.SubmitRateLimit.Burst = 1 << 30
	}
	cfg.Normalize()
	require.NoError(t, cfg.Validate())
	p := &Proxy{log: testLogger(), maxConns: 1 << 20, loops: 1}
	p.dial = func(*shard, *poolConn) {} // no engine: dials never complete
	p.cfg.Store(cfg)
	p.limiter = NewRateLimiter(cfg.RateLimit)
	p.binds = []*bindInfo{{port: 3333}}
	s := newShard(p, nil, 0, cfg)
	ms := &memShard{s: s, pool: &memSink{}}
	mp := &mapper{s: s, id: 1, family: FamilyCryptoNote, kind: s.cnKind(), pools: p.enabledPools(cfg, FamilyCryptoNote)}
	mp.fo = upstream.NewFailover(len(mp.pools), upstream.FailoverPolicy{Retries: 1})
	mp.expireFn = func(pd upstream.Pending[submitTag]) { mp.failSubmit(pd, stratum.MsgPoolTimeout) }
	if mp.kind == kindNiceHash {
		mp.table = newNiceHashTable()
	}
	s.mappers = append(s.mappers, mp)
	pc := &poolConn{mp: mp, pool: mp.pools[0], entry: mp.pools[0], conn: connRef{x: ms.pool}}
	mp.conn = pc
	pc.attached()
	ms.mp = mp
	ms.job = stratum.Job{Blob: strings.Repeat("07", 76), JobID: "job-1", Target: stratum.TargetFromDifficulty(1000), Algo: "rx/0"}
	id := stratum.NumericID(1)
	login := stratum.AppendLoginReply(nil, &id, []byte("POOLSESS"), &ms.job, stratum.JobOptions{FixedByte: -1, Algo: true}, 0)
	require.True(t, pc.handleLine(login[:len(login)-1]))
	require.Equal(t, mapperActive, mp.state)
	return ms
}

// addMiner connects and logs in one in-memory miner.
func (ms *memShard) addMiner(t testing.TB, login string) (*miner, *memSink) {
	t.Helper()
	ms.s.p.conns.Add(1)
	sink := &memSink{}
	m := ms.s.addMiner(connRef{x: sink}, netip.MustParseAddrPort("10.0.0.1:5000"), ms.s.p.binds[0])
	require.True(t, m.handleLine([]byte(`{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"`+login+`","pass":"x","agent":"XMRig/6.22.2","algo":["rx/0"],"rigid":"r1"}}`)))
	return m, sink
}

// submitLine is a valid share line for miner m on the current job.
func (ms *memShard) submitLine(m *miner, n uint32) []byte {
	nonce := string(stratum.AppendHex(nil, []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(m.fixed)}))
	return []byte(`{"id":7,"jsonrpc":"2.0","method":"submit","params":{"id":"` + string(m.sessionID()) + `","job_id":"job-1","nonce":"` + nonce + `","result":"` + strings.Repeat("0", 64) + `","algo":"rx/0"}}`)
}

// shareRound returns a function that plays one CryptoNote share end to
// end: m submits with a fresh nonce (3 varying bytes, then its fixed byte)
// and the pool answers OK with the id its client used. Every
// sharesPerJob shares the pool sends a new job (job-1 and job-2 in turn),
// so the duplicate windows turn as they do in service. The function
// allocates nothing; the hot-path allocation tests and benchmarks share it.
func (ms *memShard) shareRound(t testing.TB, m *miner) func() {
	line := ms.submitLine(m, 0)
	jobAt := len(`{"id":7,"jsonrpc":"2.0","method":"submit","params":{"id":"`) + 36 + len(`","job_id":"job-`)
	nonceAt := jobAt + len(`1","nonce":"`)
	answer := make([]byte, 0, 128)
	poolID := uint64(2) // the pool client's first submit id after its login
	var n uint32
	var hex [6]byte
	jobs := [2]string{"job-1", "job-2"}
	return func() {
		n++
		if n%sharesPerJob == 0 {
			ms.job.JobID = jobs[n/sharesPerJob%2]
			ms.mp.setJob(&ms.job, true)
			line[jobAt] = ms.job.JobID[4]
		}
		stratum.AppendHex(hex[:0], []byte{byte(n), byte(n >> 8), byte(n >> 16)})
		copy(line[nonceAt:], hex[:])
		if !m.handleLine(line) {
			t.Fatal("submit refused")
		}
		answer = append(answer[:0], `{"id":`...)
		answer = strconv.AppendUint(answer, poolID, 10)
		answer = append(answer, `,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`...)
		poolID++
		if !ms.mp.conn.handleLine(answer) {
			t.Fatal("answer refused")
		}
	}
}

// sharesPerJob is how many shares the round helpers play between jobs.
const sharesPerJob = 1024

func TestMemShard_Submit_Good(t *testing.T) {
	ms := newMemShard(t, nil)
	m, sink := ms.addMiner(t, "WALLET")
	require.Equal(t, stateReady, m.state, string(sink.last))
	require.Contains(t, string(sink.last), `"status":"OK"`)
	require.True(t, m.handleLine(ms.submitLine(m, 1)))
	require.Contains(t, string(ms.pool.last), `"method":"submit"`)
	require.True(t, ms.mp.conn.handleLine([]byte(`{"id":2,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`)))
	require.Equal(t, `{"id":7,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`+"\n", string(sink.last))
	require.Equal(t, uint64(1), ms.s.fc[FamilyCryptoNote].Accepted)
	require.Equal(t, float64(1000), ms.s.fc[FamilyCryptoNote].Hashes)
}

func (b *bindInfo) addrPort() netip.AddrPort { return netip.MustParseAddrPort("10.0.0.2:6000") }
