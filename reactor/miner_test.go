package reactor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/stratum"
)

func TestMiner_Framing_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	p, addr := startProxy(t, baseConfig(pool.Addr()))

	m := testminer.DialCN(t, addr)
	m.Send("GET / HTTP/1.1")
	m.ExpectClosed()

	m = testminer.DialCN(t, addr)
	_, err := m.Conn.Write([]byte("{" + strings.Repeat("x", stratum.MaxLineSize+10)))
	require.NoError(t, err)
	m.ExpectClosed()

	m = testminer.DialCN(t, addr)
	m.Send(`{"id":1,"method":"login","params":{"login":"W"`) // truncated JSON object
	m.ExpectClosed()

	// A good miner next to them is unaffected.
	good := testminer.DialCN(t, addr)
	require.Nil(t, good.Login("WALLET").Error)
	require.Nil(t, good.Submit().Error)
	testutil.Eventually(t, func() bool { return p.Summary().Counters.BadLines >= 3 }, "bad lines counted")
}

func TestMiner_Requests_Ugly(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	_, addr := startProxy(t, baseConfig(pool.Addr()))
	m := testminer.DialCN(t, addr)
	// Before login: unknown methods and submits are answered, not fatal.
	m.Send(`{"id":1,"method":"getjob","params":{}}`)
	r := m.ReadReply()
	require.Equal(t, stratum.MsgInvalidMethod, r.Error.Message)
	m.Send(`{"id":2,"method":"submit","params":{"id":"x","job_id":"j","nonce":"00000000","result":"` + strings.Repeat("0", 64) + `"}}`)
	require.Equal(t, stratum.MsgUnauthenticated, m.ReadReply().Error.Message)
	m.Send(`{"id":1.5,"method":"keepalived"}`)
	r = m.ReadReply()
	require.Equal(t, "null", string(r.ID))
	require.Equal(t, stratum.MsgInvalidRequest, r.Error.Message)
	m.Send(`{"id":"k1","method":"keepalived","params":{"id":"x"}}`)
	r = m.ReadReply()
	require.Equal(t, `"k1"`, string(r.ID))
	require.Equal(t, "KEEPALIVED", r.Result.Status)
	m.Send("")
	m.Send("   ")
	require.Nil(t, m.Login("WALLET").Error, "blank lines are ignored")
	// A second login is refused; the session continues.
	m.Send(`{"id":9,"method":"login","params":{"login":"W2"}}`)
	require.Equal(t, msgAlreadyLoggedIn, m.ReadReply().Error.Message)
	require.Nil(t, m.Submit().Error)
}

func TestMiner_Login_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	cfg.AccessPassword = "secret"
	_, addr := startProxy(t, cfg)

	m := testminer.DialCN(t, addr)
	m.Send(`{"id":1,"method":"login","params":{"login":"","pass":"secret"}}`)
	require.Equal(t, stratum.MsgInvalidAddress, m.ReadReply().Error.Message)
	m.ExpectClosed()

	m = testminer.DialCN(t, addr)
	m.Send(`{"id":1,"method":"login","params":{"login":"W","pass":"wrong"}}`)
	require.Equal(t, stratum.MsgInvalidPassword, m.ReadReply().Error.Message)
	m.ExpectClosed()

	m = testminer.DialCN(t, addr)
	m.Send(`{"id":1,"method":"login","params":{"login":"W","pass":"secret"}}`)
	require.Nil(t, m.ReadReply().Error)
}

func TestMiner_Timeouts_Ugly(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	cfg.LoginTimeout = 1
	cfg.IdleTimeout = 2
	p, addr := startProxy(t, cfg)
	silent := testminer.DialCN(t, addr)
	silent.ExpectClosed() // never logged in: closed after the login timeout
	idle := testminer.DialCN(t, addr)
	require.Nil(t, idle.Login("WALLET").Error)
	idle.ExpectClosed() // logged in, then silent past the idle timeout
	testutil.Eventually(t, func() bool {
		c := p.Summary().Counters
		return c.LoginTimeouts >= 1 && c.IdleTimeouts >= 1
	}, "timeouts counted")
}

func TestMiner_Submit_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{Difficulty: 1000})
	p, addr := startProxy(t, baseConfig(pool.Addr()))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	nonce, result := m.Share()
	for _, c := range []struct{ jobID, nonce, result, want string }{
		{"", nonce, result, stratum.MsgMissingJobID},
		{"nope", nonce, result, stratum.MsgInvalidJobID},
		{m.Job.JobID, "DEADBEEF", result, stratum.MsgInvalidNonce},
		{m.Job.JobID, nonce[:6] + "ff", result, stratum.MsgNiceHashNonce},
		{m.Job.JobID, nonce, strings.Repeat("f", 64), stratum.MsgLowDifficulty},
		{m.Job.JobID, nonce, "abc", stratum.MsgLowDifficulty},
	} {
		if c.want == stratum.MsgNiceHashNonce && m.FixedByte() == 0xff {
			c.nonce = nonce[:6] + "fe"
		}
		r := m.SubmitRaw(m.Session, c.jobID, c.nonce, c.result)
		require.NotNil(t, r.Error, c.want)
		require.Equal(t, c.want, r.Error.Message)
	}
	require.Zero(t, pool.Stats().Submits, "no invalid share reached the pool")
	testutil.Eventually(t, func() bool { return p.Summary().Counters.Invalid == 6 }, "invalid shares counted")
}

func TestMiner_Submit_Ugly(t *testing.T) {
	// The previous job is still accepted (and counted expired); older ones
	// are refused.
	pool := startPool(t, mockpool.Config{})
	p, addr := startProxy(t, baseConfig(pool.Addr()))
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	first := m.Job
	pool.BroadcastJob()
	require.Equal(t, "job", m.Read().Method)
	nonce, result := m.Share()
	r := m.SubmitRaw(m.Session, first.JobID, nonce, result)
	require.Nil(t, r.Error, r.Raw)
	pool.BroadcastJob()
	require.Equal(t, "job", m.Read().Method)
	nonce, result = m.Share()
	r = m.SubmitRaw(m.Session, first.JobID, nonce, result)
	require.Equal(t, stratum.MsgInvalidJobID, r.Error.Message)
	testutil.Eventually(t, func() bool { return p.Summary().Counters.Expired == 1 }, "expired share counted")
}

func TestCustomDiff_Submit_Good(t *testing.T) {
	// WALLET+1000 on a pool at 100000: the miner gets target 1000; shares
	// between 1000 and 100000 are answered locally and not forwarded.
	pool := startPool(t, mockpool.Config{Difficulty: 100000})
	p, addr := startProxy(t, baseConfig(pool.Addr()))
	m := testminer.DialCN(t, addr)
	r := m.Login("WALLET+1000")
	require.Nil(t, r.Error)
	require.Equal(t, stratum.TargetFromDifficulty(1000), m.Job.Target)
	require.Nil(t, m.Submit().Error)
	require.Zero(t, pool.Stats().Submits)
	testutil.Eventually(t, func() bool { return p.Summary().Counters.CustomAccepted == 1 }, "custom accept counted")
}
