package upstream

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/stratum"
)

const sv1Notify = `{"id":null,"method":"mining.notify","params":["j1","` +
	`00000000000000000000000000000000000000000000000000000000000000aa","01000000010000","ffffffff01",[],"20000000","1d00ffff","5f5e1000",true]}`

func sv1Client(t *testing.T) (*SV1Client[tag], *fastjson.Parser, string) {
	t.Helper()
	c := NewSV1Client[tag](SV1Login{User: "acct", Pass: "x", Agent: "go-proxy", VersionMask: 0x1fffe000, ExtranonceSubscribe: true}, 4)
	hs := string(c.AppendHandshake(nil, 1))
	return c, new(fastjson.Parser), hs
}

func TestSV1Client_Handshake_Good(t *testing.T) {
	c, p, hs := sv1Client(t)
	lines := strings.Split(strings.TrimSpace(hs), "\n")
	require.Len(t, lines, 4)
	require.Contains(t, lines[0], `"mining.configure"`)
	require.Contains(t, lines[1], `"mining.subscribe"`)
	require.Contains(t, lines[2], `"mining.extranonce.subscribe"`)
	require.Contains(t, lines[3], `"mining.authorize","params":["acct","x"]`)
	var ev SV1Event[tag]
	require.NoError(t, c.Handle(p, []byte(`{"id":1,"result":{"version-rolling":true,"version-rolling.mask":"1fffe000"},"error":null}`), 2, &ev))
	require.NoError(t, c.Handle(p, []byte(`{"id":2,"result":[[["mining.notify","s1"]],"0800001a",8],"error":null}`), 2, &ev))
	require.Equal(t, SV1Nothing, ev.Kind)
	// Work before the authorize answer is kept for later.
	require.NoError(t, c.Handle(p, []byte(`{"id":null,"method":"mining.set_difficulty","params":[512]}`), 2, &ev))
	require.NoError(t, c.Handle(p, []byte(sv1Notify), 2, &ev))
	require.Equal(t, SV1Nothing, ev.Kind)
	require.NoError(t, c.Handle(p, []byte(`{"id":3,"result":true,"error":null}`), 3, &ev))
	require.NoError(t, c.Handle(p, []byte(`{"id":4,"result":true,"error":null}`), 3, &ev))
	require.Equal(t, SV1Ready, ev.Kind)
	require.Equal(t, []byte{0x08, 0, 0, 0x1a}, ev.Extranonce1)
	require.Equal(t, 8, ev.Size)
	require.Equal(t, float64(512), ev.Difficulty)
	require.Equal(t, uint32(0x1fffe000), ev.VersionMask)
	require.True(t, ev.HasJob)
	require.Equal(t, "j1", ev.Job.JobID)
	require.True(t, c.Ready())
	require.Equal(t, "s1", c.Session())
}

func TestSV1Client_Submit_Good(t *testing.T) {
	c := readySV1(t)
	var p fastjson.Parser
	s := stratum.SV1Submit{JobID: []byte("j1"), Extranonce2: []byte("0001"), NTime: []byte("5f5e1000"), Nonce: []byte("0000abcd")}
	line, _, ev := c.AppendSubmit(nil, tag{3}, []byte{0x02, 0x01}, &s, 10)
	require.False(t, ev)
	require.Equal(t, `{"id":4,"method":"mining.submit","params":["acct","j1","02010001","5f5e1000","0000abcd"]}`+"\n", string(line))
	var e SV1Event[tag]
	require.NoError(t, c.Handle(&p, []byte(`{"id":4,"result":true,"error":null}`), 11, &e))
	require.Equal(t, SV1Result, e.Kind)
	require.True(t, e.Accepted)
	require.Equal(t, tag{3}, e.Pending.Tag)
	c.AppendSubmit(nil, tag{4}, nil, &s, 12)
	require.NoError(t, c.Handle(&p, []byte(`{"id":5,"result":null,"error":[23,"Low difficulty share",null]}`), 13, &e))
	require.False(t, e.Accepted)
	require.Equal(t, 23, e.Code)
	require.Equal(t, "Low difficulty share", string(e.Message))
}

func TestSV1Client_Login_Bad(t *testing.T) {
	c := NewSV1Client[tag](SV1Login{User: "u"}, 4)
	c.AppendHandshake(nil, 1)
	var p fastjson.Parser
	var ev SV1Event[tag]
	require.NoError(t, c.Handle(&p, []byte(`{"id":1,"result":[[],"00",4],"error":null}`), 2, &ev))
	err := c.Handle(&p, []byte(`{"id":2,"result":false,"error":[24,"Unauthorized worker",null]}`), 2, &ev)
	require.ErrorIs(t, err, ErrLoginRefused)
	c = NewSV1Client[tag](SV1Login{User: "u"}, 4)
	c.AppendHandshake(nil, 1)
	require.ErrorIs(t, c.Handle(&p, []byte(`{"id":1,"result":true,"error":null}`), 2, &ev), ErrProtocol, "a subscribe answer must carry extranonce1 and size")
	require.ErrorIs(t, c.Handle(&p, []byte(`garbage`), 2, &ev), ErrProtocol)
	require.True(t, c.Stalled(1+100, 50), "no answer to the handshake")
}

func TestSV1Client_Notifications_Ugly(t *testing.T) {
	c := readySV1(t)
	var p fastjson.Parser
	var ev SV1Event[tag]
	require.NoError(t, c.Handle(&p, []byte(`{"id":null,"method":"mining.set_extranonce","params":["abcdef01",6]}`), 5, &ev))
	require.Equal(t, SV1Extranonce, ev.Kind)
	require.Equal(t, []byte{0xab, 0xcd, 0xef, 0x01}, ev.Extranonce1)
	require.Equal(t, 6, c.Extranonce2Size())
	require.ErrorIs(t, c.Handle(&p, []byte(`{"id":null,"method":"mining.set_extranonce","params":["zz",6]}`), 5, &ev), ErrProtocol)
	require.NoError(t, c.Handle(&p, []byte(`{"id":null,"method":"mining.set_version_mask","params":["00ffe000"]}`), 5, &ev))
	require.Equal(t, SV1VersionMask, ev.Kind)
	require.Equal(t, uint32(0x00ffe000), ev.VersionMask)
	require.NoError(t, c.Handle(&p, []byte(`{"id":null,"method":"mining.set_difficulty","params":[-1]}`), 5, &ev))
	require.Equal(t, SV1Nothing, ev.Kind, "an unusable difficulty is ignored")
	require.NoError(t, c.Handle(&p, []byte(`{"id":null,"method":"client.reconnect","params":["h",3333,5]}`), 5, &ev))
	require.Equal(t, SV1Reconnect, ev.Kind)
	require.Equal(t, 3333, ev.Port)
	err := c.Handle(&p, []byte(`{"id":null,"method":"mining.notify","params":["j2","zz"]}`), 5, &ev)
	require.ErrorIs(t, err, stratum.ErrInvalidJob)
}

func readySV1(t *testing.T) *SV1Client[tag] {
	t.Helper()
	c := NewSV1Client[tag](SV1Login{User: "acct", Pass: "x", VersionMask: 0x1fffe000}, 4)
	c.AppendHandshake(nil, 1)
	var p fastjson.Parser
	var ev SV1Event[tag]
	require.NoError(t, c.Handle(&p, []byte(`{"id":1,"result":{"version-rolling":true,"version-rolling.mask":"1fffe000"},"error":null}`), 2, &ev))
	require.NoError(t, c.Handle(&p, []byte(`{"id":2,"result":[[],"0800001a",8],"error":null}`), 2, &ev))
	require.NoError(t, c.Handle(&p, []byte(`{"id":3,"result":true,"error":null}`), 2, &ev))
	require.Equal(t, SV1Ready, ev.Kind)
	c.nextID = 4
	return c
}

func TestSV1Client_Stalled_Ugly(t *testing.T) {
	// Submits expired locally still leave the pool owing an answer.
	c := readySV1(t)
	var p fastjson.Parser
	var ev SV1Event[tag]
	require.False(t, c.Stalled(1_000, 60), "ready, nothing owed")
	s := stratum.SV1Submit{JobID: []byte("j1"), Extranonce2: []byte("0001"), NTime: []byte("5f5e1000"), Nonce: []byte("0000abcd")}
	c.AppendSubmit(nil, tag{1}, []byte{0x02, 0x01}, &s, 1_000)
	c.Expire(1_030, func(Pending[tag]) {})
	require.False(t, c.Stalled(1_050, 60))
	require.True(t, c.Stalled(1_061, 60), "silent since the submit, though nothing is pending")
	require.NoError(t, c.Handle(&p, []byte(`{"id":4,"result":true,"error":null}`), 1_070, &ev))
	require.Equal(t, SV1Nothing, ev.Kind, "the answer to an expired submit goes nowhere")
	require.False(t, c.Stalled(5_000, 60), "but shows the pool is alive")
}
