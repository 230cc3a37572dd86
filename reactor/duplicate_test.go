package reactor

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// cnLine is a CryptoNote submit from m for job with the nonce of n (its
// fixed byte on top) and a result meeting any difficulty.
func cnLine(m *miner, job string, n uint32) []byte {
	nonce := fmt.Sprintf("%02x%02x%02x%02x", byte(n), byte(n>>8), byte(n>>16), byte(m.fixed))
	return []byte(`{"id":7,"jsonrpc":"2.0","method":"submit","params":{"id":"` + string(m.sessionID()) +
		`","job_id":"` + job + `","nonce":"` + nonce + `","result":"` + strings.Repeat("0", 64) + `"}}`)
}

// newJob sends the in-memory pool's next job with this id.
func (ms *memShard) newJob(id string) {
	ms.job.JobID = id
	ms.mp.setJob(&ms.job, true)
}

// answerOK plays the pool accepting the submit with this id.
func answerOK(t testing.TB, pc *poolConn, id int) {
	t.Helper()
	var line string
	if pc.sv != nil {
		line = fmt.Sprintf(`{"id":%d,"result":true,"error":null}`, id)
	} else {
		line = fmt.Sprintf(`{"id":%d,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`, id)
	}
	require.True(t, pc.handleLine([]byte(line)))
}

func TestDuplicate_CryptoNote_Good(t *testing.T) {
	ms := newMemShard(t, nil)
	m, sink := ms.addMiner(t, "WALLET")
	sent := ms.pool.n
	share := cnLine(m, "job-1", 1)
	require.True(t, m.handleLine(share))
	require.Equal(t, sent+1, ms.pool.n, "forwarded")
	require.True(t, m.handleLine(share))
	require.Contains(t, string(sink.last), `"message":"Duplicate share"`)
	require.Equal(t, sent+1, ms.pool.n, "the duplicate never reached the pool")

	// A new job: job-1 is the previous job, its shares are still checked.
	ms.newJob("job-2")
	require.True(t, m.handleLine(share))
	require.Contains(t, string(sink.last), `"message":"Duplicate share"`)
	require.True(t, m.handleLine(cnLine(m, "job-1", 2)))
	require.Equal(t, sent+2, ms.pool.n, "a new share for the previous job is forwarded")
	require.Contains(t, string(ms.pool.last), `"job_id":"job-1"`)
	require.True(t, m.handleLine(cnLine(m, "job-2", 1)))
	require.Equal(t, sent+3, ms.pool.n, "the same nonce on another job is another share")

	// Two jobs on, job-1 is gone.
	ms.newJob("job-3")
	require.True(t, m.handleLine(share))
	require.Contains(t, string(sink.last), `"message":"Invalid job id"`)
	require.Equal(t, uint64(3), ms.s.fc[FamilyCryptoNote].Invalid)
}

// A miner that leaves and comes back onto its old nonce byte (free again
// after the next job) still cannot resend its shares for the previous job.
func TestDuplicate_CryptoNote_Ugly(t *testing.T) {
	ms := newMemShard(t, nil)
	a, _ := ms.addMiner(t, "WALLET")
	for range 255 {
		ms.addMiner(t, "WALLET") // the session is full
	}
	require.True(t, a.handleLine(cnLine(a, "job-1", 5)))
	a.close()
	a.closed()
	ms.newJob("job-2") // a's byte becomes free
	b, sink := ms.addMiner(t, "WALLET")
	require.Equal(t, a.fixed, b.fixed, "b took the only free byte, a's")
	sent := ms.pool.n
	require.True(t, b.handleLine(cnLine(b, "job-1", 5)))
	require.Contains(t, string(sink.last), `"message":"Duplicate share"`)
	require.Equal(t, sent, ms.pool.n)
}

// sv1Line is a mining.submit with the fields as given (text, any case).
func sv1Line(job, e2, ntime, nonce string, vbits ...string) []byte {
	params := fmt.Sprintf(`"farm.rig1",%q,%q,%q,%q`, job, e2, ntime, nonce)
	for _, v := range vbits {
		params += fmt.Sprintf(",%q", v)
	}
	return []byte(`{"id":9,"method":"mining.submit","params":[` + params + `]}`)
}

func TestDuplicate_SV1_Good(t *testing.T) {
	ms, mp := newMemShardSV1(t, 1.0/(1<<40)) // every hash meets the target
	m, sink := ms.addSV1Miner(t)
	pool := mp.conn.conn.x.(*memSink)
	sent := pool.n
	require.True(t, m.handleLine(sv1Line("job-1", "0000abcd", "5f5e1000", "00c0ffee")))
	require.Equal(t, sent+1, pool.n, "forwarded")
	// More than 32 other shares in between, then the same share in upper
	// case, and with version bits 0 spelled out (the same header).
	for i := range 40 {
		require.True(t, m.handleLine(sv1Line("job-1", fmt.Sprintf("%08x", i), "5f5e1000", "00000001")))
		answerOK(t, mp.conn, 5+i+1)
	}
	sent = pool.n
	for _, dup := range [][]byte{
		sv1Line("job-1", "0000ABCD", "5F5E1000", "00C0FFEE"),
		sv1Line("job-1", "0000abcd", "5f5e1000", "00c0ffee", "00000000"),
	} {
		require.True(t, m.handleLine(dup))
		require.Equal(t, `{"id":9,"result":null,"error":[22,"Duplicate share",null]}`+"\n", string(sink.last))
	}
	require.Equal(t, sent, pool.n, "no duplicate reached the pool")

	// A job that is not clean keeps job-1 valid, and its shares checked.
	job := mp.sv.jobs[0].job
	job.JobID, job.CleanJobs = "job-2", false
	mp.sv1SetJob(&job)
	require.True(t, m.handleLine(sv1Line("job-1", "0000ABCD", "5f5e1000", "00c0ffee")))
	require.Contains(t, string(sink.last), `"Duplicate share"`)
	require.True(t, m.handleLine(sv1Line("job-2", "0000abcd", "5f5e1000", "00c0ffee")))
	require.Equal(t, sent+1, pool.n, "the same values on another job are another share")
}

// Item 11: after a clean job, a share for the job it replaced is
// forwarded (the pool decides) and counted as expired when accepted; one
// clean job later it is refused locally.
func TestReplacedJob_SV1_Good(t *testing.T) {
	ms, mp := newMemShardSV1(t, 1.0/(1<<40))
	m, sink := ms.addSV1Miner(t)
	pool := mp.conn.conn.x.(*memSink)
	require.True(t, m.handleLine(sv1Line("job-1", "00000001", "5f5e1000", "00000001")))
	answerOK(t, mp.conn, 5)
	clean := func(id string) {
		job := mp.sv.jobs[len(mp.sv.jobs)-1].job
		job.JobID, job.CleanJobs = id, true
		mp.sv1SetJob(&job)
	}
	clean("job-2")
	sent := pool.n
	require.True(t, m.handleLine(sv1Line("job-1", "00000002", "5f5e1000", "00000001")))
	require.Equal(t, sent+1, pool.n, "a share for the replaced job goes to the pool")
	require.Contains(t, string(pool.last), `"job-1"`)
	answerOK(t, mp.conn, 6)
	require.Equal(t, `{"id":9,"result":true,"error":null}`+"\n", string(sink.last))
	fc := &ms.s.fc[FamilySV1]
	require.Equal(t, uint64(2), fc.Accepted)
	require.Equal(t, uint64(1), fc.Expired)
	// Its duplicates are still caught, the first share included.
	for _, e2 := range []string{"00000001", "00000002"} {
		require.True(t, m.handleLine(sv1Line("job-1", e2, "5f5e1000", "00000001")))
		require.Contains(t, string(sink.last), `"Duplicate share"`)
	}
	require.Equal(t, sent+1, pool.n)
	clean("job-3")
	require.True(t, m.handleLine(sv1Line("job-1", "00000003", "5f5e1000", "00000001")))
	require.Equal(t, `{"id":9,"result":null,"error":[21,"Job not found",null]}`+"\n", string(sink.last))
	require.Equal(t, sent+1, pool.n)
}

// The windows are bounded: a miner may record maxMinerShares shares per
// window and a session maxSessionShares; beyond them shares are refused
// (never forwarded unrecorded), until the next job.
func TestDuplicate_Bounds_Bad(t *testing.T) {
	ms := newMemShard(t, nil)
	miners := make([]*miner, maxSessionShares/maxMinerShares+1)
	sinks := make([]*memSink, len(miners))
	for i := range miners {
		miners[i], sinks[i] = ms.addMiner(t, "WALLET")
	}
	poolID := 2
	submit := func(m *miner, job string, n uint32) {
		sent := ms.pool.n
		require.True(t, m.handleLine(cnLine(m, job, n)))
		if ms.pool.n > sent {
			answerOK(t, ms.mp.conn, poolID)
			poolID++
		}
	}
	for n := range uint32(maxMinerShares) {
		submit(miners[0], "job-1", n)
	}
	require.Contains(t, string(sinks[0].last), `"status":"OK"`)
	submit(miners[0], "job-1", maxMinerShares)
	require.Contains(t, string(sinks[0].last), `"message":"Too many shares for this job"`)
	for _, m := range miners[1 : len(miners)-1] {
		for n := range uint32(maxMinerShares) {
			submit(m, "job-1", n)
		}
	}
	require.Equal(t, maxSessionShares, ms.mp.seen.Len(false), "the session's window is full")
	last, lastSink := miners[len(miners)-1], sinks[len(sinks)-1]
	submit(last, "job-1", 1)
	require.Contains(t, string(lastSink.last), `"message":"Too many shares for this job"`)
	ms.newJob("job-2")
	submit(last, "job-2", 1)
	require.Contains(t, string(lastSink.last), `"status":"OK"`, "a new job, a new window")
	submit(miners[0], "job-2", 1)
	require.Contains(t, string(sinks[0].last), `"status":"OK"`)
	require.Equal(t, uint64(2), ms.s.fc[FamilyCryptoNote].Invalid)
	require.Equal(t, uint64(maxSessionShares+2), ms.s.fc[FamilyCryptoNote].Accepted)
}
