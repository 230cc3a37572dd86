//go:build !race

package reactor

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// The hot path allocates nothing in steady state: a submit parsed,
// validated and forwarded, the pool's answer routed back, and a job fanned
// out to 256 miners. (Skipped under -race, which instruments allocation.)

func TestAllocs_SubmitRoundTrip(t *testing.T) {
	ms := newMemShard(t, nil)
	m, sink := ms.addMiner(t, "WALLET")
	answer := []byte(`{"id":0,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`)
	var nonceN uint32
	line := ms.submitLine(m, 0)
	nonceAt := len(`{"id":7,"jsonrpc":"2.0","method":"submit","params":{"id":"`) + 36 + len(`","job_id":"job-1","nonce":"`)
	poolID := uint64(2)
	allocs := testing.AllocsPerRun(2000, func() {
		nonceN++
		var hex [6]byte
		stratum.AppendHex(hex[:0], []byte{byte(nonceN), byte(nonceN >> 8), byte(nonceN >> 16)})
		copy(line[nonceAt:], hex[:])
		if !m.handleLine(line) {
			t.Fatal("submit refused")
		}
		// Answer with the id the pool client used.
		answer = answer[:0]
		answer = append(answer, `{"id":`...)
		answer = appendUintTest(answer, poolID)
		answer = append(answer, `,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`...)
		poolID++
		if !ms.mp.conn.handleLine(answer) {
			t.Fatal("answer refused")
		}
	})
	require.Zero(t, allocs)
	require.Contains(t, string(sink.last), `"status":"OK"`)
	require.Greater(t, ms.s.fc[FamilyCryptoNote].Accepted, uint64(1000))
}

func TestAllocs_JobFanOut(t *testing.T) {
	ms := newMemShard(t, nil)
	sinks := make([]*memSink, 256)
	for i := range sinks {
		_, sinks[i] = ms.addMiner(t, "WALLET")
	}
	jobs := [2]string{"job-a", "job-b"}
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		ms.job.JobID = jobs[i&1]
		i++
		ms.mp.setJob(&ms.job, true)
	})
	require.Zero(t, allocs)
	for _, s := range sinks {
		require.Contains(t, string(s.last), `"method":"job"`)
	}
}

func appendUintTest(b []byte, v uint64) []byte {
	var buf [20]byte
	n := len(buf)
	for {
		n--
		buf[n] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, buf[n:]...)
}

// The SV1 share path — parse, validate, duplicate check, sha256d header
// hash against both targets, forward with the prefix, answer — allocates
// nothing either.
func TestAllocs_SV1SubmitRoundTrip(t *testing.T) {
	ms, mp := newMemShardSV1(t, 1.0/(1<<40))
	m, sink := ms.addSV1Miner(t)
	const runs = 1000
	lines := make([][]byte, runs+1)
	answers := make([][]byte, runs+1)
	for i := range lines {
		lines[i] = benchSubmitLine(uint32(i + 1))
		answers[i] = []byte(fmt.Sprintf(`{"id":%d,"result":true,"error":null}`, 5+i))
	}
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		if !m.handleLine(lines[i]) || !mp.conn.handleLine(answers[i]) {
			t.Fatal("refused")
		}
		i++
	})
	require.Zero(t, allocs)
	require.Equal(t, `{"id":9,"result":true,"error":null}`+"\n", string(sink.last))
	require.Equal(t, uint64(runs+1), ms.s.fc[FamilySV1].Accepted)
}
