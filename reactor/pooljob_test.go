package reactor

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// takePoolConn waits for the scripted pool's logged-in connection.
func takePoolConn(t *testing.T, fp *fuzzPool) net.Conn {
	t.Helper()
	select {
	case c := <-fp.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(waitTimeout):
		t.Fatal("the proxy did not log in to its pool")
		return nil
	}
}

func cnJobLine(id, target string) string {
	return `{"jsonrpc":"2.0","method":"job","params":{"blob":"` + strings.Repeat("0", 152) +
		`","job_id":"` + id + `","target":"` + target + `"}}` + "\n"
}

// TestPoolJob_ZeroTarget_Bad: a CryptoNote job whose target means
// difficulty 0 (every hash a share) or far beyond any network is skipped:
// miners keep the previous job, the pool connection stays, and the next
// good job goes out as usual.
func TestPoolJob_ZeroTarget_Bad(t *testing.T) {
	fp := startFuzzPool(t)
	p, addr := startProxy(t, fastFailover(testutil.Relay(t, fp.ln.Addr().String())))
	pool := takePoolConn(t, fp)
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	require.Equal(t, "j1", m.Job.JobID)

	for _, bad := range []string{cnJobLine("zero", "00000000"), cnJobLine("zero64", "0000000000000000"), cnJobLine("absurd", "0100000000000000")} {
		_, err := pool.Write([]byte(bad))
		require.NoError(t, err)
	}
	_, err := pool.Write([]byte(cnJobLine("j3", "b88d0600")))
	require.NoError(t, err)
	r := m.Read()
	require.Equal(t, "job", r.Method, r.Raw)
	require.Equal(t, "j3", m.Job.JobID, "the bad jobs never reached the miner")
	require.Equal(t, "b88d0600", m.Job.Target)
	require.Zero(t, p.Summary().Counters.PoolFailures, "the pool connection stays")
}
