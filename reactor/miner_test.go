package reactor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/stratum"
)

func TestMiner_Framing_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	p, addr := startProxy(t, baseConfig(pool.Addr()))

	m := dialMiner(t, addr)
	m.send("GET / HTTP/1.1")
	m.expectClosed()

	m = dialMiner(t, addr)
	_, err := m.c.Write([]byte("{" + strings.Repeat("x", stratum.MaxLineSize+10)))
	require.NoError(t, err)
	m.expectClosed()

	m = dialMiner(t, addr)
	m.send(`{"id":1,"method":"login","params":{"login":"W"`) // truncated JSON object
	m.expectClosed()

	// A good miner next to them is unaffected.
	good := dialMiner(t, addr)
	require.Nil(t, good.login("WALLET").Error)
	require.Nil(t, good.submit().Error)
	eventually(t, func() bool { return p.Summary().Counters.BadLines >= 3 }, "bad lines counted")
}

func TestMiner_Requests_Ugly(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	_, addr := startProxy(t, baseConfig(pool.Addr()))
	m := dialMiner(t, addr)
	// Before login: unknown methods and submits are answered, not fatal.
	m.send(`{"id":1,"method":"getjob","params":{}}`)
	r := m.readReply()
	require.Equal(t, stratum.MsgInvalidMethod, r.Error.Message)
	m.send(`{"id":2,"method":"submit","params":{"id":"x","job_id":"j","nonce":"00000000","result":"` + strings.Repeat("0", 64) + `"}}`)
	require.Equal(t, stratum.MsgUnauthenticated, m.readReply().Error.Message)
	m.send(`{"id":1.5,"method":"keepalived"}`)
	r = m.readReply()
	require.Equal(t, "null", string(r.ID))
	require.Equal(t, stratum.MsgInvalidRequest, r.Error.Message)
	m.send(`{"id":"k1","method":"keepalived","params":{"id":"x"}}`)
	r = m.readReply()
	require.Equal(t, `"k1"`, string(r.ID))
	require.Equal(t, "KEEPALIVED", r.Result.Status)
	m.send("")
	m.send("   ")
	require.Nil(t, m.login("WALLET").Error, "blank lines are ignored")
	// A second login is refused; the session continues.
	m.send(`{"id":9,"method":"login","params":{"login":"W2"}}`)
	require.Equal(t, msgAlreadyLoggedIn, m.readReply().Error.Message)
	require.Nil(t, m.submit().Error)
}

func TestMiner_Login_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	cfg.AccessPassword = "secret"
	_, addr := startProxy(t, cfg)

	m := dialMiner(t, addr)
	m.send(`{"id":1,"method":"login","params":{"login":"","pass":"secret"}}`)
	require.Equal(t, stratum.MsgInvalidAddress, m.readReply().Error.Message)
	m.expectClosed()

	m = dialMiner(t, addr)
	m.send(`{"id":1,"method":"login","params":{"login":"W","pass":"wrong"}}`)
	require.Equal(t, stratum.MsgInvalidPassword, m.readReply().Error.Message)
	m.expectClosed()

	m = dialMiner(t, addr)
	m.send(`{"id":1,"method":"login","params":{"login":"W","pass":"secret"}}`)
	require.Nil(t, m.readReply().Error)
}

func TestMiner_Timeouts_Ugly(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	cfg := baseConfig(pool.Addr())
	cfg.LoginTimeout = 1
	cfg.IdleTimeout = 2
	p, addr := startProxy(t, cfg)
	silent := dialMiner(t, addr)
	silent.expectClosed() // never logged in: closed after the login timeout
	idle := dialMiner(t, addr)
	require.Nil(t, idle.login("WALLET").Error)
	idle.expectClosed() // logged in, then silent past the idle timeout
	eventually(t, func() bool {
		c := p.Summary().Counters
		return c.LoginTimeouts >= 1 && c.IdleTimeouts >= 1
	}, "timeouts counted")
}

func TestMiner_Submit_Bad(t *testing.T) {
	pool := startPool(t, mockpool.Config{Difficulty: 1000})
	p, addr := startProxy(t, baseConfig(pool.Addr()))
	m := dialMiner(t, addr)
	require.Nil(t, m.login("WALLET").Error)
	nonce, result := m.share()
	for _, c := range []struct{ jobID, nonce, result, want string }{
		{"", nonce, result, stratum.MsgMissingJobID},
		{"nope", nonce, result, stratum.MsgInvalidJobID},
		{m.job.JobID, "DEADBEEF", result, stratum.MsgInvalidNonce},
		{m.job.JobID, nonce[:6] + "ff", result, stratum.MsgNiceHashNonce},
		{m.job.JobID, nonce, strings.Repeat("f", 64), stratum.MsgLowDifficulty},
		{m.job.JobID, nonce, "abc", stratum.MsgLowDifficulty},
	} {
		if c.want == stratum.MsgNiceHashNonce && m.fixedByte() == 0xff {
			c.nonce = nonce[:6] + "fe"
		}
		r := m.submitRaw(m.session, c.jobID, c.nonce, c.result)
		require.NotNil(t, r.Error, c.want)
		require.Equal(t, c.want, r.Error.Message)
	}
	require.Zero(t, pool.Stats().Submits, "no invalid share reached the pool")
	eventually(t, func() bool { return p.Summary().Counters.Invalid == 6 }, "invalid shares counted")
}

func TestMiner_Submit_Ugly(t *testing.T) {
	// The previous job is still accepted (and counted expired); older ones
	// are refused.
	pool := startPool(t, mockpool.Config{})
	p, addr := startProxy(t, baseConfig(pool.Addr()))
	m := dialMiner(t, addr)
	require.Nil(t, m.login("WALLET").Error)
	first := m.job
	pool.BroadcastJob()
	require.Equal(t, "job", m.read().Method)
	nonce, result := m.share()
	r := m.submitRaw(m.session, first.JobID, nonce, result)
	require.Nil(t, r.Error, r.raw)
	pool.BroadcastJob()
	require.Equal(t, "job", m.read().Method)
	nonce, result = m.share()
	r = m.submitRaw(m.session, first.JobID, nonce, result)
	require.Equal(t, stratum.MsgInvalidJobID, r.Error.Message)
	eventually(t, func() bool { return p.Summary().Counters.Expired == 1 }, "expired share counted")
}

func TestCustomDiff_Submit_Good(t *testing.T) {
	// WALLET+1000 on a pool at 100000: the miner gets target 1000; shares
	// between 1000 and 100000 are answered locally and not forwarded.
	pool := startPool(t, mockpool.Config{Difficulty: 100000})
	p, addr := startProxy(t, baseConfig(pool.Addr()))
	m := dialMiner(t, addr)
	r := m.login("WALLET+1000")
	require.Nil(t, r.Error)
	require.Equal(t, stratum.TargetFromDifficulty(1000), m.job.Target)
	require.Nil(t, m.submit().Error)
	require.Zero(t, pool.Stats().Submits)
	eventually(t, func() bool { return p.Summary().Counters.CustomAccepted == 1 }, "custom accept counted")
}
