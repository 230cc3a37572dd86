package reactor

import (
	"fmt"
	"net/netip"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// sv1Notify is a mining.notify a pool could send: empty merkle branch, a
// coinbase with room for the extranonces.
const sv1TestNotify = `{"id":null,"method":"mining.notify","params":["job-1","` +
	`000000000000000000000000000000000000000000000000000000000000abcd","01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff0804ffff001d02","0a2f676f2d70726f78792fffffffff0100f2052a010000001976a914000000000000000000000000000000000000000088ac00000000",[],"20000000","1d00ffff","5f5e1000",true]}`

// newMemShardSV1 is a loop-free shard with one SV1 aggregate session that
// completed its handshake (extranonce1 0800001a, size 8) at difficulty d.
func newMemShardSV1(t testing.TB, d float64) (*memShard, *mapper) {
	t.Helper()
	return newMemShardSV1With(t, d, "0800001a")
}

// newMemShardSV1With is newMemShardSV1 with the pool's extranonce1 (hex).
func newMemShardSV1With(t testing.TB, d float64, e1 string) (*memShard, *mapper) {
	t.Helper()
	return newMemShardSV1Full(t, d, e1, "", nil)
}

// newMemShardSV1Algo is newMemShardSV1 with the pool's algorithm and the
// rest of the configuration from base (its pools are replaced).
func newMemShardSV1Algo(t testing.TB, d float64, algo string, base *Config) (*memShard, *mapper) {
	t.Helper()
	return newMemShardSV1Full(t, d, "0800001a", algo, base)
}

func newMemShardSV1Full(t testing.TB, d float64, e1, algo string, base *Config) (*memShard, *mapper) {
	t.Helper()
	if base == nil {
		base = &Config{}
	}
	sv := upstream.PoolConfig{URL: "pool:3333", User: "acct", Family: upstream.SV1, Algo: algo}
	base.Pools = []upstream.PoolConfig{{URL: "cnpool:3333", User: "W"}, sv}
	ms := newMemShard(t, base)
	s := ms.s
	mp := &mapper{s: s, id: 2, family: FamilySV1, kind: kindSV1Agg, pools: s.p.enabledPools(s.cfg, FamilySV1)}
	mp.init()
	s.mappers = append(s.mappers, mp)
	sink := &memSink{}
	pc := &poolConn{mp: mp, pool: mp.pools[0], conn: connRef{x: sink}}
	mp.conn = pc
	pc.attached()
	for _, l := range []string{
		`{"id":1,"result":{"version-rolling":true,"version-rolling.mask":"1fffe000"},"error":null}`,
		`{"id":2,"result":[[["mining.notify","s1"]],"` + e1 + `",8],"error":null}`,
		`{"id":3,"result":true,"error":null}`,
		fmt.Sprintf(`{"id":null,"method":"mining.set_difficulty","params":[%v]}`, d),
		`{"id":4,"result":true,"error":null}`,
		sv1TestNotify,
	} {
		require.True(t, pc.handleLine([]byte(l)), l)
	}
	require.Equal(t, mapperActive, mp.state)
	require.Len(t, mp.sv.jobs, 1)
	return ms, mp
}

func (ms *memShard) addSV1Miner(t testing.TB) (*miner, *memSink) {
	t.Helper()
	ms.s.p.conns.Add(1)
	sink := &memSink{}
	m := ms.s.addMiner(connRef{x: sink}, netip.MustParseAddrPort("10.0.0.3:7000"), ms.s.p.binds[0])
	require.True(t, m.handleLine([]byte(`{"id":1,"method":"mining.subscribe","params":["bmminer/2.0.0"]}`)))
	require.True(t, m.handleLine([]byte(`{"id":2,"method":"mining.authorize","params":["farm.rig1","x"]}`)))
	require.Equal(t, stateReady, m.state, string(sink.last))
	return m, sink
}

func TestMemShardSV1_Submit_Good(t *testing.T) {
	ms, mp := newMemShardSV1(t, 1.0/(1<<40))
	m, sink := ms.addSV1Miner(t)
	require.Equal(t, []byte{0x08, 0, 0, 0x1a, 0, 0, 0, 0}, m.sv.e1[:m.sv.e1n], "pool e1 then a 4-byte prefix")
	require.True(t, m.handleLine([]byte(`{"id":9,"method":"mining.submit","params":["farm.rig1","job-1","00000001","5f5e1000","00000000"]}`)))
	require.Contains(t, string(mp.conn.conn.x.(*memSink).last), `"mining.submit","params":["acct","job-1","0000000000000001","5f5e1000","00000000"]`)
	require.True(t, mp.conn.handleLine([]byte(`{"id":5,"result":true,"error":null}`)))
	require.Equal(t, `{"id":9,"result":true,"error":null}`+"\n", string(sink.last))
	require.Equal(t, uint64(1), ms.s.fc[FamilySV1].Accepted)
}

func benchSubmitLine(n uint32) []byte {
	return []byte(fmt.Sprintf(`{"id":9,"method":"mining.submit","params":["farm.rig1","job-1","%08x","5f5e1000","00000000"]}`, n))
}

// sv1ShareRound returns a function that plays one SV1 share end to end on
// a newMemShardSV1 session: m submits with a fresh extranonce2 (the proxy
// refuses duplicates) and the pool accepts it. Every sharesPerJob shares
// the pool sends a clean job (job-1 and job-2 in turn), so the duplicate
// windows turn as they do in service. Shares allocate nothing (installing
// a job does: its binary form).
func sv1ShareRound(t testing.TB, mp *mapper, m *miner) func() {
	line := benchSubmitLine(0)
	jobAt := len(`{"id":9,"method":"mining.submit","params":["farm.rig1","job-`)
	e2At := jobAt + len(`1","`)
	answer := make([]byte, 0, 64)
	poolID := uint64(5) // the pool client's first submit id after the handshake
	var n uint32
	var hex [8]byte
	job := mp.sv.jobs[0].job
	jobs := [2]string{"job-1", "job-2"}
	return func() {
		n++
		if n%sharesPerJob == 0 {
			job.JobID, job.CleanJobs = jobs[n/sharesPerJob%2], true
			mp.sv1SetJob(&job)
			line[jobAt] = job.JobID[4]
		}
		stratum.AppendHex(hex[:0], []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		copy(line[e2At:], hex[:])
		if !m.handleLine(line) {
			t.Fatal("submit refused")
		}
		answer = append(answer[:0], `{"id":`...)
		answer = strconv.AppendUint(answer, poolID, 10)
		answer = append(answer, `,"result":true,"error":null}`...)
		poolID++
		if !mp.conn.handleLine(answer) {
			t.Fatal("answer refused")
		}
	}
}

// The idle timeout closes CryptoNote miners that stopped submitting; SV1
// miners, which send nothing but shares, are left to TCP keepalive.
func TestMemShard_IdleTimeout_Good(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms, _ := newMemShardSV1(t, 1.0/(1<<40))
		sv, _ := ms.addSV1Miner(t)
		cn, _ := ms.addMiner(t, "WALLET")
		require.Equal(t, stateReady, sv.state)
		require.Equal(t, stateReady, cn.state)
		ms.s.tick()
		time.Sleep(time.Duration(ms.s.cfg.IdleTimeout+1) * time.Second)
		ms.s.tick()
		require.Equal(t, stateReady, sv.state, "SV1 miner kept")
		require.Equal(t, stateClosing, cn.state, "CryptoNote miner closed as idle")
	})
}

// A pool may give an empty extranonce1: the session is still a session,
// and every miner is placed on it (not on a new pool connection each).
func TestMemShardSV1_EmptyExtranonce1_Ugly(t *testing.T) {
	ms, mp := newMemShardSV1With(t, 1.0/(1<<40), "")
	a, _ := ms.addSV1Miner(t)
	b, _ := ms.addSV1Miner(t)
	require.Same(t, mp, a.mp)
	require.Same(t, mp, b.mp)
	require.Equal(t, 4, int(a.sv.e1n), "extranonce1 is the 4-byte prefix alone")
	require.NotEqual(t, a.sv.e1[:a.sv.e1n], b.sv.e1[:b.sv.e1n])
}
