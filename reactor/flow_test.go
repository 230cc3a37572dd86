package reactor

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/upstream"
)

func rateLimitedShard(t testing.TB, lim SubmitRateLimit) *memShard {
	return newMemShard(t, &Config{SubmitRateLimit: lim, Pools: []upstream.PoolConfig{{URL: "pool:3333", User: "W"}}})
}

func TestSubmitRateLimit_CryptoNote_Good(t *testing.T) {
	ms := rateLimitedShard(t, SubmitRateLimit{PerSecond: 5, Burst: 10, CloseAfter: 100})
	m, sink := ms.addMiner(t, "WALLET")
	for n := range uint32(10) {
		require.True(t, m.handleLine(cnLine(m, "job-1", n)))
		answerOK(t, ms.mp.conn, int(n)+2)
		require.Contains(t, string(sink.last), `"status":"OK"`)
	}
	sent := ms.pool.n
	require.True(t, m.handleLine(cnLine(m, "job-1", 10)))
	require.Contains(t, string(sink.last), `"message":"Share rate limit exceeded"`)
	require.Equal(t, sent, ms.pool.n, "not forwarded")
	// The sweep refills five shares.
	m.refill(5, false)
	for n := range uint32(5) {
		require.True(t, m.handleLine(cnLine(m, "job-1", 20+n)))
	}
	require.Equal(t, sent+5, ms.pool.n, "five more forwarded")
	require.True(t, m.handleLine(cnLine(m, "job-1", 30)))
	require.Contains(t, string(sink.last), `"message":"Share rate limit exceeded"`)
	fc := &ms.s.fc[FamilyCryptoNote]
	require.Equal(t, uint64(2), fc.Throttled)
	require.Zero(t, fc.Invalid, "throttled shares are not invalid ones")
	require.Equal(t, stateReady, m.state, "an occasional excess does not close the miner")
}

// A miner that keeps flooding is disconnected after close-after refusals
// within a minute; a new minute forgets the count.
func TestSubmitRateLimit_Flood_Bad(t *testing.T) {
	ms, mp := newMemShardSV1(t, 1.0/(1<<40))
	ms.s.cfg.SubmitRateLimit = SubmitRateLimit{PerSecond: 1, Burst: 1, CloseAfter: 3}
	m, sink := ms.addSV1Miner(t)
	require.True(t, m.handleLine(sv1Line("job-1", "00000001", "5f5e1000", "00000001")))
	answerOK(t, mp.conn, 5)
	for i := range 2 {
		require.True(t, m.handleLine(sv1Line("job-1", "00000002", "5f5e1000", "00000001")), "refusal %d", i)
		require.Equal(t, `{"id":9,"result":null,"error":[20,"Share rate limit exceeded",null]}`+"\n", string(sink.last))
	}
	m.refill(0, true) // a new minute, no refill
	for range 2 {
		m.handleLine(sv1Line("job-1", "00000002", "5f5e1000", "00000001"))
	}
	require.Equal(t, stateReady, m.state, "the count restarted with the minute")
	m.handleLine(sv1Line("job-1", "00000002", "5f5e1000", "00000001"))
	require.Equal(t, stateClosing, m.state, "closed at the third refusal in a minute")
	require.Equal(t, uint64(5), ms.s.fc[FamilySV1].Throttled)
	require.Equal(t, uint64(1), ms.s.fc[0].FloodClosed)
}

// A pool connection that does not drain holds its miners: their submits
// stay unread (nothing forwarded, nothing evicted as a timeout) until it
// drains, then they are woken and handled.
func TestPoolBackPressure_Hold_Good(t *testing.T) {
	ms := newMemShard(t, nil)
	m, sink := ms.addMiner(t, "WALLET")
	ms.pool.unsent = poolHighWater + 1 // the pool stopped reading
	sent, replies := ms.pool.n, sink.n
	buf := append(append(cnLine(m, "job-1", 1), '\n'), append(cnLine(m, "job-1", 2), '\n')...)
	n, ok := ms.s.feed(m, buf)
	require.True(t, ok)
	require.Zero(t, n, "the submit and what follows stay unread")
	require.True(t, m.held)
	require.Equal(t, sent, ms.pool.n, "nothing forwarded")
	require.Equal(t, replies, sink.n, "nothing answered")
	require.Equal(t, uint64(1), ms.s.fc[FamilyCryptoNote].Held)
	// More input while held is kept too, within maxHeldInput.
	n, ok = ms.s.feed(m, buf)
	require.True(t, ok)
	require.Zero(t, n)
	// Half drained is not enough; below half the miner is woken.
	ms.pool.unsent = poolHighWater/2 + 1
	ms.mp.resumeIfDrained()
	require.True(t, m.held)
	ms.pool.unsent = 0
	ms.mp.resumeIfDrained()
	require.False(t, m.held)
	require.Equal(t, 1, sink.resumed, "the transport was asked to deliver the input again")
	n, ok = ms.s.feed(m, buf)
	require.True(t, ok)
	require.Equal(t, len(buf), n)
	require.Equal(t, sent+2, ms.pool.n, "both shares forwarded")
}

// maxPendingSubmits unanswered submits hold the miners too: the 257th
// share waits instead of evicting the oldest as "Pool timeout".
func TestPoolBackPressure_Pending_Good(t *testing.T) {
	ms, mp := newMemShardSV1(t, 1.0/(1<<40))
	m, sink := ms.addSV1Miner(t)
	var buf []byte
	for i := range maxPendingSubmits + 10 {
		buf = append(buf, sv1Line("job-1", string(hex8(uint32(i))), "5f5e1000", "00000001")...)
		buf = append(buf, '\n')
	}
	n, ok := ms.s.feed(m, buf)
	require.True(t, ok)
	require.True(t, m.held)
	require.Equal(t, maxPendingSubmits, mp.conn.proto.InFlight())
	require.Equal(t, maxPendingSubmits*(len(buf)/(maxPendingSubmits+10)), n, "the first 256 handled, the rest unread")
	require.Zero(t, ms.s.fc[FamilySV1].Timeouts)
	require.NotContains(t, string(sink.last), "Pool timeout")
	for id := 5; id < 5+maxPendingSubmits/2; id++ {
		answerOK(t, mp.conn, id)
	}
	require.False(t, m.held, "the pool answered half: the miner is woken")
	n2, ok := ms.s.feed(m, buf[n:])
	require.True(t, ok)
	require.Equal(t, len(buf)-n, n2)
	require.Equal(t, maxPendingSubmits/2+10, mp.conn.proto.InFlight())
}

// A held miner that keeps sending is disconnected beyond maxHeldInput.
func TestPoolBackPressure_Hold_Ugly(t *testing.T) {
	ms := newMemShard(t, nil)
	m, _ := ms.addMiner(t, "WALLET")
	ms.pool.unsent = poolHighWater + 1
	line := append(cnLine(m, "job-1", 1), '\n')
	_, ok := ms.s.feed(m, line)
	require.True(t, ok)
	require.True(t, m.held)
	_, ok = ms.s.feed(m, bytes.Repeat(line, maxHeldInput/len(line)+1))
	require.False(t, ok, "closed")
	require.Equal(t, uint64(1), ms.s.fc[0].HeldClosed)
	// A closed miner is not woken.
	ms.pool.unsent = 0
	m.state = stateClosed
	ms.mp.resumeIfDrained()
	require.Empty(t, ms.mp.held)
}

func hex8(v uint32) []byte {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return b
}

func TestSubmitRateLimit_Config_Good(t *testing.T) {
	cfg, _, err := ParseConfig([]byte(`{"pools":[{"url":"pool:3333","user":"W"}]}`))
	require.NoError(t, err)
	require.Equal(t, SubmitRateLimit{PerSecond: 50, Burst: 100, CloseAfter: 1000}, cfg.SubmitRateLimit, "generous defaults")
	cfg, _, err = ParseConfig([]byte(`{"pools":[{"url":"pool:3333","user":"W"}],"submit-rate-limit":{"shares-per-second":500,"burst":2000,"close-after":10}}`))
	require.NoError(t, err)
	require.Equal(t, SubmitRateLimit{PerSecond: 500, Burst: 2000, CloseAfter: 10}, cfg.SubmitRateLimit)
}

func TestSubmitRateLimit_Config_Bad(t *testing.T) {
	for _, key := range []string{"shares-per-second", "burst", "close-after"} {
		_, _, err := ParseConfig([]byte(`{"pools":[{"url":"pool:3333","user":"W"}],"submit-rate-limit":{"` + key + `":-1}}`))
		require.ErrorContains(t, err, "submit-rate-limit."+key)
	}
	_, _, err := ParseConfig([]byte(`{"pools":[{"url":"pool:3333","user":"W"}],"submit-rate-limit":{"per-second":5}}`))
	require.ErrorContains(t, err, "per-second", "unknown keys are named")
}
