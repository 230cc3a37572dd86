package upstream

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/stratum"
)

type tag struct{ miner int }

func testJob(id string) stratum.Job {
	return stratum.Job{Blob: strings.Repeat("07", 76), JobID: id, Target: "b88d0600", Algo: "rx/0"}
}

func loginReply(id uint64, session string, j stratum.Job) []byte {
	rid := stratum.NumericID(id)
	return stratum.AppendLoginReply(nil, &rid, []byte(session), &j, stratum.JobOptions{FixedByte: -1, Algo: true}, 0)
}

func loggedIn(t *testing.T) (*CNClient[tag], *fastjson.Parser) {
	t.Helper()
	c := NewCNClient[tag](stratum.PoolLogin{Login: "W", Pass: "x", Agent: "go-proxy"}, 4)
	var p fastjson.Parser
	line := c.AppendLogin(nil, 1)
	require.Contains(t, string(line), `"method":"login"`)
	var ev CNEvent[tag]
	require.NoError(t, c.Handle(&p, loginReply(1, "PS", testJob("j1")), 2, &ev))
	require.Equal(t, CNLogin, ev.Kind)
	require.Equal(t, "j1", ev.Job.JobID)
	require.True(t, c.Ready())
	require.Equal(t, "PS", c.Session())
	return c, &p
}

func TestCNClient_Submit_Good(t *testing.T) {
	c, p := loggedIn(t)
	line, _, ev := c.AppendSubmit(nil, tag{7}, []byte("j1"), []byte("0000002a"), []byte(strings.Repeat("0", 64)), nil, 10)
	require.False(t, ev)
	require.Contains(t, string(line), `"id":2,`)
	require.Contains(t, string(line), `"params":{"id":"PS","job_id":"j1"`)
	var e CNEvent[tag]
	require.NoError(t, c.Handle(p, []byte(`{"id":2,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`), 30, &e))
	require.Equal(t, CNResult, e.Kind)
	require.True(t, e.Accepted)
	require.Equal(t, tag{7}, e.Pending.Tag)
	require.Equal(t, int64(10), e.Pending.Sent)
	require.Zero(t, c.InFlight())
}

func TestCNClient_Submit_Bad(t *testing.T) {
	c, p := loggedIn(t)
	c.AppendSubmit(nil, tag{1}, []byte("j1"), []byte("00000000"), []byte(strings.Repeat("0", 64)), nil, 10)
	var e CNEvent[tag]
	require.NoError(t, c.Handle(p, []byte(`{"id":2,"error":{"code":-1,"message":"Low difficulty share"}}`), 20, &e))
	require.Equal(t, CNResult, e.Kind)
	require.False(t, e.Accepted)
	require.Equal(t, "Low difficulty share", string(e.Message))
	// A second answer to the same id, or one to an id never sent, is ignored.
	require.NoError(t, c.Handle(p, []byte(`{"id":2,"result":{"status":"OK"}}`), 21, &e))
	require.Equal(t, CNNothing, e.Kind)
	require.NoError(t, c.Handle(p, []byte(`{"id":999,"result":{"status":"OK"}}`), 21, &e))
	require.Equal(t, CNNothing, e.Kind)
}

func TestCNClient_Submit_Ugly(t *testing.T) {
	// A pool that stops answering: ring eviction, expiry, drain.
	c, _ := loggedIn(t)
	var evicted []int
	for i := 0; i < 6; i++ {
		_, e, ok := c.AppendSubmit(nil, tag{i}, []byte("j1"), []byte("00000000"), []byte(strings.Repeat("0", 64)), nil, int64(100+i))
		if ok {
			evicted = append(evicted, e.Tag.miner)
		}
	}
	require.Equal(t, []int{0, 1}, evicted, "ring of 4: the two oldest are pushed out")
	require.Equal(t, 4, c.InFlight())
	var expired []int
	c.Expire(104, func(p Pending[tag]) { expired = append(expired, p.Tag.miner) })
	require.ElementsMatch(t, []int{2, 3}, expired)
	require.True(t, c.Stalled(1_000, 100), "pool silent with submits waiting")
	var drained []int
	c.Drain(func(p Pending[tag]) { drained = append(drained, p.Tag.miner) })
	require.ElementsMatch(t, []int{4, 5}, drained)
	require.Zero(t, c.InFlight())
}

func TestCNClient_Stalled_Ugly(t *testing.T) {
	// The reactor expires submits after the submit timeout (10 s), before
	// the pool timeout (20 s) is reached: a pool that answers nothing must
	// still count as stalled once its owed answers are older than that.
	c, _ := loggedIn(t)
	var p fastjson.Parser
	var ev CNEvent[tag]
	c.AppendSubmit(nil, tag{1}, []byte("j1"), []byte("00000000"), []byte(strings.Repeat("0", 64)), nil, 100)
	c.Expire(150, func(Pending[tag]) {})
	require.Zero(t, c.InFlight())
	require.False(t, c.Stalled(190, 100))
	require.True(t, c.Stalled(201, 100), "silent since the submit at 100, though nothing is pending")
	// A late answer, to an id already expired, shows the pool is alive.
	require.NoError(t, c.Handle(&p, []byte(`{"id":2,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`), 210, &ev))
	require.Equal(t, CNNothing, ev.Kind)
	require.False(t, c.Stalled(1_000, 100), "nothing owed")
	// An idle connection: a keepalived owes an answer too (half-open link).
	require.NotEmpty(t, c.AppendKeepalive(nil, 2_000, 60))
	require.True(t, c.Stalled(2_101, 100))
	require.NoError(t, c.Handle(&p, []byte(`{"id":3,"jsonrpc":"2.0","error":null,"result":{"status":"KEEPALIVED"}}`), 2_102, &ev))
	require.False(t, c.Stalled(2_300, 100))
}

func TestCNClient_Login_Bad(t *testing.T) {
	c := NewCNClient[tag](stratum.PoolLogin{Login: "W"}, 4)
	var p fastjson.Parser
	c.AppendLogin(nil, 1)
	var ev CNEvent[tag]
	err := c.Handle(&p, []byte(`{"id":1,"jsonrpc":"2.0","error":{"code":-1,"message":"Invalid payment address provided"}}`), 2, &ev)
	require.ErrorIs(t, err, ErrLoginRefused)
	require.Equal(t, "Invalid payment address provided", string(ev.Message))

	for _, reply := range [][]byte{
		[]byte(`{"id":1,"result":{"status":"OK"}}`),                             // no job, no session
		loginReply(1, "", testJob("j")),                                         // no session id
		loginReply(1, `bad"id`, testJob("j")),                                   // session id that is not a token
		[]byte(`{"id":1,"result":{"id":"S","job":{"blob":"zz","job_id":"j"}}}`), // invalid job
		[]byte(`not json`),
	} {
		c := NewCNClient[tag](stratum.PoolLogin{Login: "W"}, 4)
		c.AppendLogin(nil, 1)
		require.ErrorIs(t, c.Handle(&p, reply, 2, &ev), ErrProtocol, string(reply))
		require.False(t, c.Ready())
	}
}

func TestCNClient_Login_Ugly(t *testing.T) {
	// A pool that accepts TCP and never answers the login is stalled.
	c := NewCNClient[tag](stratum.PoolLogin{Login: "W"}, 4)
	c.AppendLogin(nil, 100)
	require.False(t, c.Stalled(150, 100))
	require.True(t, c.Stalled(201, 100))
	// Jobs before login are a protocol violation.
	var p fastjson.Parser
	var ev CNEvent[tag]
	j := testJob("j")
	err := c.Handle(&p, stratum.AppendJobNotify(nil, &j, []byte("S"), stratum.JobOptions{FixedByte: -1}), 101, &ev)
	require.ErrorIs(t, err, ErrProtocol)
}

func TestCNClient_Job_Good(t *testing.T) {
	c, p := loggedIn(t)
	j := testJob("j2")
	var ev CNEvent[tag]
	require.NoError(t, c.Handle(p, stratum.AppendJobNotify(nil, &j, []byte("PS"), stratum.JobOptions{FixedByte: -1, Algo: true}), 5, &ev))
	require.Equal(t, CNJob, ev.Kind)
	require.Equal(t, j, ev.Job)
	err := c.Handle(p, []byte(`{"jsonrpc":"2.0","method":"job","params":{"blob":"xyz","job_id":"j3","target":"b88d0600"}}`), 6, &ev)
	require.True(t, errors.Is(err, stratum.ErrInvalidJob), "an invalid job is dropped but the connection lives")
	require.Equal(t, CNNothing, ev.Kind)
	require.NoError(t, c.Handle(p, []byte(`{"jsonrpc":"2.0","method":"client.reconnect","params":["other",3334,2]}`), 7, &ev))
	require.Equal(t, CNReconnect, ev.Kind)
	require.Equal(t, "other", string(ev.Host))
	require.Equal(t, 3334, ev.Port)
}

func TestCNClient_Keepalive_Good(t *testing.T) {
	c, _ := loggedIn(t)
	require.Empty(t, c.AppendKeepalive(nil, 50, 60), "not idle long enough")
	line := c.AppendKeepalive(nil, 100, 60)
	require.Contains(t, string(line), `"method":"keepalived","params":{"id":"PS"}`)
	require.Empty(t, c.AppendKeepalive(nil, 120, 60))
}
