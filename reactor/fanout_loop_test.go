package reactor

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// On a real event loop, through segmenting relays on both sides: a submit
// that reaches the proxy while a fan-out is under way is read, forwarded
// and answered between two slices, long before the job has reached the
// last miner. The test watches from inside the loop (fan.onSlice runs as
// each slice begins): at the first slice it sends the submit and waits
// until the proxy's socket holds the whole line; it then records at which
// slice the proxy had read it, and at which it had written the pool's
// answer to the miner. No timing is asserted, only the order.
func TestFanout_SubmitBetweenSlices_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{Seed: 41})
	p, addr := startProxy(t, baseConfig(pool.Addr()))
	const n = 40
	miners := make([]*testminer.CN, n)
	for i := range miners {
		miners[i] = testminer.DialCN(t, addr)
		require.Nil(t, miners[i].Login("WALLET").Error)
	}
	// The submitter writes its share from the loop goroutine on its own
	// connection.
	raw, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	sub := testminer.NewCN(t, raw)
	require.Nil(t, sub.Login("WALLET").Error)
	nonce, result := sub.Share()
	line := fmt.Sprintf(`{"id":77,"jsonrpc":"2.0","method":"submit","params":{"id":%q,"job_id":%q,"nonce":%q,"result":%q,"algo":"rx/0"}}`+"\n",
		sub.Session, sub.Job.JobID, nonce, result)

	s := p.shardList()[0]
	var (
		slices, readAt, answeredAt int
		failure                    string
		poolAnswered               bool
		m                          *miner
		rx0, tx0                   uint64
	)
	runOnLoop(t, s, func() {
		for _, x := range s.miners {
			if x != nil && string(x.sessionID()) == sub.Session {
				m = x
			}
		}
		s.fan.size = 1
		s.fan.onSlice = func() {
			slices++
			switch {
			case failure != "":
			case slices == 1:
				rx0, tx0 = m.rx, m.tx
				if _, err := raw.Write([]byte(line)); err != nil {
					failure = err.Error()
				} else if !waitPeek(m.conn.g.Fd(), len(line)) {
					failure = "the submit did not reach the proxy's socket"
				}
			case readAt == 0:
				if m.rx > rx0 {
					readAt = slices // forwarded as this slice begins
				}
			case !poolAnswered:
				// Wait for the pool's answer to be readable by the loop.
				poolAnswered = true
				if !waitPeek(s.mappers[0].conn.conn.g.Fd(), 1) {
					failure = "no answer from the pool"
				}
			case answeredAt == 0:
				if m.tx > tx0 {
					answeredAt = slices
				}
			}
		}
	})
	require.NotNil(t, m)
	job := pool.BroadcastJob()
	for _, mn := range miners {
		for mn.Read().Method != "job" {
		}
		require.Equal(t, job.JobID, mn.Job.JobID)
	}
	r := sub.ReadReply()
	require.Equal(t, "77", string(r.ID), r.Raw)
	runOnLoop(t, s, func() { s.fan.onSlice = nil })
	t.Logf("slices %d: submit read at slice %d, answered at slice %d", slices, readAt, answeredAt)
	require.Empty(t, failure)
	require.Greater(t, slices, 30, "the job went out in slices (one write each)")
	require.NotZero(t, readAt, "the submit was read during the fan-out")
	require.NotZero(t, answeredAt, "and answered during it")
	require.Less(t, answeredAt, slices-20, "with most of the fan-out still to go: read at slice %d, answered at %d of %d", readAt, answeredAt, slices)
}

// runOnLoop runs fn on shard s's loop and waits for it.
func runOnLoop(t *testing.T, s *shard, fn func()) {
	t.Helper()
	_, err := onLoop(waitCtx(t), s, func() bool { fn(); return true })
	require.NoError(t, err)
}

// waitPeek polls (with a deadline, from the loop) until socket fd holds
// at least n unread bytes, the last of them a newline: a whole line that
// the loop will read in its next round.
func waitPeek(fd, n int) bool {
	buf := make([]byte, 1<<16)
	deadline := time.Now().Add(testutil.WaitTimeout)
	for time.Now().Before(deadline) {
		k, _, err := unix.Recvfrom(fd, buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if err == nil && k >= n && buf[k-1] == '\n' {
			return true
		}
		runtime.Gosched()
	}
	return false
}
