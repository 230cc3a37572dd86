package sv1pool

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/internal/poolserver"
	"forge.lthn.ai/core/go-proxy/bench/internal/pooltest"
	"forge.lthn.ai/core/go-proxy/stratum"
)

func TestPool_Handshake_Good(t *testing.T) {
	p := startPool(t, Config{Seed: 1})
	c := dial(t, p)
	id := c.ID()
	c.Send(stratum.AppendSV1PoolSubscribe(nil, id, "cpuminer/2.5.1", ""))
	line := c.ReadLine()
	sessions := p.Sessions()
	require.Len(t, sessions, 1)
	sid := sessions[0].ID
	require.Equal(t, `{"id":1,"result":[[["mining.set_difficulty","`+sid+`"],["mining.notify","`+sid+
		`"]],"00000001",8],"error":null}`, line)

	m := c.authorize("acct.rig1")
	require.Nil(t, m.Error)
	require.True(t, m.ResultBool)
	require.Equal(t, `{"id":null,"method":"mining.set_difficulty","params":[1.52587890625e-05]}`, c.ReadLine())
	job := c.readJob()
	require.True(t, job.IsValid())
	require.True(t, job.CleanJobs)
	require.Equal(t, p.CurrentJob(), job)
	require.Equal(t, "20000000", job.Version)
	require.Equal(t, "17034219", job.NBits)
	require.LessOrEqual(t, len(job.MerkleBranch), 4)
	require.Len(t, job.JobID, 16)
	bin, err := job.Binary()
	require.NoError(t, err)
	require.InDelta(t, time.Now().Unix(), int64(bin.NTime), 5)
	require.Equal(t, make([]byte, prevHashZeroBytes), bin.PrevHash[32-prevHashZeroBytes:], "a block hash is small")

	s := p.Sessions()[0]
	require.Equal(t, "cpuminer/2.5.1", s.UserAgent)
	require.Equal(t, "acct.rig1", s.User)
	require.Equal(t, []string{"acct.rig1"}, s.Users)
	require.Equal(t, "00000001", s.Extranonce1)
	require.Equal(t, 8, s.Extranonce2Size)
	require.Equal(t, DefaultDifficulty, s.Difficulty)
	require.False(t, s.ExtranonceSubscribed || s.VersionRolling)
	require.True(t, s.Connected)
	require.Equal(t, c.Conn.LocalAddr().String(), s.RemoteAddr)

	st := p.Stats()
	require.Equal(t, 1, st.Subscribes)
	require.Equal(t, 1, st.Authorizes)
	require.Equal(t, 1, st.ActiveConnections)

	at, ok := p.JobSentAt(job.JobID)
	require.True(t, ok)
	require.False(t, at.IsZero())
	_, ok = p.JobSentAt("nope")
	require.False(t, ok)

	// A second connection gets the next extranonce1; authorizing before
	// subscribing also works (the job follows the subscribe).
	c2 := dial(t, p)
	require.True(t, c2.authorize("other").ResultBool)
	c2.subscribe()
	require.Equal(t, []byte{0, 0, 0, 2}, c2.e1)
	c2.readDifficulty()
	require.Equal(t, job.JobID, c2.readJob().JobID)
}

func TestPool_Coinbase_Good(t *testing.T) {
	p := startPool(t, Config{Extranonce1Size: 5, Extranonce2Size: 7, Seed: 3})
	c := dial(t, p)
	c.handshake("w")
	bin, err := c.job.Binary()
	require.NoError(t, err)
	e2 := []byte{9, 8, 7, 6, 5, 4, 3}
	tx := append(append(append(append([]byte(nil), bin.Coinb1...), c.e1...), e2...), bin.Coinb2...)

	// version 1, one input spending the null outpoint.
	require.Equal(t, uint32(1), binary.LittleEndian.Uint32(tx[0:]))
	require.Equal(t, byte(1), tx[4])
	require.Equal(t, make([]byte, 32), tx[5:37])
	require.Equal(t, uint32(0xffffffff), binary.LittleEndian.Uint32(tx[37:]))
	scriptLen := int(tx[41])
	script := tx[42 : 42+scriptLen]
	// BIP34 height push, then the extranonce push, then the tag.
	require.Equal(t, byte(3), script[0])
	height := uint32(script[1]) | uint32(script[2])<<8 | uint32(script[3])<<16
	require.GreaterOrEqual(t, height, uint32(firstHeight))
	require.Equal(t, byte(12), script[4])
	require.Equal(t, append(append([]byte(nil), c.e1...), e2...), script[5:17])
	require.Equal(t, byte(len(coinbaseTag)), script[17])
	require.Equal(t, coinbaseTag, string(script[18:]))
	rest := tx[42+scriptLen:]
	require.Equal(t, uint32(0xffffffff), binary.LittleEndian.Uint32(rest))
	require.Equal(t, byte(1), rest[4])
	value := binary.LittleEndian.Uint64(rest[5:])
	require.GreaterOrEqual(t, value, uint64(subsidy))
	require.Equal(t, []byte{22, 0, 20}, rest[13:16])
	require.Len(t, rest, 4+1+8+1+22+4)
	require.Equal(t, uint32(0), binary.LittleEndian.Uint32(rest[len(rest)-4:]))

	// A non-clean job keeps the block (prevhash, height); a clean one moves on.
	j2 := p.BroadcastJob(false)
	require.Equal(t, j2.JobID, c.readJob().JobID)
	require.Equal(t, c.job.PrevHash, j2.PrevHash)
	require.Equal(t, bin.Coinb1, mustBin(t, &j2).Coinb1)
	j3 := p.BroadcastJob(true)
	require.Equal(t, j3.JobID, c.readJob().JobID)
	require.NotEqual(t, j2.PrevHash, j3.PrevHash)
	require.NotEqual(t, bin.Coinb1, mustBin(t, &j3).Coinb1, "next height")
	require.Greater(t, j3.JobID, j2.JobID, "job ids increase")
}

func mustBin(t *testing.T, j *stratum.SV1Job) *stratum.SV1JobBinary {
	t.Helper()
	b, err := j.Binary()
	require.NoError(t, err)
	return b
}

func TestPool_Submit_Good(t *testing.T) {
	var mu sync.Mutex
	var seen []Submit
	p := startPool(t, Config{OnSubmit: func(s Submit) {
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
	}})
	c := dial(t, p)
	c.handshake("acct.rig1")
	sh := c.mineCurrent(1)
	code, msg := c.submit("acct.rig1", sh)
	require.Zero(t, code, msg)
	sh2 := c.mineCurrent(2)
	code, msg = c.submit("acct.rig1", sh2)
	require.Zero(t, code, msg)

	st := p.Stats()
	require.Equal(t, int64(2), st.Submits)
	require.Equal(t, int64(2), st.Accepted)
	require.Equal(t, 2*DefaultDifficulty, st.AcceptedDiff, "credited at the share target's difficulty")
	require.Zero(t, st.Rejected)
	require.Equal(t, int64(2), p.Sessions()[0].Accepted)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 2)
	s := seen[0]
	require.True(t, s.Accepted())
	require.Equal(t, "acct.rig1", s.Worker)
	require.Equal(t, c.job.JobID, s.JobID)
	require.Equal(t, "00000001", s.Extranonce1)
	require.Equal(t, "0000000000000001", s.Extranonce2)
	require.Equal(t, string(stratum.AppendHex32(nil, sh.nonce)), s.Nonce)
	require.Equal(t, c.job.NTime, s.NTime)
	require.Empty(t, s.VersionBits)
	require.Equal(t, uint32(blockVersion), s.Version)
	require.GreaterOrEqual(t, s.Difficulty, DefaultDifficulty)
	require.Equal(t, DefaultDifficulty, s.Target)
	require.Equal(t, p.Sessions()[0].ID, s.SessionID)
}

func TestPool_Submit_Bad(t *testing.T) {
	p := startPool(t, Config{})
	c := dial(t, p)
	c.handshake("w")
	good := c.mineCurrent(7)

	// Another connection's extranonce1: the coinbase differs, the hash fails.
	other := c.mine(&c.job, []byte{0, 0, 0, 9}, e2Bytes(7, 8), c.diff, 0, 0, false)
	code, msg := c.submit("w", other)
	require.Equal(t, stratum.SV1CodeLowDifficulty, code)
	require.Equal(t, "Low difficulty share", msg)

	// A modified coinbase (tag changed): same.
	tampered := c.job
	tampered.Coinb2 = strings.Replace(tampered.Coinb2, string(stratum.AppendHex(nil, []byte("sv1"))), "737632", 1)
	require.NotEqual(t, c.job.Coinb2, tampered.Coinb2)
	code, _ = c.submit("w", c.mine(&tampered, c.e1, e2Bytes(8, 8), c.diff, 0, 0, false))
	require.Equal(t, stratum.SV1CodeLowDifficulty, code)

	// The found nonce with another extranonce2: same.
	moved := good
	moved.e2 = e2Bytes(99, 8)
	code, _ = c.submit("w", moved)
	require.Equal(t, stratum.SV1CodeLowDifficulty, code)

	// Extranonce2 of the wrong size.
	short := good
	short.e2 = good.e2[:4]
	code, msg = c.submit("w", short)
	require.Equal(t, stratum.SV1CodeOther, code)
	require.Equal(t, stratum.ErrSV1BadExtranonce2.Message, msg)

	// Version bits without version rolling.
	rolled := good
	rolled.rolled, rolled.versionBits = true, 0x00002000
	code, msg = c.submit("w", rolled)
	require.Equal(t, stratum.SV1CodeOther, code)
	require.Equal(t, stratum.ErrSV1VersionBitsNotMask.Message, msg)

	// Unknown job, unknown worker, ntime before the job.
	unknown := good
	unknown.jobID = "deadbeef"
	code, _ = c.submit("w", unknown)
	require.Equal(t, stratum.SV1CodeJobNotFound, code)
	code, _ = c.submit("intruder", good)
	require.Equal(t, stratum.SV1CodeUnauthorized, code)
	early := good
	early.ntime--
	code, msg = c.submit("w", early)
	require.Equal(t, stratum.SV1CodeOther, code)
	require.Equal(t, "Ntime out of range", msg)

	// The good share, then the same share again.
	code, _ = c.submit("w", good)
	require.Zero(t, code)
	code, msg = c.submit("w", good)
	require.Equal(t, stratum.SV1CodeDuplicate, code)
	require.Equal(t, "Duplicate share", msg)

	st := p.Stats()
	require.Equal(t, int64(10), st.Submits)
	require.Equal(t, int64(1), st.Accepted)
	require.Equal(t, int64(9), st.Rejected)
	require.Equal(t, int64(3), st.LowDiff)
	require.Equal(t, int64(3), st.BadFormat)
	require.Equal(t, int64(1), st.Stale)
	require.Equal(t, int64(1), st.Unauthorized)
	require.Equal(t, int64(1), st.Duplicates)
	require.Zero(t, st.Overlaps)

	// Submitting before subscribing: 25.
	c2 := dial(t, p)
	code, _ = c2.submit("w", good)
	require.Equal(t, stratum.SV1CodeNotSubscribed, code)
}

func TestPool_Submit_StaleAfterClean_Ugly(t *testing.T) {
	p := startPool(t, Config{})
	c := dial(t, p)
	c.handshake("w")
	j1 := c.job
	s1 := c.mineCurrent(1)
	code, _ := c.submit("w", s1)
	require.Zero(t, code)

	// A non-clean job keeps j1 valid.
	j2 := p.BroadcastJob(false)
	require.False(t, c.readJob().CleanJobs)
	code, _ = c.submit("w", c.mine(&j1, c.e1, e2Bytes(2, 8), c.diff, 0, 0, false))
	require.Zero(t, code)
	s2 := c.mine(&j2, c.e1, e2Bytes(3, 8), c.diff, 0, 0, false)

	// A clean job voids both.
	j3 := p.BroadcastJob(true)
	require.True(t, c.readJob().CleanJobs)
	code, msg := c.submit("w", c.mine(&j1, c.e1, e2Bytes(4, 8), c.diff, 0, 0, false))
	require.Equal(t, stratum.SV1CodeJobNotFound, code)
	require.Equal(t, "Job not found", msg)
	code, _ = c.submit("w", s2)
	require.Equal(t, stratum.SV1CodeJobNotFound, code)
	code, _ = c.submit("w", c.mine(&j3, c.e1, e2Bytes(5, 8), c.diff, 0, 0, false))
	require.Zero(t, code)
	require.Equal(t, int64(2), p.Stats().Stale)

	// Only maxActiveJobs recent jobs stay valid.
	first := p.BroadcastJob(false)
	c.readJob()
	for i := 0; i < maxActiveJobs; i++ {
		p.BroadcastJob(false)
		c.readJob()
	}
	code, _ = c.submit("w", c.mine(&first, c.e1, e2Bytes(6, 8), c.diff, 0, 0, false))
	require.Equal(t, stratum.SV1CodeJobNotFound, code)
}

func TestPool_VersionRolling_Good(t *testing.T) {
	var mu sync.Mutex
	var versions []uint32
	p := startPool(t, Config{VersionRolling: true, OnSubmit: func(s Submit) {
		mu.Lock()
		versions = append(versions, s.Version)
		mu.Unlock()
	}})
	c := dial(t, p)
	m := c.request(func(dst []byte, id uint64) []byte { return stratum.AppendSV1PoolConfigure(dst, id, 0xffffffff, 2) })
	require.Equal(t, stratum.SV1ResultConfigure, m.Result)
	require.True(t, m.VersionRolling)
	require.Equal(t, uint32(0x1fffe000), m.VersionMask)
	c.mask = m.VersionMask
	c.handshake("w")

	bits := uint32(0x0aa02000)
	sh := c.mine(&c.job, c.e1, e2Bytes(1, 8), c.diff, bits, c.mask, true)
	code, msg := c.submit("w", sh)
	require.Zero(t, code, msg)
	mu.Lock()
	require.Equal(t, []uint32{0x20000000 | bits}, versions)
	mu.Unlock()

	// Bits outside the mask are refused.
	bad := c.mine(&c.job, c.e1, e2Bytes(2, 8), c.diff, 0x40000000, 0xffffffff, true)
	code, msg = c.submit("w", bad)
	require.Equal(t, stratum.SV1CodeOther, code)
	require.Equal(t, stratum.ErrSV1VersionBitsNotMask.Message, msg)
	// The share hashed without the rolled bits does not verify.
	wrong := sh
	wrong.e2 = e2Bytes(3, 8)
	wrong = c.mine(&c.job, c.e1, wrong.e2, c.diff, 0, 0, false)
	wrong.rolled, wrong.versionBits = true, 0x00004000
	code, _ = c.submit("w", wrong)
	require.Equal(t, stratum.SV1CodeLowDifficulty, code)

	// A narrower mask is pushed and enforced.
	p.SetVersionMask(0x00ffe000)
	require.Equal(t, `{"id":null,"method":"mining.set_version_mask","params":["00ffe000"]}`, c.ReadLine())
	s := p.Sessions()[0]
	require.True(t, s.VersionRolling)
	require.Equal(t, uint32(0x00ffe000), s.VersionMask)
	code, _ = c.submit("w", c.mine(&c.job, c.e1, e2Bytes(4, 8), c.diff, 0x10000000, 0x1fffe000, true))
	require.Equal(t, stratum.SV1CodeOther, code)
	code, _ = c.submit("w", c.mine(&c.job, c.e1, e2Bytes(5, 8), c.diff, 0x00ffe000, 0x00ffe000, true))
	require.Zero(t, code)

	// A miner with a narrower mask gets the intersection.
	c2 := dial(t, p)
	m = c2.request(func(dst []byte, id uint64) []byte { return stratum.AppendSV1PoolConfigure(dst, id, 0x0000e000, 2) })
	require.True(t, m.VersionRolling)
	require.Equal(t, uint32(0x0000e000), m.VersionMask)
}

func TestPool_VersionRolling_Off(t *testing.T) {
	p := startPool(t, Config{})
	c := dial(t, p)
	c.Send([]byte(`{"id":1,"method":"mining.configure","params":[["version-rolling","minimum-difficulty","subscribe-extranonce"],` +
		`{"version-rolling.mask":"1fffe000","minimum-difficulty.value":2048}]}` + "\n"))
	require.Equal(t, `{"id":1,"result":{"version-rolling":false,"minimum-difficulty":false,"subscribe-extranonce":true},"error":null}`, c.ReadLine())
	c.Send([]byte(`{"id":2,"method":"mining.configure","params":["version-rolling"]}` + "\n"))
	m := c.readMsg()
	require.Equal(t, stratum.SV1CodeOther, m.ErrorCode)
	c.subscribe()
	s := p.Sessions()[0]
	require.False(t, s.VersionRolling)
	require.True(t, s.ExtranonceSubscribed, "configure subscribe-extranonce")
}

func TestPool_SetExtranonce_Good(t *testing.T) {
	p := startPool(t, Config{})
	a := dial(t, p) // subscribes to extranonce updates
	a.subscribe()
	m := a.request(func(dst []byte, id uint64) []byte { return stratum.AppendSV1PoolExtranonceSubscribe(dst, id) })
	require.True(t, m.ResultBool)
	require.True(t, a.authorize("a").ResultBool)
	a.readDifficulty()
	j1 := a.readJob()
	oldE1 := a.e1

	b := dial(t, p) // does not
	b.handshake("b")
	bE1 := b.e1

	require.Zero(t, p.SetExtranonce(func(s Session) bool { return s.User == "b" }))
	require.Equal(t, 1, p.SetExtranonce(nil))
	m = a.readMsg()
	require.Equal(t, stratum.SV1PoolSetExtranonce, m.Kind)
	require.Equal(t, 8, m.Extranonce2Size)
	newE1, ok := stratum.DecodeHex(nil, m.Extranonce1)
	require.True(t, ok)
	require.Equal(t, []byte{0, 0, 0, 3}, newE1, "the next extranonce1 of the counter")
	j2 := a.readJob()
	require.False(t, j2.CleanJobs)

	// On the new job only the new extranonce1 verifies.
	code, _ := a.submit("a", a.mine(&j2, oldE1, e2Bytes(1, 8), a.diff, 0, 0, false))
	require.Equal(t, stratum.SV1CodeLowDifficulty, code)
	code, _ = a.submit("a", a.mine(&j2, newE1, e2Bytes(2, 8), a.diff, 0, 0, false))
	require.Zero(t, code)
	// The job sent before the change takes either.
	code, _ = a.submit("a", a.mine(&j1, oldE1, e2Bytes(3, 8), a.diff, 0, 0, false))
	require.Zero(t, code)
	code, _ = a.submit("a", a.mine(&j1, newE1, e2Bytes(4, 8), a.diff, 0, 0, false))
	require.Zero(t, code)

	// b is unchanged and still mines with its own.
	code, _ = b.submit("b", b.mine(&b.job, bE1, e2Bytes(1, 8), b.diff, 0, 0, false))
	require.Zero(t, code)

	byUser := map[string]Session{}
	for _, s := range p.Sessions() {
		byUser[s.User] = s
	}
	require.Equal(t, "00000003", byUser["a"].Extranonce1)
	require.True(t, byUser["a"].ExtranonceSubscribed)
	require.Equal(t, "00000002", byUser["b"].Extranonce1)

	// A selector picks connections.
	require.Equal(t, 1, p.SetExtranonce(func(s Session) bool { return s.User == "a" }))
	require.Equal(t, stratum.SV1PoolSetExtranonce, a.readMsg().Kind)
}

func TestPool_SetDifficulty_Good(t *testing.T) {
	p := startPool(t, Config{})
	c := dial(t, p)
	c.handshake("w")
	j1 := c.job
	require.Error(t, p.SetDifficulty(0))
	require.Error(t, p.SetDifficulty(-1))
	require.NoError(t, p.SetDifficulty(1.0/16384))
	require.Equal(t, `{"id":null,"method":"mining.set_difficulty","params":[6.103515625e-05]}`, c.ReadLine())
	j2 := p.BroadcastJob(false)
	c.readJob()

	// A share meeting 1/65536 but not 1/16384: fine on the job sent at the
	// old difficulty, low on the new one.
	easy := findBetween(t, c, &j2, 1.0/65536, 1.0/16384)
	code, _ := c.submit("w", easy)
	require.Equal(t, stratum.SV1CodeLowDifficulty, code)
	easyOld := findBetween(t, c, &j1, 1.0/65536, 1.0/16384)
	code, _ = c.submit("w", easyOld)
	require.Zero(t, code)
	code, _ = c.submit("w", c.mine(&j2, c.e1, e2Bytes(1000, 8), 1.0/16384, 0, 0, false))
	require.Zero(t, code)
	require.Equal(t, 1.0/16384, p.Sessions()[0].Difficulty)

	// New connections get the new difficulty.
	c2 := dial(t, p)
	c2.handshake("w")
	require.Equal(t, 1.0/16384, c2.diff)
}

// findBetween mines job until a share meets difficulty lo but not hi.
func findBetween(t *testing.T, c *testMiner, job *stratum.SV1Job, lo, hi float64) share {
	t.Helper()
	hiTarget, _ := stratum.SV1TargetFromDifficulty(hi)
	bin := mustBin(t, job)
	for e2 := uint64(500); ; e2++ {
		s := c.mine(job, c.e1, e2Bytes(e2, 8), lo, 0, 0, false)
		hash := c.hasher.ShareHash(bin, c.e1, s.e2, s.ntime, s.nonce, 0, 0)
		if !hiTarget.Meets(&hash) {
			return s
		}
	}
}

func TestPool_Overlaps_Ugly(t *testing.T) {
	// Miners told apart by worker name: two workers on one connection
	// submitting on the same coinbase overlap.
	p := startPool(t, Config{MinerKey: func(s Submit) string { return s.Worker }})
	c := dial(t, p)
	c.handshake("rig1")
	require.True(t, c.authorize("rig2").ResultBool)
	require.Equal(t, 2, p.Stats().Authorizes)

	s1 := c.mineCurrent(1)
	code, _ := c.submit("rig1", s1)
	require.Zero(t, code)
	code, _ = c.submit("rig1", c.mineCurrent(2))
	require.Zero(t, code)
	require.Zero(t, p.Stats().Overlaps, "one miner, many extranonces")

	// rig2 finds another nonce on rig1's coinbase: overlapping work.
	bin := mustBin(t, &c.job)
	target, _ := stratum.SV1TargetFromDifficulty(c.diff)
	h := c.hasher.Header(bin, c.e1, s1.e2, bin.Version, bin.NTime, 0)
	nonce, _, ok := h.Search(&target, s1.nonce+1, 1<<26)
	require.True(t, ok)
	s2 := s1
	s2.nonce = nonce
	code, _ = c.submit("rig2", s2)
	require.Zero(t, code, "accepted: the pool cannot refuse it")
	// And the exact same share: duplicate and overlap.
	code, _ = c.submit("rig2", s1)
	require.Equal(t, stratum.SV1CodeDuplicate, code)

	st := p.Stats()
	require.Equal(t, int64(2), st.Overlaps)
	require.Equal(t, int64(1), st.Duplicates)
	ov := p.Overlaps()
	require.Len(t, ov, 2)
	require.Equal(t, "job "+c.job.JobID+" extranonce 000000010000000000000001: miner rig1 and miner rig2", ov[0])
}

func TestPool_Methods_Good(t *testing.T) {
	p := startPool(t, Config{})
	c := dial(t, p)
	c.Send([]byte(`{"id":5,"method":"mining.suggest_difficulty","params":[0.5]}` + "\n"))
	require.Equal(t, `{"id":5,"result":true,"error":null}`, c.ReadLine())
	c.Send([]byte(`{"id":6,"method":"mining.suggest_difficulty","params":["x"]}` + "\n"))
	require.Equal(t, stratum.SV1CodeOther, c.readMsg().ErrorCode)
	c.Send([]byte(`{"id":7,"method":"mining.get_transactions","params":[]}` + "\n"))
	require.Equal(t, `{"id":7,"result":null,"error":[20,"Unknown method",null]}`, c.ReadLine())
	c.Send([]byte(`{"id":[1],"method":"mining.subscribe","params":[]}` + "\n"))
	require.Equal(t, `{"id":null,"result":null,"error":[20,"Other/Unknown",null]}`, c.ReadLine())
	c.Send([]byte(`{"id":8,"method":"mining.authorize","params":[""]}` + "\n"))
	require.Equal(t, stratum.SV1CodeUnauthorized, c.readMsg().ErrorCode)
	// The connection survived all of that.
	c.handshake("w")
	require.Equal(t, 0.5, p.Sessions()[0].SuggestedDifficulty)
}

func TestPool_Authorize_Bad(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	p := startPool(t, Config{Authorize: func(user, pass string) error {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, user+":"+pass)
		if user != "registered" {
			return errors.New("unknown account")
		}
		return nil
	}})
	c := dial(t, p)
	c.subscribe()
	m := c.authorize("stranger")
	require.Equal(t, stratum.SV1CodeUnauthorized, m.ErrorCode)
	require.Equal(t, "unknown account", string(m.Error))
	require.True(t, c.authorize("registered").ResultBool)
	c.readDifficulty()
	c.readJob()
	require.Equal(t, []string{"registered"}, p.Sessions()[0].Users)
	mu.Lock()
	require.Equal(t, []string{"stranger:x", "registered:x"}, asked)
	mu.Unlock()
	require.Equal(t, 1, p.Stats().Authorizes)
}

func TestPool_Framing_Ugly(t *testing.T) {
	p := startPool(t, Config{})

	long := dial(t, p)
	long.Send([]byte(`{"id":1,"method":"mining.subscribe","params":["` + strings.Repeat("a", stratum.MaxLineSize) + "\"]}\n"))
	long.ExpectEOF()

	notJSON := dial(t, p)
	notJSON.Send([]byte("GET / HTTP/1.1\r\n"))
	notJSON.ExpectEOF()

	broken := dial(t, p)
	broken.Send([]byte("{\"id\":1,\n"))
	broken.ExpectEOF()

	// Blank lines and CRLF are fine.
	ok := dial(t, p)
	ok.Send([]byte("\r\n\n"))
	ok.handshake("w")

	require.NoError(t, p.WaitFor(pooltest.WaitCtx(t), func(s Stats) bool { return s.ActiveConnections == 1 }))
}

func TestPool_Distinct_Good(t *testing.T) {
	p := startPool(t, Config{Extranonce1Size: 2})
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		c := dial(t, p)
		c.subscribe()
		seen[string(c.e1)] = true
		require.Len(t, c.e1, 2)
	}
	require.Len(t, seen, 20)
	ids := map[string]bool{}
	for _, s := range p.Sessions() {
		ids[s.ID] = true
	}
	require.Len(t, ids, 20)
}

func TestPool_JobInterval_Good(t *testing.T) {
	p := startPool(t, Config{JobInterval: 10 * time.Millisecond})
	c := dial(t, p)
	c.handshake("w")
	first := c.job
	require.NoError(t, p.WaitFor(pooltest.WaitCtx(t), func(s Stats) bool { return s.JobsBroadcast >= 2 }))
	j := c.readJob()
	require.NotEqual(t, first.JobID, j.JobID)
	require.False(t, j.CleanJobs)
	require.Equal(t, first.PrevHash, j.PrevHash)
}

func TestPool_Behavior_Silent(t *testing.T) {
	p := startPool(t, Config{})
	p.SetBehavior(Behavior{Silent: true})
	c := dial(t, p)
	c.Send(stratum.AppendSV1PoolSubscribe(nil, 1, "x", ""))
	require.NoError(t, p.WaitFor(pooltest.WaitCtx(t), func(s Stats) bool { return s.Requests == 1 }))
	p.BroadcastJob(true)
	require.NoError(t, p.SetDifficulty(2))
	require.Zero(t, p.SetExtranonce(nil))
	p.SendReconnect("x", 1)
	// Back to normal: the first answer is the one to the request sent after
	// the behaviour changed.
	p.SetBehavior(Behavior{})
	c.NextID = 2
	c.subscribe()
	require.Zero(t, p.Stats().Subscribes-1)
}

func TestPool_Behavior_SilentExisting(t *testing.T) {
	p := startPool(t, Config{})
	c := dial(t, p)
	c.handshake("w")
	p.SetBehavior(Behavior{Silent: true})
	c.Send([]byte(`{"id":50,"method":"mining.submit","params":["w","x","00","00","00"]}` + "\n"))
	require.NoError(t, p.WaitFor(pooltest.WaitCtx(t), func(s Stats) bool { return s.Requests == 3 }))
	p.BroadcastJob(true) // not sent while silent
	p.SetBehavior(Behavior{})
	require.True(t, c.authorize("w").ResultBool)
	require.Zero(t, p.Stats().Submits)
}

func TestPool_Behavior_Garbage(t *testing.T) {
	p := startPool(t, Config{})
	p.SetBehavior(Behavior{Garbage: true})
	c := dial(t, p)
	c.Send(stratum.AppendSV1PoolSubscribe(nil, 1, "x", ""))
	line := c.ReadLine()
	_, _, err := stratum.NextLine([]byte(line + "\n"))
	require.ErrorIs(t, err, stratum.ErrNotJSONObject)
}

func TestPool_Behavior_NoSubmitReply(t *testing.T) {
	p := startPool(t, Config{})
	c := dial(t, p)
	c.handshake("w")
	p.SetBehavior(Behavior{NoSubmitReply: true})
	sh := c.mineCurrent(1)
	c.Send(stratum.AppendSV1PoolSubmit(nil, 99, "w", nil, &stratum.SV1Submit{
		Worker: []byte("w"), JobID: []byte(sh.jobID), Extranonce2: stratum.AppendHex(nil, sh.e2),
		NTime: stratum.AppendHex32(nil, sh.ntime), Nonce: stratum.AppendHex32(nil, sh.nonce),
	}))
	require.True(t, c.authorize("w").ResultBool, "the next answer is the authorize's")
	st := p.Stats()
	require.Equal(t, int64(1), st.Submits)
	require.Zero(t, st.Accepted+st.Rejected)
}

func TestPool_Behavior_DropOnSubmit(t *testing.T) {
	p := startPool(t, Config{})
	c := dial(t, p)
	c.handshake("w")
	p.SetBehavior(Behavior{DropOnSubmit: true})
	c.Send([]byte(`{"id":50,"method":"mining.submit","params":["w","x","00","00","00"]}` + "\n"))
	c.ExpectEOF()
	require.NoError(t, p.WaitFor(pooltest.WaitCtx(t), func(s Stats) bool { return s.ActiveConnections == 0 && s.Submits == 1 }))
	require.False(t, p.Sessions()[0].Connected)
}

func TestPool_Behavior_GarbageAfterLogin(t *testing.T) {
	p := startPool(t, Config{})
	p.SetBehavior(Behavior{GarbageAfterLogin: true})
	c := dial(t, p)
	c.handshake("w") // answered normally, with the first job
	_, _, err := stratum.NextLine([]byte(c.ReadLine() + "\n"))
	require.ErrorIs(t, err, stratum.ErrNotJSONObject, "then a line that is not JSON")
}

func TestPool_Behavior_CloseMidLine(t *testing.T) {
	p := startPool(t, Config{})
	p.SetBehavior(Behavior{CloseMidLine: true})
	conn, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer conn.Close()
	req := stratum.AppendSV1PoolSubscribe(nil, 1, "x", "")
	req = stratum.AppendSV1PoolAuthorize(req, 2, "w", "x")
	_, err = conn.Write(req)
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(pooltest.IOTimeout)))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break // the pool hung up
		}
	}
	lines := strings.Split(string(got), "\n")
	require.GreaterOrEqual(t, len(lines), 5, "%q", got) // subscribe, authorize, difficulty, job, half a job
	require.Contains(t, lines[len(lines)-2], "mining.notify", "the first job is sent")
	half := lines[len(lines)-1]
	require.NotEmpty(t, half, "then half a line, and the connection ends")
	require.Contains(t, half, "mining.notify")
}

func TestPool_Behavior_RejectAuthorize(t *testing.T) {
	p := startPool(t, Config{})
	p.SetBehavior(Behavior{RejectAuthorize: true})
	c := dial(t, p)
	c.subscribe()
	m := c.authorize("w")
	require.Equal(t, stratum.SV1CodeUnauthorized, m.ErrorCode)
	require.Equal(t, "Unauthorized worker", string(m.Error))
	require.Zero(t, p.Stats().Authorizes)
	p.SetBehavior(Behavior{})
	require.True(t, c.authorize("w").ResultBool)
	c.readDifficulty()
	c.readJob()
}

func TestPool_RejectRatio_Good(t *testing.T) {
	const seed = 42
	p := startPool(t, Config{RejectRatio: 0.3, Seed: seed, Difficulty: 1.0 / (1 << 24)})
	c := dial(t, p)
	c.handshake("w")
	rejected := 0
	for i := uint64(0); i < 200; i++ {
		sh := c.mineCurrent(i)
		code, msg := c.submit("w", sh)
		// The answer is the reproducible lottery of the share.
		full := append(append([]byte(nil), c.e1...), sh.e2...)
		want := poolserver.RejectLottery(seed, sh.nonce, full, sh.jobID) < 0.3
		require.Equal(t, want, code != 0, "share %d: %d %q", i, code, msg)
		if code != 0 {
			require.Equal(t, stratum.SV1CodeOther, code)
			require.Equal(t, MsgRandomReject, msg)
			rejected++
		}
	}
	require.InDelta(t, 60, rejected, 30)
	st := p.Stats()
	require.Equal(t, int64(rejected), st.Rejected)
	require.Equal(t, int64(200-rejected), st.Accepted)
	require.Zero(t, st.LowDiff+st.Duplicates+st.BadFormat+st.Stale)
}

func TestPool_DropConnections_Good(t *testing.T) {
	p := startPool(t, Config{})
	clients := make([]*testMiner, 3)
	for i := range clients {
		clients[i] = dial(t, p)
		clients[i].handshake("w")
	}
	p.DropConnections()
	for _, c := range clients {
		c.ExpectEOF()
	}
	require.NoError(t, p.WaitFor(pooltest.WaitCtx(t), func(s Stats) bool { return s.ActiveConnections == 0 }))
	for _, s := range p.Sessions() {
		require.False(t, s.Connected)
	}
	// Still listening, with fresh extranonces.
	c := dial(t, p)
	c.handshake("w")
	require.Equal(t, []byte{0, 0, 0, 4}, c.e1)
	st := p.Stats()
	require.Equal(t, 4, st.Subscribes)
	require.Equal(t, 4, st.Connections)
}

func TestPool_Close_Ugly(t *testing.T) {
	p, err := Start(Config{JobInterval: time.Millisecond})
	require.NoError(t, err)
	c := dial(t, p)
	c.handshake("w")
	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	c.ExpectEOF()
	_, err = net.DialTimeout("tcp", p.Addr(), pooltest.IOTimeout)
	require.Error(t, err)
	require.Zero(t, p.Stats().ActiveConnections)
	// Harmless after Close.
	p.BroadcastJob(true)
	p.SendReconnect("x", 1)
	require.NoError(t, p.SetDifficulty(1))
	require.Zero(t, p.SetExtranonce(nil))
	p.SetVersionMask(0)
	p.DropConnections()
}

func TestPool_SendReconnect_Good(t *testing.T) {
	p := startPool(t, Config{})
	c := dial(t, p)
	c.handshake("w")
	p.SendReconnect("pool.example.com", 3333)
	m := c.readMsg()
	require.Equal(t, stratum.SV1PoolReconnect, m.Kind)
	require.Equal(t, "pool.example.com", string(m.Host))
	require.Equal(t, 3333, m.Port)
}

func TestPool_WaitFor_Bad(t *testing.T) {
	p := startPool(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.WaitFor(ctx, func(s Stats) bool { return s.Subscribes > 0 })
	require.ErrorIs(t, err, context.Canceled)
}

func TestPool_Start_Bad(t *testing.T) {
	for _, cfg := range []Config{
		{RejectRatio: 2},
		{Extranonce1Size: 17},
		{Extranonce1Size: -1},
		{Extranonce2Size: 17},
		{Difficulty: -1},
		{Addr: "256.0.0.1:1"},
	} {
		_, err := Start(cfg)
		require.Error(t, err, "%+v", cfg)
	}
}

func TestPool_TLS_Good(t *testing.T) {
	p := startPool(t, Config{TLS: pooltest.SelfSignedTLS(t, "sv1pool")})
	c := dialTLS(t, p)
	c.handshake("w")
	code, _ := c.submit("w", c.mineCurrent(1))
	require.Zero(t, code)
}
