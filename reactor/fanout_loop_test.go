package reactor

import (
	"cmp"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
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
// answer to the miner. No timing is asserted, only the order: the miner
// that became readable during a slice is served before the next slice
// (fanWaker alternates its ends for that).
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
	require.Equal(t, 2, readAt, "the submit, readable before slice 1 ended, was read before slice 2")
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

// SV1 aggregate on a real loop, through relays: a job reaches every miner
// of the session once, in slices; five shares sent during the fan-out are
// read between slices, coalesced into one write to the pool at the next
// slice, and all answered (accepted) by the pool.
func TestFanout_SV1CoalescedSubmits_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	p, addr := startProxy(t, sv1Config(pool.Addr()))
	const n, nsub = 40, 5
	miners := make([]*testminer.SV1, n)
	raws := make([]net.Conn, nsub)
	lines := make([]string, nsub)
	for i := range miners {
		if i < nsub {
			c, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			raws[i] = c
			miners[i] = testminer.NewSV1(t, c)
		} else {
			miners[i] = testminer.DialSV1(t, addr)
		}
		miners[i].Login("farm.rig", 0)
	}
	for i := range lines {
		m := miners[i]
		e2, ntime, nonce, _ := m.Share()
		lines[i] = fmt.Sprintf(`{"id":%d,"method":"mining.submit","params":["w",%q,"%x","%08x","%08x"]}`+"\n", 900+i, m.Job.JobID, e2, ntime, nonce)
	}
	accepted := pool.Stats().Accepted

	s := p.shardList()[0]
	var (
		nslices, most int
		failure       string
	)
	runOnLoop(t, s, func() {
		s.fan.size = 1
		s.fan.onSlice = func() {
			nslices++
			if pc := s.mappers[0].conn; pc != nil {
				most = max(most, strings.Count(string(pc.coalesced), `"mining.submit"`))
			}
			if nslices != 1 || failure != "" {
				return
			}
			for i, c := range raws {
				if _, err := c.Write([]byte(lines[i])); err != nil {
					failure = err.Error()
					return
				}
			}
			// The submitters logged in first: the lowest miner ids.
			var subs []*miner
			for _, x := range s.miners {
				if x != nil {
					subs = append(subs, x)
				}
			}
			slices.SortFunc(subs, func(a, b *miner) int { return cmp.Compare(a.id, b.id) })
			for i, x := range subs[:nsub] {
				if !waitPeek(x.conn.g.Fd(), len(lines[i])) {
					failure = "the shares did not reach the proxy's sockets"
				}
			}
		}
	})
	job := pool.BroadcastJob(false) // the shares' job stays valid
	for _, m := range miners[nsub:] {
		for m.Read().Method != "mining.notify" || m.Job.JobID != job.JobID {
		}
	}
	for i, m := range miners[:nsub] {
		r := m.Reply(900 + i)
		require.Equal(t, "true", string(r.Result), r.Raw)
		for m.Job.JobID != job.JobID {
			m.Read()
		}
	}
	runOnLoop(t, s, func() { s.fan.onSlice = nil })
	require.Empty(t, failure)
	t.Logf("slices %d, at most %d shares coalesced for one write", nslices, most)
	require.Greater(t, nslices, 30, "the job went out in slices")
	require.Greater(t, most, 1, "shares read during the fan-out were written to the pool together")
	require.Equal(t, accepted+nsub, pool.Stats().Accepted)
}
