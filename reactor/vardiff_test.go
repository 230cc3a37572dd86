package reactor

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/upstream"
	"forge.lthn.ai/core/go-proxy/vardiff"
)

// Loop-level tests of vardiff (no sockets; the test goroutine plays the
// event loop, synctest's clock plays time). The end-to-end tests are in
// vardiff_e2e_test.go.

// vdMemShard is a memShard with vardiff on and its pool's job at
// difficulty poolDiff ("job-2").
func vdMemShard(t testing.TB, vd vardiff.Config, poolDiff uint64) *memShard {
	t.Helper()
	ms := newMemShard(t, &Config{Vardiff: vd, Pools: []upstream.PoolConfig{{URL: "pool:3333", User: "W"}}})
	ms.poolJob("job-2", poolDiff)
	return ms
}

// poolJob has the pool send a new job at difficulty d.
func (ms *memShard) poolJob(id string, d uint64) {
	ms.job.JobID, ms.job.Target = id, stratum.TargetFromDifficulty(d)
	ms.mp.setJob(&ms.job, true)
}

// cnResult is a result hash whose difficulty (stratum.ResultDifficulty) is
// actual.
func cnResult(actual uint64) string {
	var tail [8]byte
	binary.LittleEndian.PutUint64(tail[:], math.MaxUint64/actual)
	return strings.Repeat("00", 24) + fmt.Sprintf("%x", tail)
}

// cnSubmit sends a share of miner m for jobID (nonce n) whose result meets
// difficulty actual, and returns the miner's answer (or, for a share that
// went to the pool, what the proxy wrote to the pool).
func (ms *memShard) cnSubmit(t *testing.T, m *miner, sink *memSink, jobID string, n uint32, actual uint64) string {
	t.Helper()
	nonce := string(stratum.AppendHex(nil, []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(m.fixed)}))
	before := ms.pool.n
	require.True(t, m.handleLine([]byte(`{"id":7,"jsonrpc":"2.0","method":"submit","params":{"id":"`+string(m.sessionID())+
		`","job_id":"`+jobID+`","nonce":"`+nonce+`","result":"`+cnResult(actual)+`","algo":"rx/0"}}`)))
	if ms.pool.n != before {
		return string(ms.pool.last)
	}
	return string(sink.last)
}

// cnDiff is the difficulty a miner reads from the target of difficulty d
// (32-bit targets round it up a little).
func cnDiff(d uint64) uint64 { return stratum.DifficultyFromTarget(stratum.TargetFromDifficulty(d)) }

// lastJob decodes the job of the last line sent to a CryptoNote miner.
func lastJob(t *testing.T, sink *memSink) (id string, diff uint64) {
	t.Helper()
	s := string(sink.last)
	i := strings.Index(s, `"job_id":"`)
	require.GreaterOrEqual(t, i, 0, s)
	s = s[i+len(`"job_id":"`):]
	id = s[:strings.IndexByte(s, '"')]
	i = strings.Index(s, `"target":"`)
	s = s[i+len(`"target":"`):]
	return id, stratum.DifficultyFromTarget(s[:strings.IndexByte(s, '"')])
}

// A miner far slower than the pool's difficulty starts at it, gets a
// lower one after a target with fewer than four shares (one eighth: the
// search), as a variant of the job it has, and from then on its shares
// between its difficulty and the pool's are the proxy's to answer. A
// share for the job as first sent is still judged at that job's
// difficulty.
func TestVardiff_BackOff_Good(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := vdMemShard(t, vardiff.Config{Enabled: true, TargetSeconds: 1, RetargetSeconds: 1, MinDiff: 1}, 1_000_000)
		m, sink := ms.addMiner(t, "WALLET")
		id, d := lastJob(t, sink)
		require.Equal(t, "job-2", id)
		require.Equal(t, cnDiff(1_000_000), d, "nothing known about the miner: the pool's difficulty")
		require.NotNil(t, m.vd)

		time.Sleep(5 * time.Second)
		ms.s.tick()
		id, d = lastJob(t, sink)
		require.Equal(t, "job-2~1", id, "the same job under a variant of its id")
		require.Equal(t, cnDiff(1_000_000)/8, m.diff, "divided by 8")
		require.Equal(t, cnDiff(m.diff), d)

		before := ms.pool.n
		require.Contains(t, ms.cnSubmit(t, m, sink, "job-2~1", 1, 200_000), `"status":"OK"`)
		require.Equal(t, before, ms.pool.n, "answered locally, not forwarded")
		c := ms.s.fc[FamilyCryptoNote]
		require.Equal(t, uint64(1), c.CustomAccepted)
		require.Equal(t, uint64(1), c.Accepted, "vardiff shares count")
		require.Equal(t, float64(m.diff), c.Hashes, "at the difficulty they were judged at")

		require.Contains(t, ms.cnSubmit(t, m, sink, "job-2", 2, 200_000), stratum.MsgLowDifficulty,
			"a share for the job as first sent is judged at its difficulty")
		require.Contains(t, ms.cnSubmit(t, m, sink, "job-2~2", 3, 200_000), stratum.MsgInvalidJobID, "a variant never sent")
		require.Contains(t, ms.cnSubmit(t, m, sink, "job-2~01", 3, 200_000), stratum.MsgInvalidJobID)

		// A share meeting the pool's difficulty goes to the pool under the
		// pool's own id, and is credited at the miner's difficulty.
		sent := ms.cnSubmit(t, m, sink, "job-2~1", 4, 2_000_000)
		require.Contains(t, sent, `"method":"submit"`)
		require.Contains(t, sent, `"job_id":"job-2"`)
		require.NotContains(t, sent, "~")
		require.True(t, ms.mp.conn.handleLine([]byte(`{"id":2,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`)))
		require.Contains(t, string(sink.last), `"status":"OK"`)
		c = ms.s.fc[FamilyCryptoNote]
		require.Equal(t, uint64(2), c.Accepted)
		require.Equal(t, 2*float64(m.diff), c.Hashes)
		require.Equal(t, 2*float64(m.diff), m.wk.Hashes)
	})
}

// Shares arriving far faster than the target raise the difficulty at once
// (not at the sweep), and a share still in flight for the job sent before
// the change is judged at the old difficulty.
func TestVardiff_EarlyRetarget_Good(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := vdMemShard(t, vardiff.Config{Enabled: true, TargetSeconds: 10, InitialDiff: 1000, MinDiff: 1}, 1_000_000)
		m, sink := ms.addMiner(t, "WALLET")
		_, d := lastJob(t, sink)
		require.Equal(t, uint64(1000), d, "initial-diff")
		for n := uint32(1); n < 16; n++ {
			require.Contains(t, ms.cnSubmit(t, m, sink, "job-2", n, 1500), `"status":"OK"`)
		}
		ms.cnSubmit(t, m, sink, "job-2", 16, 1500) // the 16th share within a second: answered, then a new job
		require.Equal(t, uint64(16), ms.s.fc[FamilyCryptoNote].CustomAccepted)
		id, d := lastJob(t, sink)
		require.Equal(t, "job-2~1", id)
		require.Equal(t, uint64(8000), m.diff, "at most 8 times per step")
		require.Equal(t, cnDiff(8000), d)
		require.Contains(t, ms.cnSubmit(t, m, sink, "job-2", 17, 1500), `"status":"OK"`, "in flight: judged at the job's 1000")
		require.Contains(t, ms.cnSubmit(t, m, sink, "job-2~1", 18, 1500), stratum.MsgLowDifficulty, "the new job's is 8000")
		require.Contains(t, ms.cnSubmit(t, m, sink, "job-2~1", 19, 9000), `"status":"OK"`)
		// The pool's next job carries the miner's difficulty under its own id.
		ms.poolJob("job-3", 1_000_000)
		id, d = lastJob(t, sink)
		require.Equal(t, "job-3", id)
		require.Equal(t, cnDiff(8000), d)
		require.Contains(t, ms.cnSubmit(t, m, sink, "job-2~1", 20, 9000), `"status":"OK"`, "the previous job stays valid")
		require.Contains(t, ms.cnSubmit(t, m, sink, "job-2", 21, 1500), `"status":"OK"`)
	})
}

// A "+N" login fixes the miner's difficulty: no vardiff, whatever its
// shares do.
func TestVardiff_FixedDifficulty_Good(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := vdMemShard(t, vardiff.Config{Enabled: true, TargetSeconds: 1, RetargetSeconds: 1, MinDiff: 1}, 1_000_000)
		m, sink := ms.addMiner(t, "WALLET+5000")
		_, d := lastJob(t, sink)
		require.Equal(t, cnDiff(5000), d)
		require.Nil(t, m.vd)
		time.Sleep(10 * time.Second)
		ms.s.tick()
		id, d := lastJob(t, sink)
		require.Equal(t, "job-2", id)
		require.Equal(t, cnDiff(5000), d)
		for n := uint32(1); n <= 40; n++ {
			ms.cnSubmit(t, m, sink, "job-2", n, 6000)
		}
		require.Nil(t, m.vd)
		require.Equal(t, uint64(5000), m.diff)
		// custom-diff-stats is off: the local accepts are not counted.
		require.Zero(t, ms.s.fc[FamilyCryptoNote].Accepted)
	})
}

// A reload that turns vardiff off gives a miner the pool's difficulty at
// the next sweep; the pool lowering its difficulty below a miner's lowers
// the miner's with the job.
func TestVardiff_ReloadAndPoolDrop_Good(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := vdMemShard(t, vardiff.Config{Enabled: true, TargetSeconds: 1, RetargetSeconds: 1, MinDiff: 1, InitialDiff: 100_000}, 1_000_000)
		m, sink := ms.addMiner(t, "WALLET")
		_, d := lastJob(t, sink)
		require.Equal(t, cnDiff(100_000), d)
		ms.poolJob("job-3", 50_000)
		id, d := lastJob(t, sink)
		require.Equal(t, "job-3", id)
		require.Equal(t, cnDiff(50_000), d, "never above the pool's")

		ms.poolJob("job-4", 1_000_000)
		off := ms.s.cfg.Clone()
		off.Vardiff.Enabled = false
		off.Normalize()
		ms.s.cfg = off
		ms.s.tick()
		id, d = lastJob(t, sink)
		require.Equal(t, "job-4~1", id)
		require.Equal(t, cnDiff(1_000_000), d, "vardiff off: the pool's difficulty, at once")
		require.False(t, m.vd.st.Active())
		require.Contains(t, ms.cnSubmit(t, m, sink, "job-4~1", 1, 60_000), stratum.MsgLowDifficulty)
		require.Contains(t, ms.cnSubmit(t, m, sink, "job-4", 2, 60_000), `"status":"OK"`,
			"job-4 went out at 50,000: the pool's drop bounded the miner's difficulty")

		// On again: the next sweep starts it.
		ms.s.cfg = ms.s.cfg.Clone()
		ms.s.cfg.Vardiff.Enabled = true
		ms.s.tick()
		id, d = lastJob(t, sink)
		require.Equal(t, "job-4~2", id)
		require.Equal(t, cnDiff(100_000), d)
	})
}

// Per bind: bind[].vardiff replaces the keys it names for the miners of
// that port.
func TestVardiff_BindOverride_Good(t *testing.T) {
	on, target := true, 3.0
	cfg := &Config{Vardiff: vardiff.Config{MinDiff: 1}, Pools: []upstream.PoolConfig{{URL: "pool:3333", User: "W"}},
		Bind: []BindConfig{{Host: "127.0.0.1", Port: 3333, Vardiff: &vardiff.Override{Enabled: &on, TargetSeconds: &target}}}}
	ms := newMemShard(t, cfg)
	c := ms.s.vdConfig(ms.s.p.binds[0])
	require.True(t, c.Enabled)
	require.Equal(t, 3.0, c.TargetSeconds)
	require.Equal(t, 1.0, c.MinDiff, "inherited")
	require.False(t, ms.s.vdConfig(&bindInfo{}).Enabled, "a bind the table does not know: the top level")
}

// The keys, top level and per bind; errors name the key.
func TestVardiff_Config_Good(t *testing.T) {
	cfg, _, err := ParseConfig([]byte(`{"pools":[{"url":"pool:3333"}],
		"vardiff": {"enabled": true, "target-seconds": 10, "retarget-seconds": 30, "variance": 0.3,
		            "min-diff": 1000, "max-diff": 0, "initial-diff": 0},
		"bind": [{"host":"127.0.0.1","port":3333}, {"host":"127.0.0.1","port":3334,"vardiff":{"min-diff":0.001,"target-seconds":3}}]}`))
	require.NoError(t, err)
	require.Equal(t, vardiff.Config{Enabled: true, TargetSeconds: 10, RetargetSeconds: 30, Variance: 0.3, MinDiff: 1000}, cfg.Vardiff)
	require.Nil(t, cfg.Bind[0].Vardiff)
	require.Equal(t, 0.001, *cfg.Bind[1].Vardiff.MinDiff)

	cfg, _, err = ParseConfig([]byte(`{"pools":[{"url":"pool:3333"}]}`))
	require.NoError(t, err)
	require.Equal(t, vardiff.Config{TargetSeconds: 10, RetargetSeconds: 30, Variance: 0.3, MinDiff: 1000}, cfg.Vardiff, "defaults, off")
}

func TestVardiff_Config_Bad(t *testing.T) {
	for doc, want := range map[string]string{
		`{"pools":[{"url":"pool:3333"}],"vardiff":{"min-diff":-1}}`:                                                                             "vardiff.min-diff: must not be negative",
		`{"pools":[{"url":"pool:3333"}],"vardiff":{"variance":1.5}}`:                                                                            "vardiff.variance: must be below 1",
		`{"pools":[{"url":"pool:3333"}],"vardiff":{"min-diff":5000,"max-diff":10}}`:                                                             "vardiff.max-diff:",
		`{"pools":[{"url":"pool:3333"}],"vardiff":{"target_seconds":5}}`:                                                                        "vardiff.target_seconds: unknown key",
		`{"pools":[{"url":"pool:3333"}],"bind":["127.0.0.1:3333",{"host":"127.0.0.1","port":3334,"vardiff":{"target-seconds":0.5}}]}`:           "bind[1].vardiff.target-seconds: must be 1..3600",
		`{"pools":[{"url":"pool:3333"}],"vardiff":{"initial-diff":2000},"bind":[{"host":"127.0.0.1","port":3334,"vardiff":{"min-diff":5000}}]}`: "bind[0].vardiff.initial-diff",
	} {
		_, _, err := ParseConfig([]byte(doc))
		require.Error(t, err, doc)
		require.Contains(t, err.Error(), want, doc)
	}
}

// The vardiff keys are the API's to change (they name nothing on the
// host), bind[].vardiff included, while the rest of a bind stays
// disk-only; a reload applies a bind's vardiff without a restart.
func TestVardiff_ConfigAPI_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	p, _ := startProxy(t, cfg)
	next := p.Config().Clone()
	on, min := true, 2.0
	next.Vardiff.Enabled, next.Vardiff.TargetSeconds = true, 5
	next.Bind[0].Vardiff = &vardiff.Override{Enabled: &on, MinDiff: &min}
	require.Empty(t, DiskOnlyChanges(p.Config(), next))
	warnings, err := p.Reload(next)
	require.NoError(t, err)
	require.Empty(t, warnings, "a bind's vardiff needs no restart")
	require.Equal(t, 2.0, *p.Config().Bind[0].Vardiff.MinDiff)
	moved := next.Clone()
	moved.Bind[0].Port++
	require.Equal(t, []string{"bind[0].port"}, DiskOnlyChanges(p.Config(), moved))
}

// With custom-diff-stats, a custom-difficulty miner's local accepts count
// at its difficulty, and so do its forwarded shares: each share counts
// once at the difficulty it was judged at. (Crediting the forwarded ones at
// the pool's difficulty as well counted their work twice: a miner at a
// tenth of the pool's difficulty read about twice its speed.)
func TestVardiff_CustomDiffStatsCredit_Good(t *testing.T) {
	ms := newMemShard(t, &Config{CustomDiffStats: true, Pools: []upstream.PoolConfig{{URL: "pool:3333", User: "W"}}})
	ms.poolJob("job-2", 10_000)
	m, sink := ms.addMiner(t, "WALLET+1000")
	require.Contains(t, ms.cnSubmit(t, m, sink, "job-2", 1, 2000), `"status":"OK"`, "answered locally")
	sent := ms.cnSubmit(t, m, sink, "job-2", 2, 20_000)
	require.Contains(t, sent, `"method":"submit"`, "forwarded")
	require.True(t, ms.mp.conn.handleLine([]byte(`{"id":2,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`)))
	c := ms.s.fc[FamilyCryptoNote]
	require.Equal(t, uint64(2), c.Accepted)
	require.Equal(t, 2000.0, c.Hashes, "two shares at the miner's 1000")
	require.Equal(t, 2000.0, m.wk.Hashes)
}

// A miner's record of the difficulty of its jobs: each job id one
// difficulty, variants never sent refused, and a move to another session
// (hashrate routing) keeps the last difficulty of the one it left for its
// shares still in flight there. It stays within 96 bytes.
func TestVardiff_Marks_Good(t *testing.T) {
	require.LessOrEqual(t, unsafe.Sizeof(minerVD{}), uintptr(96))
	var vd minerVD
	vd.mark(1, 10, 0, 1000) // job 10 at 1000
	vd.mark(1, 10, 1, 8000) // its variant 1 at 8000
	vd.mark(1, 11, 0, 8000) // job 11 at 8000
	for _, c := range []struct {
		mp  uint64
		key uint32
		v   uint8
		d   float64
	}{{1, 10, 0, 1000}, {1, 10, 1, 8000}, {1, 11, 0, 8000}, {1, 9, 0, 1000}} {
		d, ok := vd.judged(c.mp, c.key, c.v)
		require.True(t, ok)
		require.Equal(t, c.d, d, "job %d~%d", c.key, c.v)
	}
	require.True(t, vd.sent(1, 10, 5), "any variant of an older job may have been")
	require.False(t, vd.sent(1, 11, 1), "the newest job has no variant yet")
	_, ok := vd.judged(2, 11, 0)
	require.False(t, ok, "another session")

	// The miner moves to session 2 and gets its job 3 at 4000.
	vd.mark(2, 3, 0, 4000)
	d, ok := vd.judged(2, 3, 0)
	require.True(t, ok)
	require.Equal(t, 4000.0, d)
	d, ok = vd.judged(1, 11, 0)
	require.True(t, ok, "in flight on the session it left")
	require.Equal(t, 8000.0, d)
	require.True(t, vd.sent(1, 11, 0))
	require.False(t, vd.sent(3, 1, 0), "a session it never had")
	// And on to session 3: session 1 is forgotten.
	vd.mark(3, 1, 0, 4000)
	_, ok = vd.judged(1, 11, 0)
	require.False(t, ok)
	d, ok = vd.judged(2, 3, 0)
	require.True(t, ok)
	require.Equal(t, 4000.0, d)
}
