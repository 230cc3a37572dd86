package reactor

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// Integration tests of the share path against hostile miners and slow
// pools, through the segmenting relays: duplicates, the job a clean job
// replaced, the share rate limit and pool back-pressure.

func TestShares_DuplicateCryptoNote_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	p, addr := startProxy(t, baseConfig(pool.Addr()))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	nonce, result := m.Share()
	r := m.SubmitRaw(m.Session, m.Job.JobID, nonce, result)
	require.Nil(t, r.Error, r.Raw)
	r = m.SubmitRaw(m.Session, m.Job.JobID, nonce, result)
	require.NotNil(t, r.Error, r.Raw)
	require.Equal(t, stratum.MsgDuplicateShare, r.Error.Message)
	st := pool.Stats()
	require.Equal(t, int64(1), st.Submits, "the duplicate never reached the pool")
	require.Zero(t, st.Duplicates)
	testutil.Eventually(t, func() bool { return p.Summary().ByFamily[FamilyCryptoNote].Invalid == 1 }, "counted invalid")
}

func TestShares_DuplicateSV1_Bad(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	_, addr := startProxy(t, sv1Config(pool.Addr()))
	m := testminer.DialSV1(t, addr)
	m.Login("rig", 0)
	e2, ntime, nonce, _ := m.Share()
	job := m.Job.JobID
	require.Equal(t, "true", string(m.SubmitRaw(job, e2, ntime, nonce, 0).Result))
	// The same share in upper-case hex.
	r := m.Reply(m.Send(`"method":"mining.submit","params":["w",%q,"%X","%08X","%08X"]}`, job, e2, ntime, nonce))
	require.Equal(t, 22, r.ErrCode(), r.Raw)
	// After more than 32 other submits (neighbouring nonces: low difficulty).
	for i := range uint32(40) {
		r = m.SubmitRaw(job, e2, ntime, nonce+1+i, 0)
		require.NotEqual(t, 22, r.ErrCode(), r.Raw)
	}
	r = m.SubmitRaw(job, e2, ntime, nonce, 0)
	require.Equal(t, 22, r.ErrCode(), r.Raw)
	st := pool.Stats()
	require.Zero(t, st.Duplicates, "the pool never counted a duplicate")
	require.Equal(t, int64(1), st.Accepted)
}

// After a clean job, a share for the job it replaced goes to the pool,
// which decides: accepted by a pool that still takes it (counted expired),
// refused with the pool's own answer by one that does not.
func TestShares_ReplacedJobSV1_Good(t *testing.T) {
	for _, keep := range []bool{true, false} {
		t.Run(fmt.Sprint("pool keeps it: ", keep), func(t *testing.T) {
			pool := startSV1Pool(t, sv1pool.Config{KeepReplacedJob: keep})
			p, addr := startProxy(t, sv1Config(pool.Addr()))
			m := testminer.DialSV1(t, addr)
			m.Login("rig", 0)
			e2, ntime, nonce, _ := m.Share()
			old := m.Job.JobID
			pool.BroadcastJob(true)
			m.WaitJob()
			require.NotEqual(t, old, m.Job.JobID)
			r := m.SubmitRaw(old, e2, ntime, nonce, 0)
			require.Equal(t, int64(1), pool.Stats().Submits, "the share reached the pool: "+r.Raw)
			if keep {
				require.Equal(t, "true", string(r.Result), r.Raw)
				testutil.Eventually(t, func() bool { return p.Summary().ByFamily[FamilySV1].Expired == 1 }, "counted expired")
				require.Equal(t, 22, m.SubmitRaw(old, e2, ntime, nonce, 0).ErrCode(), "its duplicate is refused locally")
			} else {
				require.Equal(t, 21, r.ErrCode(), r.Raw)
				require.Equal(t, int64(1), pool.Stats().Stale, "the pool's answer")
			}
			require.Equal(t, int64(1), pool.Stats().Submits)
		})
	}
}

// submitLines returns n CryptoNote submit lines of m, each a new share of
// its current job, with request ids from first.
func submitLines(m *testminer.CN, first, n int) string {
	var b strings.Builder
	for i := range n {
		nonce, result := m.Share()
		fmt.Fprintf(&b, `{"id":%d,"jsonrpc":"2.0","method":"submit","params":{"id":%q,"job_id":%q,"nonce":%q,"result":%q}}`+"\n",
			first+i, m.Session, m.Job.JobID, nonce, result)
	}
	return b.String()
}

// One miner flooding shares as fast as it can next to honest miners on the
// same event loop and pool session: every honest share gets the pool's
// answer, the pool connection stays, the flooder is answered with the rate
// limit error and then disconnected.
func TestShares_Flood_Ugly(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	// The flooder's answers cross a relay that may pass them byte by byte:
	// room for them, so that the rate limit, not the slow-reader cap, is
	// what ends it.
	cfg.MaxOutbound = 16 << 20
	p, addr := startProxy(t, cfg)
	honest := make([]*testminer.CN, 4)
	for i := range honest {
		honest[i] = testminer.DialCN(t, addr)
		require.Nil(t, honest[i].Login("WALLET").Error)
	}
	flooder := testminer.DialCN(t, addr)
	require.Nil(t, flooder.Login("WALLET").Error)
	flood := submitLines(flooder, 100, 5000)

	limited := 0
	done := make(chan error, 1)
	go func() {
		for {
			line, err := flooder.ReadLineBy(time.Now().Add(waitTimeout))
			if err != nil {
				done <- err
				return
			}
			if strings.Contains(line, msgShareRateLimit) {
				limited++
			}
		}
	}()
	go func() {
		_ = flooder.Conn.SetWriteDeadline(time.Now().Add(waitTimeout))
		_, _ = flooder.Conn.Write([]byte(flood)) // fails once the proxy closes it
	}()

	var wg sync.WaitGroup
	errs := make(chan string, len(honest)*30)
	for _, m := range honest {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				_ = m.Conn.SetWriteDeadline(time.Now().Add(waitTimeout))
				if _, err := m.Conn.Write([]byte(submitLines(m, i, 1))); err != nil {
					errs <- err.Error()
					return
				}
				line, err := m.ReadLineBy(time.Now().Add(waitTimeout))
				if err != nil || !strings.Contains(line, `"status":"OK"`) {
					errs <- fmt.Sprintf("%q %v", line, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error("honest share not accepted by the pool:", e)
	}
	// The reader ends when the proxy closes the flooder, or times out
	// once the proxy has answered everything and kept it connected.
	var ne net.Error
	readErr := <-done
	if errors.As(readErr, &ne) && ne.Timeout() {
		t.Fatal("the flooder is still connected")
	}
	if limited == 0 {
		// The proxy closes the flooder with thousands of its submits
		// still unread, so the kernel resets the connection, and a reset
		// discards what the flooder had not read yet: on a slow machine
		// all of its rate-limit errors. They were sent (the counter below
		// says how many); the reset must be why none was read.
		require.ErrorIs(t, readErr, syscall.ECONNRESET, "the flooder read no rate-limit error and was not reset")
	}
	testutil.Eventually(t, func() bool {
		c := p.Summary().Counters
		return c.FloodClosed == 1 && c.Throttled >= uint64(max(limited, 1))
	}, "flood counted")
	sum := p.Summary()
	require.Zero(t, sum.Counters.Timeouts, "no share timed out")
	require.Zero(t, sum.Counters.PoolFailures, "the pool connection was never dropped")
	require.Equal(t, 1, pool.Stats().Connections)
}

// A pool that stops reading: the miners are held instead of having their
// shares evicted as "Pool timeout" or the pool connection dropped, and
// every share gets the pool's answer once it reads again. Miners over TLS
// (streams) are held the same way.
func TestShares_SlowPool_Good(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprint("tls ", useTLS), func(t *testing.T) {
			gate := make(chan struct{})
			var once sync.Once
			release := func() { once.Do(func() { close(gate) }) }
			pool := startPool(t, mockpool.Config{OnSubmit: func(mockpool.Submit) { <-gate }})
			t.Cleanup(release) // before the pool's Close, which waits for its readers
			cfg := baseConfig(pool.Addr())
			cfg.SubmitTimeout, cfg.PoolTimeout = 120, 240 // nothing expires while the pool is stuck
			var opts []testminer.Option
			if useTLS {
				port, err := freePort()
				require.NoError(t, err)
				cfg.Bind = []BindConfig{{Host: "127.0.0.1", Port: port, TLS: true}}
				opts = append(opts, testminer.WithTLS(&tls.Config{InsecureSkipVerify: true}))
			}
			p, addr := startProxy(t, cfg)
			const miners, each = 4, 80 // 320 shares: more than 256 in flight
			ms := make([]*testminer.CN, miners)
			for i := range ms {
				ms[i] = testminer.DialCN(t, addr, opts...)
				require.Nil(t, ms[i].Login("WALLET").Error)
			}
			for _, m := range ms {
				_ = m.Conn.SetWriteDeadline(time.Now().Add(waitTimeout))
				_, err := m.Conn.Write([]byte(submitLines(m, 100, each)))
				require.NoError(t, err)
			}
			testutil.Eventually(t, func() bool { return p.Summary().ByFamily[FamilyCryptoNote].Held > 0 }, "miners held")
			release()
			for i, m := range ms {
				for j := range each {
					line, err := m.ReadLineBy(time.Now().Add(waitTimeout))
					require.NoError(t, err, "miner %d share %d", i, j)
					require.Contains(t, line, `"status":"OK"`, "miner %d share %d", i, j)
				}
			}
			st := pool.Stats()
			require.Equal(t, int64(miners*each), st.Accepted)
			require.Equal(t, 1, st.Connections, "the pool connection was never dropped")
			sum := p.Summary()
			require.Zero(t, sum.Counters.Timeouts)
			require.Zero(t, sum.Counters.PoolFailures)
		})
	}
}
