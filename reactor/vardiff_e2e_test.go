package reactor

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/simminer"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/stats"
	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/vardiff"
)

// End-to-end vardiff: the proxy on sockets between miners and a mock pool
// that checks every share, with segmenting relays on both sides. The
// convergence tests use simulated miners of set speeds (bench/simminer);
// they run until each miner has settled, which takes tens of seconds of
// real time at a one-second target.

// vdE2ETimeout bounds a convergence run.
const vdE2ETimeout = 150 * time.Second

// settled reports whether a miner's last n shares were all sent at a
// difficulty within a factor 3 of the one that gives a share per target
// (speed in difficulty units per second).
func settled(st simminer.Stats, n int, ideal float64) bool {
	if len(st.Shares) < n {
		return false
	}
	for _, sh := range st.Shares[len(st.Shares)-n:] {
		if sh.Diff < ideal/3 || sh.Diff > ideal*3 {
			return false
		}
	}
	return true
}

// waitSettled polls until each of the miners has settled (n shares),
// failing after vdE2ETimeout. unit is the hashes per difficulty 1 and
// target the target interval: a miner's ideal difficulty is the speed it
// keeps × target ÷ unit.
func waitSettled(t *testing.T, miners int, stats func(i int) simminer.Stats, unit float64, target time.Duration, n int) {
	t.Helper()
	deadline := time.Now().Add(vdE2ETimeout)
	ideal := func(st simminer.Stats) float64 { return st.Achieved(time.Now()) * target.Seconds() / unit }
	for {
		done := true
		for i := range miners {
			st := stats(i)
			require.NoError(t, st.Err, "miner %d", i)
			if !settled(st, n, ideal(st)) {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			for i := range miners {
				st := stats(i)
				t.Logf("miner %d: diff %v (ideal %v), %d shares, %d changes", i, st.Diff, ideal(st), len(st.Shares), st.DiffChanges)
			}
			t.Fatal("miners did not settle")
		}
		time.Sleep(200 * time.Millisecond) // polling a simulation that runs in real time
	}
}

// checkSettledRun checks what a converged run must show, miner by miner:
// a share every target (± a wide margin: ~15 Poisson shares), none
// refused, the proxy's worker credited exactly the difficulty of the
// shares it accepted, and a hashrate within half of the true speed (or
// three standard deviations of the share-based estimate, when wider) of
// the speed the miner kept until it stopped, at end.
func checkSettledRun(t *testing.T, p *Proxy, name func(i int) string, final []simminer.Stats, end time.Time, n int, target time.Duration, hashesPerDiff float64) {
	t.Helper()
	views := map[string]stats.WorkerView{}
	for i, st := range final {
		testutil.Eventually(t, func() bool {
			ws, err := p.Workers(waitCtx(t))
			require.NoError(t, err)
			for _, w := range ws {
				views[w.Name] = w
			}
			return views[name(i)].Accepted == uint64(st.Accepted())
		}, fmt.Sprintf("worker %s counted every accepted share", name(i)))
	}
	for i, st := range final {
		require.Empty(t, st.Rejected(), "miner %d: nothing refused", i)
		last := st.Shares[len(st.Shares)-n:]
		gap := last[len(last)-1].At.Sub(last[0].At) / time.Duration(n-1)
		require.Greater(t, gap, target/3, "miner %d: share interval", i)
		require.Less(t, gap, target*3, "miner %d: share interval", i)
		var credited, sq float64
		for _, sh := range st.Shares {
			if sh.Accepted {
				credited += sh.Diff
				sq += sh.Diff * sh.Diff
			}
		}
		// The hashrate is estimated from random (Poisson) shares, and the
		// few shares found before the difficulty settled weigh the most:
		// the estimate's relative standard deviation is about
		// sqrt(Σd²)/Σd over the accepted difficulties d. Allow half the
		// true speed or three of those deviations, whichever is wider.
		tol := math.Max(0.5, 3*math.Sqrt(sq)/credited)
		w := views[name(i)]
		// The miner reads a CryptoNote difficulty from a 32-bit target,
		// which rounds it up by at most a few parts in 10^4.
		require.InEpsilon(t, credited*hashesPerDiff, w.Hashes, 2e-3, "miner %d: every accepted share credited at its difficulty", i)
		speed := st.Achieved(end)
		require.InEpsilon(t, speed, w.Hashes/end.Sub(st.Started).Seconds(), tol, "miner %d: hashrate from its shares", i)
		require.InEpsilon(t, speed, w.Hashrate[stats.Window600s], tol, "miner %d: /1/workers 10-minute hashrate", i)
	}
}

// CryptoNote miners of four speeds on a pool whose difficulty is 2 to 100
// times what they find in a target interval: each settles near a share
// per second, the pool receives only shares at its own difficulty and
// rejects none, and /1/workers shows each one's speed. (The fastest makes
// sure the pool sees shares: half of its shares meet the pool's
// difficulty.)
func TestVardiffE2E_CN_Good(t *testing.T) {
	t.Parallel() // tens of seconds of waiting on simulated miners
	pool := startPool(t, mockpool.Config{Difficulty: 100_000})
	cfg := baseConfig(pool.Addr())
	cfg.Vardiff = vardiff.Config{Enabled: true, TargetSeconds: 1, RetargetSeconds: 2, MinDiff: 1}
	p, addr := startProxy(t, cfg)
	rates := []float64{1000, 3000, 9000, 50_000}
	miners := make([]*simminer.CN, len(rates))
	for i, r := range rates {
		m, err := simminer.StartCN(context.Background(), simminer.Config{Addr: addr, User: "WALLET", RigID: fmt.Sprintf("rig-%d", i), Hashrate: r, Seed: uint64(i + 1)})
		require.NoError(t, err)
		t.Cleanup(m.Close)
		miners[i] = m
	}
	const n = 15
	waitSettled(t, len(miners), func(i int) simminer.Stats { return miners[i].Stats() }, 1, time.Second, n)
	final := make([]simminer.Stats, len(miners))
	for i, m := range miners {
		m.Stop() // every share sent answered, then closed
		final[i] = m.Stats()
		if rates[i]*2 < 100_000 { // the fastest starts within 2× of its difficulty, and may stay
			require.Greater(t, final[i].DiffChanges, 0)
		}
	}
	end := time.Now()
	st := pool.Stats()
	require.Zero(t, st.Rejected, "the pool rejected nothing")
	require.Zero(t, st.LowDiff, "and never saw a share below its difficulty")
	require.Positive(t, st.Accepted)
	checkSettledRun(t, p, func(i int) string { return fmt.Sprintf("rig-%d", i) }, final, end, n, time.Second, 1)
	sum := p.Summary().ByFamily[FamilyCryptoNote]
	require.Positive(t, sum.CustomAccepted, "shares below the pool's difficulty answered by the proxy")
}

// The same for stratum v1 miners that really hash sha256d, on a pool 4 and
// 16 times above them (a quarter of the faster one's shares reach it).
func TestVardiffE2E_SV1_Good(t *testing.T) {
	t.Parallel()
	rates := []float64{100_000, 400_000} // H/s
	const k = 1 << 32                    // sha256d hashes per difficulty 1
	pool := startSV1Pool(t, sv1pool.Config{Difficulty: 4 * rates[1] / k})
	cfg := sv1Config(pool.Addr())
	cfg.Vardiff = vardiff.Config{Enabled: true, TargetSeconds: 1, RetargetSeconds: 2, MinDiff: 1e-12}
	p, addr := startProxy(t, cfg)
	miners := make([]*simminer.SV1, len(rates))
	for i, r := range rates {
		m, err := simminer.StartSV1(context.Background(), simminer.Config{Addr: addr, User: fmt.Sprintf("farm.rig%d", i), Hashrate: r})
		require.NoError(t, err)
		t.Cleanup(m.Close)
		miners[i] = m
	}
	const n = 15
	waitSettled(t, len(miners), func(i int) simminer.Stats { return miners[i].Stats() }, k, time.Second, n)
	final := make([]simminer.Stats, len(miners))
	for i, m := range miners {
		m.Stop() // every share sent answered, then closed
		final[i] = m.Stats()
	}
	end := time.Now()
	st := pool.Stats()
	require.Zero(t, st.Rejected, "the pool rejected nothing")
	require.Zero(t, st.LowDiff)
	require.Positive(t, st.Accepted)
	checkSettledRun(t, p, func(i int) string { return fmt.Sprintf("farm.rig%d", i) }, final, end, n, time.Second, k)
	miners2, err := p.Miners(waitCtx(t))
	require.NoError(t, err)
	for _, mv := range miners2 {
		require.Equal(t, FamilySV1, mv.Family)
	}
}

// A share in flight across a retarget is judged at the difficulty of the
// job it names (CryptoNote over sockets): sixteen quick shares raise the
// difficulty 8 times at once, the new job comes under a variant id, and a
// share for the job as first sent still counts at the old difficulty.
func TestVardiffE2E_CNInFlight_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{Difficulty: 1_000_000})
	cfg := baseConfig(pool.Addr())
	cfg.Vardiff = vardiff.Config{Enabled: true, InitialDiff: 1000, MinDiff: 1}
	_, addr := startProxy(t, cfg)
	m := testminer.DialCN(t, addr)
	require.Nil(t, m.Login("WALLET").Error)
	require.Equal(t, cnDiff(1000), stratum.DifficultyFromTarget(m.Job.Target))
	old := m.Job.JobID
	for range 16 {
		r := m.Submit()
		require.Nil(t, r.Error, r.Raw)
	}
	r := m.Read()
	require.Equal(t, "job", r.Method, r.Raw)
	require.Equal(t, old+"~1", m.Job.JobID)
	require.Equal(t, cnDiff(8000), stratum.DifficultyFromTarget(m.Job.Target))
	nonce, _ := m.Share()
	r = m.SubmitRaw(m.Session, old, nonce, cnResult(1500))
	require.Nil(t, r.Error, "in flight: judged at 1000: %s", r.Raw)
	nonce, _ = m.Share()
	r = m.SubmitRaw(m.Session, m.Job.JobID, nonce, cnResult(1500))
	require.NotNil(t, r.Error, r.Raw)
	require.Equal(t, stratum.MsgLowDifficulty, r.Error.Message)
	// A share meeting the pool's difficulty reaches it under its own id.
	nonce, _ = m.Share()
	r = m.SubmitRaw(m.Session, m.Job.JobID, nonce, cnResult(2_000_000))
	require.Nil(t, r.Error, r.Raw)
	require.Equal(t, int64(1), pool.Stats().Accepted)
}

// The same over SV1, and a miner that asked for a difficulty
// (mining.suggest_difficulty, or "+N") keeps it: vardiff stays off.
func TestVardiffE2E_SV1InFlight_Good(t *testing.T) {
	pool := startSV1Pool(t, sv1pool.Config{})
	cfg := sv1Config(pool.Addr())
	d0 := tinyDiff / 64
	cfg.Vardiff = vardiff.Config{Enabled: true, InitialDiff: d0, MinDiff: 1e-12}
	_, addr := startProxy(t, cfg)
	m := testminer.DialSV1(t, addr)
	m.Login("rig", 0)
	require.Equal(t, d0, m.Diff)
	old := m.Job.JobID
	for range 16 {
		r := m.Submit()
		require.True(t, r.Accepted(), r.Raw)
	}
	// The retargeted job follows the 16th share at once; when that share
	// met the pool's difficulty its answer comes from the pool, after the
	// job, and Submit has read the job already.
	if m.Job.JobID == old {
		m.WaitJob()
	}
	require.Equal(t, old+"~1", m.Job.JobID)
	require.Equal(t, 8*d0, m.Diff)
	// A share found at the old difficulty, below the new one, for the job
	// as first sent: accepted.
	share := func(at, below float64) (e2 []byte, ntime, nonce, vbits uint32) {
		saved := m.Diff
		defer func() { m.Diff = saved }()
		m.Diff = at
		for {
			e2, ntime, nonce, vbits = m.Share()
			if m.ShareDifficulty(e2, ntime, nonce, vbits) < below {
				return
			}
		}
	}
	e2, ntime, nonce, vbits := share(d0, 8*d0)
	r := m.SubmitRaw(old, e2, ntime, nonce, vbits)
	require.True(t, r.Accepted(), "in flight: judged at the old difficulty: %s", r.Raw)
	e2, ntime, nonce, vbits = share(d0, 8*d0)
	r = m.SubmitRaw(m.Job.JobID, e2, ntime, nonce, vbits)
	require.Equal(t, 23, r.ErrCode(), "below the new job's difficulty: %s", r.Raw)
	require.Zero(t, pool.Stats().Rejected)

	for _, how := range []string{"suggest", "+N"} {
		f := testminer.DialSV1(t, addr)
		user := "rig2"
		if how == "suggest" {
			f.Reply(f.Send(`"method":"mining.suggest_difficulty","params":[%v]}`, tinyDiff/4))
		} else {
			user = "rig2+100" // above the pool's: not granted, but the miner chose
		}
		f.Login(user, 0)
		want := f.Diff
		for range 24 {
			r := f.Submit()
			require.True(t, r.Accepted(), r.Raw)
		}
		require.Equal(t, want, f.Diff, "%s: no retarget after 24 quick shares", how)
		require.False(t, strings.Contains(f.Job.JobID, "~"), how)
	}
}

// Scrypt (Litecoin, Dogecoin) pools get vardiff too: the proxy verifies
// each share with scrypt, answers those below the pool's difficulty and
// forwards the rest, and refuses a share whose sha256d hash would pass but
// whose scrypt hash does not.
func TestVardiffE2E_Scrypt_Good(t *testing.T) {
	poolDiff := 1.0 / (1 << 7) // 512 scrypt hashes a share
	pool := startSV1Pool(t, sv1pool.Config{Difficulty: poolDiff, Algo: "scrypt"})
	cfg := sv1Config(pool.Addr())
	cfg.Pools[0].Algo = "scrypt"
	cfg.Vardiff = vardiff.Config{Enabled: true, InitialDiff: poolDiff / 8, MinDiff: 1e-12}
	p, addr := startProxy(t, cfg)
	m := testminer.DialSV1(t, addr)
	m.Scrypt = true
	m.Login("ltc.rig", 0)
	require.Equal(t, poolDiff/8, m.Diff)
	local := 0
	for i := 0; i < 200 && (local == 0 || pool.Stats().Accepted == 0); i++ {
		e2, ntime, nonce, vbits := m.Share()
		below := m.ShareDifficulty(e2, ntime, nonce, vbits) < poolDiff
		r := m.SubmitRaw(m.Job.JobID, e2, ntime, nonce, vbits)
		require.True(t, r.Accepted(), r.Raw)
		if below {
			local++
		}
	}
	require.Positive(t, local)
	require.Positive(t, pool.Stats().Accepted)
	require.Zero(t, pool.Stats().Rejected)
	// A sha256d share whose scrypt hash misses the miner's difficulty.
	m.Scrypt = false
	var e2 []byte
	var ntime, nonce, vbits uint32
	for {
		e2, ntime, nonce, vbits = m.Share()
		m.Scrypt = true
		d := m.ShareDifficulty(e2, ntime, nonce, vbits)
		m.Scrypt = false
		if d < m.Diff {
			break
		}
	}
	r := m.SubmitRaw(m.Job.JobID, e2, ntime, nonce, vbits)
	require.Equal(t, 23, r.ErrCode(), r.Raw)
	testutil.Eventually(t, func() bool { return p.Summary().ByFamily[FamilySV1].CustomAccepted >= uint64(local) }, "local scrypt accepts counted")
}
