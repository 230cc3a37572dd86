package testminer

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
)

// tinyDiff makes a share cost ~4096 hashes.
const tinyDiff = 1.0 / (1 << 20)

// sv1pool speaks the pool side of stratum v1 and verifies every share, as
// a proxy in front of a real pool would.
func startSV1Pool(t *testing.T, cfg sv1pool.Config) *sv1pool.Pool {
	t.Helper()
	if cfg.Difficulty == 0 {
		cfg.Difficulty = tinyDiff
	}
	p, err := sv1pool.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// dialPool is a miner that submits as the user it logs in with, as a pool
// wants.
func dialPool(t *testing.T, pool *sv1pool.Pool, user string) *SV1 {
	t.Helper()
	m := DialSV1(t, pool.Addr())
	m.Worker = user
	return m
}

func deadline(t *testing.T) time.Time {
	t.Helper()
	return time.Now().Add(DefaultTimeout)
}

func TestSV1_Login_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	m := DialSV1(t, pool.Addr())
	require.Equal(t, 1.0, m.Diff, "before set_difficulty")
	require.Equal(t, "w", m.Worker, "a proxy takes any worker name")
	m.Login("farm.rig1", 0)
	s := pool.Sessions()
	require.Len(t, s, 1)
	require.Equal(t, s[0].Extranonce1, fmt.Sprintf("%x", m.E1))
	require.Equal(t, sv1pool.DefaultExtranonce2Size, m.E2Size)
	require.Equal(t, tinyDiff, m.Diff)
	require.Zero(t, m.Mask)
	require.Equal(t, pool.CurrentJob().JobID, m.Job.JobID)
	require.Equal(t, "farm.rig1", s[0].User)
	require.Equal(t, 1, pool.Stats().Authorizes)
}

func TestSV1_Login_Bad(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	pool.SetBehavior(sv1pool.Behavior{RejectAuthorize: true})
	msg := mustFail(t, func(tb testing.TB) { DialSV1(tb, pool.Addr()).Login("rig", 0) })
	require.Contains(t, msg, "authorized as rig")
	// Version rolling the pool does not grant fails the login too.
	pool.SetBehavior(sv1pool.Behavior{})
	msg = mustFail(t, func(tb testing.TB) { DialSV1(tb, pool.Addr()).Login("rig", 0xffffffff) })
	require.Contains(t, msg, "version-rolling")
}

func TestSV1_Submit_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	m := dialPool(t, pool, "rig")
	m.Login("rig", 0)
	for i := 0; i < 3; i++ {
		r := m.Submit()
		require.True(t, r.Accepted(), r.Raw)
		require.Zero(t, r.ErrCode())
	}
	st := pool.Stats()
	require.Equal(t, int64(3), st.Accepted)
	require.Zero(t, st.Rejected)
}

func TestSV1_SubmitRaw_Bad(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	m := dialPool(t, pool, "rig")
	m.Login("rig", 0)
	e2, ntime, nonce, vbits := m.Share()
	require.Len(t, e2, m.E2Size)
	require.Zero(t, vbits)
	require.True(t, m.SubmitRaw(m.Job.JobID, e2, ntime, nonce, vbits).Accepted())
	r := m.SubmitRaw(m.Job.JobID, e2, ntime, nonce, vbits)
	require.False(t, r.Accepted())
	require.Equal(t, 22, r.ErrCode(), "duplicate: "+r.Raw)
	r = m.SubmitRaw(m.Job.JobID, e2, ntime, nonce+1, vbits)
	require.Equal(t, 23, r.ErrCode(), "low difficulty: "+r.Raw)
	first := m.Job.JobID
	pool.BroadcastJob(true)
	m.WaitJob()
	require.NotEqual(t, first, m.Job.JobID)
	e2, ntime, nonce, vbits = m.Share()
	r = m.SubmitRaw(first, e2, ntime, nonce, vbits)
	require.Equal(t, 21, r.ErrCode(), "a job voided by clean_jobs: "+r.Raw)
	require.True(t, m.Submit().Accepted(), "the current job")
}

func TestSV1_VersionRolling_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{VersionRolling: true})
	m := dialPool(t, pool, "rig")
	m.Login("rig", 0xffffffff)
	require.Equal(t, uint32(sv1pool.DefaultVersionMask), m.Mask, "the pool's mask AND the miner's")
	rolled := false
	for i := 0; i < 5; i++ {
		e2, ntime, nonce, vbits := m.Share()
		require.Zero(t, vbits&^m.Mask)
		rolled = rolled || vbits != 0
		r := m.SubmitRaw(m.Job.JobID, e2, ntime, nonce, vbits)
		require.True(t, r.Accepted(), r.Raw)
	}
	require.True(t, rolled, "version bits were used")
	e2, ntime, nonce, _ := m.Share()
	r := m.SubmitRaw(m.Job.JobID, e2, ntime, nonce, 0x00000001)
	require.Equal(t, 20, r.ErrCode(), "bits outside the mask: "+r.Raw)

	// A new mask is applied as it arrives.
	pool.SetVersionMask(0x00ff0000)
	for l := m.Read(); l.Method != "mining.set_version_mask"; l = m.Read() {
	}
	require.Equal(t, uint32(0x00ff0000), m.Mask)
	require.True(t, m.Submit().Accepted())
}

// Reply skips notifications (applying them) and answers to other ids.
func TestSV1_Reply_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	m := dialPool(t, pool, "rig.a")
	m.Login("rig.a", 0)
	job := pool.BroadcastJob(false)
	require.NoError(t, pool.SetDifficulty(tinyDiff/2))
	first := m.Send(`"method":"mining.authorize","params":[%q,"x"]}`, "rig.b")
	second := m.Send(`"method":"mining.authorize","params":["rig.c","x"]}`)
	r := m.Reply(second)
	require.Equal(t, fmt.Sprint(second), string(r.ID))
	require.NotEqual(t, first, second)
	require.True(t, r.Accepted(), r.Raw)
	require.Equal(t, job.JobID, m.Job.JobID, "the notify on the way was applied")
	require.Equal(t, tinyDiff/2, m.Diff, "and the difficulty")
	require.True(t, m.Submit().Accepted())

	// An error answer is returned, not failed on.
	r = m.Reply(m.Send(`"method":"mining.submit","params":["w","no-such-job","00","00000000","00000000"]}`))
	require.False(t, r.Accepted())
	require.NotZero(t, r.ErrCode(), r.Raw)
	var v struct{ Error []any }
	require.NoError(t, json.Unmarshal([]byte(r.Raw), &v))
	require.Len(t, v.Error, 3, "[code, message, data]")
	require.Len(t, r.Error, 3)
}

// With XSub a new extranonce1 is applied and mining goes on with it.
func TestSV1_XSub_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	m := dialPool(t, pool, "rig")
	m.XSub = true
	m.Login("rig", 0)
	old := append([]byte(nil), m.E1...)
	require.Equal(t, 1, pool.SetExtranonce(nil))
	for l := m.Read(); l.Method != "mining.set_extranonce"; l = m.Read() {
	}
	require.NotEqual(t, old, m.E1)
	m.WaitJob()
	require.True(t, m.Submit().Accepted())
	require.Zero(t, pool.Stats().Rejected)
}

func TestSV1_ExpectClosed_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	m := dialPool(t, pool, "rig")
	m.Login("rig", 0)
	pool.DropConnections()
	m.ExpectClosed()
	_, err := m.ReadLineBy(deadline(t))
	require.Error(t, err)
}
