package reactor

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// Integration tests of the share path against hostile miners and slow
// pools, through the segmenting relays: duplicates and the job a clean job
// replaced.

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
