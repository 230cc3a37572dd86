//go:build !race

package reactor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// With the access and share logs installed as hooks, the share path still
// allocates nothing: a submit forwarded, the pool's answer routed back and
// an ACCEPT line formatted into the log buffer. (Skipped under -race.)
func TestAllocs_SubmitRoundTripWithLogs(t *testing.T) {
	ms := newMemShard(t, nil)
	dir := t.TempDir()
	access, err := NewAccessLog(filepath.Join(dir, "access.log"))
	require.NoError(t, err)
	defer access.Close()
	shares, err := NewShareLog(filepath.Join(dir, "shares.log"))
	require.NoError(t, err)
	defer shares.Close()
	ms.s.p.hooks = CombineHooks(access.Hooks(), shares.Hooks())

	m, sink := ms.addMiner(t, "WALLET")
	line := ms.submitLine(m, 0)
	nonceAt := len(`{"id":7,"jsonrpc":"2.0","method":"submit","params":{"id":"`) + 36 + len(`","job_id":"job-1","nonce":"`)
	answer := make([]byte, 0, 128)
	var nonceN uint32
	poolID := uint64(2)
	allocs := testing.AllocsPerRun(2000, func() {
		nonceN++
		var hex [6]byte
		stratum.AppendHex(hex[:0], []byte{byte(nonceN), byte(nonceN >> 8), byte(nonceN >> 16)})
		copy(line[nonceAt:], hex[:])
		if !m.handleLine(line) {
			t.Fatal("submit refused")
		}
		answer = append(answer[:0], `{"id":`...)
		answer = appendUintTest(answer, poolID)
		answer = append(answer, `,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`...)
		poolID++
		if !ms.mp.conn.handleLine(answer) {
			t.Fatal("answer refused")
		}
	})
	require.Zero(t, allocs)
	require.Contains(t, string(sink.last), `"status":"OK"`)
	require.NoError(t, shares.Flush())
	require.Len(t, readLines(t, shares.Path()), 2000+1, "every share logged (AllocsPerRun warms up once)")
	require.NoError(t, access.Flush())
	require.Len(t, readLines(t, access.Path()), 1, "the login")
}
