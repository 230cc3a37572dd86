//go:build linux

package sv1swarm

import (
	"bufio"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// badPushes are lines a broken upstream sends after the handshake. None of
// them may close the miner or change what it mines.
var badPushes = []string{
	`{"id":null,"method":"mining.notify","params":["j1","00"]}`,
	`{"id":null,"method":"mining.set_difficulty","params":["x"]}`,
	`{"id":null,"method":"mining.set_difficulty","params":[-1]}`,
	`{"id":null,"method":"mining.set_extranonce","params":["abc",4]}`,
	`{"id":null,"method":"mining.set_extranonce","params":["ab",0]}`,
	`{"id":null,"method":"mining.set_version_mask","params":["zz"]}`,
	`{"id":null,"method":"client.reconnect","params":["bad host",99999]}`,
	`{"id":null,"method":"client.show_message","params":["hello"]}`,
	`{"id":null,"method":"mining.unknown","params":[]}`,
	`{"id":77,"result":true,"error":null}`,
	`{"id":"x","result":[1,2,3],"error":null}`,
	`{"id":null,"result":null,"error":[20,"noise",null]}`,
}

// scriptedUpstream answers the handshake itself, sends the job before the
// difficulty (as some pools do) with bad pushes in between, then checks
// every submit against the job with the stratum hasher.
type scriptedUpstream struct {
	ln          net.Listener
	job         stratum.SV1Job
	bin         *stratum.SV1JobBinary
	diff        float64
	good, bad   atomic.Int64
	wg          sync.WaitGroup
	extranonce1 []byte
}

func startScripted(t *testing.T) *scriptedUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	bin := &stratum.SV1JobBinary{
		Coinb1: []byte{1, 0, 0, 0, 1, 2, 3}, Coinb2: []byte{9, 9, 9},
		Branch: [][32]byte{{1}, {2}}, Version: 0x20000000, NBits: 0x1d00ffff, NTime: 0x65000000,
	}
	u := &scriptedUpstream{ln: ln, bin: bin, job: bin.Job("job-1", true), diff: easyDiff, extranonce1: []byte{0xca, 0xfe}}
	u.wg.Add(1)
	go u.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		u.wg.Wait()
	})
	return u
}

func (u *scriptedUpstream) accept() {
	defer u.wg.Done()
	for {
		conn, err := u.ln.Accept()
		if err != nil {
			return
		}
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			defer conn.Close()
			u.serve(conn)
		}()
	}
}

func (u *scriptedUpstream) serve(conn net.Conn) {
	var (
		parser fastjson.Parser
		req    stratum.SV1Request
		hasher stratum.SV1Hasher
	)
	target, _ := stratum.SV1TargetFromDifficulty(u.diff)
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		if stratum.ParseSV1Request(&parser, line[:len(line)-1], &req) != nil {
			return
		}
		var out []byte
		switch req.Method {
		case stratum.SV1MethodSubscribe:
			out = stratum.AppendSV1SubscribeReply(nil, &req.ID, []byte("s1"), u.extranonce1, 3)
		case stratum.SV1MethodAuthorize:
			out = stratum.AppendSV1BoolReply(nil, &req.ID, true)
			out = stratum.AppendSV1Notify(out, &u.job, true)
			for _, p := range badPushes {
				out = append(out, p+"\n"...)
			}
			out = stratum.AppendSV1SetDifficulty(out, u.diff)
		case stratum.SV1MethodSubmit:
			s := &req.Submit
			var e2buf [16]byte
			ok := s.Validate(3, 0) == nil && string(s.JobID) == u.job.JobID
			if ok {
				e2, _ := stratum.DecodeHex(e2buf[:0], s.Extranonce2)
				hash := hasher.ShareHash(u.bin, u.extranonce1, e2, s.NTimeValue, s.NonceValue, 0, 0)
				ok = target.Meets(&hash)
			}
			if ok {
				u.good.Add(1)
				out = stratum.AppendSV1BoolReply(nil, &req.ID, true)
			} else {
				u.bad.Add(1)
				out = stratum.AppendSV1ErrorReply(nil, &req.ID, stratum.ErrSV1LowDifficulty)
			}
		default:
			out = stratum.AppendSV1ErrorReply(nil, &req.ID, stratum.ErrSV1UnknownMethod)
		}
		if _, err := conn.Write(out); err != nil {
			return
		}
	}
}

func TestSwarm_BrokenUpstream_Ugly(t *testing.T) {
	u := startScripted(t)
	s := startSwarm(t, Config{ProxyAddr: u.ln.Addr().String(), Miners: 3, SharesPerSecond: 60, VersionRolling: true})
	require.NoError(t, s.WaitFor(waitCtx(t), func(st Stats) bool { return st.Accepted >= 30 }))
	st := s.Stats()
	require.Zero(t, u.bad.Load())
	require.Equal(t, 3, st.Authorized, "bad pushes do not close a miner")
	require.Zero(t, st.RollingGranted, "configure answered with an error: no rolling")
	require.Zero(t, st.Rejected)
	require.Equal(t, map[string]int64{
		"protocol: invalid mining.notify":           3,
		"protocol: invalid mining.set_difficulty":   6,
		"protocol: invalid mining.set_extranonce":   6,
		"protocol: invalid mining.set_version_mask": 3,
		"protocol: invalid client.reconnect":        3,
	}, st.Errors)
	require.Zero(t, st.Reconnects)
}
