package reactor

import (
	"log/slog"
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
	testutil.Eventually(t, func() bool {
		for _, e := range p.Summary().PoolErrors {
			return e.InvalidJob == 3
		}
		return false
	}, "the skipped jobs are counted for the pool")
}

// TestPoolErrors_Framing_Bad: a pool line that is not JSON, or longer than
// the pool limit, drops the pool connection and is counted for that pool
// under its reason — not as a miner's bad line — and logged with the pool
// and the reason.
func TestPoolErrors_Framing_Bad(t *testing.T) {
	fp := startFuzzPool(t)
	poolAddr := fp.ln.Addr().String()
	var logs testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	p, addr := startProxy(t, fastFailover(poolAddr), WithLogger(log))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)

	_, err := takePoolConn(t, fp).Write([]byte("this is not json\n"))
	require.NoError(t, err)
	_, err = takePoolConn(t, fp).Write([]byte(`{"id":1,"padding":"` + strings.Repeat("p", 70<<10) + `"}` + "\n"))
	require.NoError(t, err)
	takePoolConn(t, fp) // the proxy came back both times
	testutil.Eventually(t, func() bool {
		e := p.Summary().PoolErrors[poolAddr]
		return e.NotJSON == 1 && e.LineTooLong == 1
	}, "both counted for the pool")
	sum := p.Summary()
	require.Zero(t, sum.Counters.BadLines, "not a miner's bad line")
	require.Len(t, sum.PoolErrors, 1)
	text := logs.String()
	require.Contains(t, text, "reason=not_json")
	require.Contains(t, text, "reason=line_too_long")
	require.Contains(t, text, "pool="+poolAddr)
	require.NotContains(t, text, "POOLWALLET", "no credentials in the log")
	m.Send(`{"id":9,"method":"keepalived","params":{"id":"` + m.Session + `"}}`)
	require.Equal(t, "KEEPALIVED", m.ReadReply().Result.Status, "the miner stays connected")
}
