package testminer

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/stratum"
)

// mockpool speaks the pool side of the CryptoNote protocol, as the proxy's
// miner port does.
func startCNPool(t *testing.T, cfg mockpool.Config) *mockpool.Pool {
	t.Helper()
	p, err := mockpool.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

func TestCN_Login_Good(t *testing.T) {
	pool := startCNPool(t, mockpool.Config{})
	m := DialCN(t, pool.Addr())
	r := m.Login("WALLET")
	require.Nil(t, r.Error, r.Raw)
	require.Equal(t, "OK", r.Result.Status)
	require.NotEmpty(t, r.Result.ID)
	require.Equal(t, r.Result.ID, m.Session)
	require.Equal(t, `1`, string(r.ID))
	require.Equal(t, pool.CurrentJob().JobID, m.Job.JobID, "the login reply's job")
	want := pool.CurrentJob().Blob
	require.Equal(t, want[:len(want)-8], m.Job.Blob[:len(m.Job.Blob)-8], "the pool's blob (its last four bytes are per session)")
	require.Contains(t, r.Raw, `"result"`)

	custom := DialCN(t, pool.Addr())
	custom.Pass, custom.RigID, custom.Agent = "minerpass", "rig-9", "xmrig-proxy/6.22.0"
	require.Nil(t, custom.Login("W2").Error)

	s := pool.Sessions()
	require.Len(t, s, 2)
	require.Equal(t, []string{"WALLET", "x", "XMRig/6.22.2", "rig-2"}, []string{s[0].Login, s[0].Pass, s[0].Agent, s[0].RigID})
	require.Equal(t, []string{"rx/0"}, s[0].Algos)
	require.Equal(t, []string{"W2", "minerpass", "xmrig-proxy/6.22.0", "rig-9"}, []string{s[1].Login, s[1].Pass, s[1].Agent, s[1].RigID})
}

func TestCN_Login_Bad(t *testing.T) {
	pool := startCNPool(t, mockpool.Config{})
	pool.SetBehavior(mockpool.Behavior{RejectLogin: "Invalid payment address provided"})
	m := DialCN(t, pool.Addr())
	r := m.Login("WALLET")
	require.NotNil(t, r.Error)
	require.Equal(t, "Invalid payment address provided", r.Error.Message)
	require.Empty(t, m.Session, "no session from a refused login")
}

// A share is in the job's NiceHash range and its result meets the target.
func TestCN_Share_Good(t *testing.T) {
	pool := startCNPool(t, mockpool.Config{Difficulty: 5000})
	m := DialCN(t, pool.Addr())
	require.Nil(t, m.Login("WALLET").Error)
	blob, err := hex.DecodeString(m.Job.Blob)
	require.NoError(t, err)
	require.Equal(t, blob[42], m.FixedByte())
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		nonce, result := m.Share()
		nb, err := hex.DecodeString(nonce)
		require.NoError(t, err)
		require.Len(t, nb, 4)
		require.Equal(t, m.FixedByte(), nb[3], "top byte of the little-endian nonce")
		require.Equal(t, uint32(i+1), binary.LittleEndian.Uint32(nb)&0xffffff)
		require.False(t, seen[nonce])
		seen[nonce] = true
		require.Len(t, result, 64)
		require.GreaterOrEqual(t, stratum.ResultDifficulty(result), uint64(5000))
	}
}

func TestCN_Submit_Good(t *testing.T) {
	pool := startCNPool(t, mockpool.Config{})
	m := DialCN(t, pool.Addr())
	require.Nil(t, m.Login("WALLET").Error)
	for i := 0; i < 3; i++ {
		r := m.Submit()
		require.Nil(t, r.Error, r.Raw)
		require.Equal(t, "OK", r.Result.Status)
		require.Zero(t, r.ErrCode())
	}
	st := pool.Stats()
	require.Equal(t, int64(3), st.Accepted)
	require.Zero(t, st.Rejected)
}

func TestCN_SubmitRaw_Bad(t *testing.T) {
	pool := startCNPool(t, mockpool.Config{})
	m := DialCN(t, pool.Addr())
	require.Nil(t, m.Login("WALLET").Error)
	nonce, result := m.Share()
	r := m.SubmitRaw(m.Session, "no-such-job", nonce, result)
	require.NotNil(t, r.Error, r.Raw)
	require.NotZero(t, r.ErrCode())
	r = m.SubmitRaw("not-my-session", m.Job.JobID, nonce, result)
	require.NotNil(t, r.Error, r.Raw)
	require.Equal(t, int64(2), pool.Stats().Rejected)
	require.Nil(t, m.Submit().Error, "the session goes on")
}

// ReadReply skips job notifications (recording the job) until the answer.
func TestCN_ReadReply_Good(t *testing.T) {
	pool := startCNPool(t, mockpool.Config{})
	m := DialCN(t, pool.Addr())
	require.Nil(t, m.Login("WALLET").Error)
	first := m.Job
	job := pool.BroadcastJob()
	require.NotEqual(t, first.JobID, job.JobID)
	m.Send(`{"id":"k1","method":"keepalived","params":{"id":"` + m.Session + `"}}`)
	r := m.ReadReply()
	require.Equal(t, `"k1"`, string(r.ID))
	require.Equal(t, "KEEPALIVED", r.Result.Status)
	require.Equal(t, job.JobID, m.Job.JobID, "the notification on the way was applied")

	// Read returns notifications themselves.
	job = pool.BroadcastJob()
	r = m.Read()
	require.Equal(t, "job", r.Method)
	require.Equal(t, job.JobID, r.Params.JobID)
	require.Equal(t, job.JobID, m.Job.JobID)
	require.Nil(t, m.Submit().Error, "a share for the new job")
}

func TestCN_ExpectClosed_Good(t *testing.T) {
	pool := startCNPool(t, mockpool.Config{})
	m := DialCN(t, pool.Addr())
	require.Nil(t, m.Login("WALLET").Error)
	pool.DropConnections()
	m.ExpectClosed()
	_, err := m.ReadLineBy(deadline(t))
	require.Error(t, err)
}

func TestCN_TLS_Good(t *testing.T) {
	pool := startCNPool(t, mockpool.Config{TLS: &tls.Config{Certificates: []tls.Certificate{SelfSignedCert(t)}}})
	m := DialCN(t, pool.Addr(), WithTLS(&tls.Config{InsecureSkipVerify: true}))
	_, isTLS := m.Conn.(*tls.Conn)
	require.True(t, isTLS)
	require.Nil(t, m.Login("WALLET").Error)
	require.Nil(t, m.Submit().Error)

	// The same over a connection the test made itself.
	c, err := tls.Dial("tcp", pool.Addr(), &tls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	defer c.Close()
	w := NewCN(t, c, WithReadBuffer(512))
	require.Nil(t, w.Login("WALLET").Error)
	require.Nil(t, w.Submit().Error)
	require.NoError(t, pool.WaitFor(waitCtx(t), func(s mockpool.Stats) bool { return s.Accepted == 2 }))
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	t.Cleanup(cancel)
	return ctx
}
