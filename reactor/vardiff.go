package reactor

import (
	"fmt"
	"math"

	"forge.lthn.ai/core/go-proxy/nonce"
	"forge.lthn.ai/core/go-proxy/stats"
	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/vardiff"
)

// Per-miner difficulty (vardiff): the reactor side of package vardiff.
//
// A miner gets vardiff when its bind's "vardiff" section (the top-level one
// with bind[].vardiff's keys on top) is enabled and it has no difficulty of
// its own: no "+N" login suffix, no custom-diff, no mining.suggest_difficulty
// or minimum-difficulty (SV1), and, for SV1, a pool whose proof of work the
// proxy checks (sha256d, scrypt). It starts with the first job it is sent:
// a minerVD is allocated then (96 bytes; none for other miners) and never
// freed before the miner leaves, since it also remembers the difficulty of
// the jobs the miner may still answer.
//
//   - Every share the proxy judged valid counts in the controller
//     (vdShare), at the difficulty it was judged at; one that proves the
//     rate far off retargets at once. The 1 Hz sweep calls Retarget
//     (vdTick): no timer per miner.
//   - A new difficulty goes out at once with the session's newest job
//     under a variant of its id (stratum.SplitJobVariant; SV1:
//     mining.set_difficulty, then the job, clean, with ntime advanced by
//     the variant number so that a miner that restarts its extranonce2 on
//     a new id does not repeat work). When no variant can be made (255 used
//     on one job, an id too long) it goes out with the next pool job.
//   - Each job id the miner got has one difficulty: vdMark records the
//     difficulty from a job on, and a share is judged at the difficulty of
//     the job (and variant) it names — a share still in flight across a
//     change is judged at the old one. The pool's id is restored before a
//     share is forwarded.
//   - Shares below the pool's difficulty are answered here (counted as
//     custom, and in accepted and the hashrate: see shareCredit); those
//     meeting it are forwarded and the pool's answer goes back.
//
// Everything here is loop-only.

// validateVardiff checks the vardiff section and each bind's override as
// merged with it; errors name the key ("bind[1].vardiff.min-diff: ...").
func (c *Config) validateVardiff() error {
	top := c.Vardiff
	top.Normalize()
	if err := top.Validate(); err != nil {
		return fmt.Errorf("vardiff.%w", err)
	}
	for i, b := range c.Bind {
		if b.Vardiff == nil {
			continue
		}
		merged := b.Vardiff.Apply(top)
		if err := merged.Validate(); err != nil {
			return fmt.Errorf("bind[%d].vardiff.%w", i, err)
		}
	}
	return nil
}

// vdTable is a shard's vardiff settings per bind, rebuilt when the shard's
// configuration changes (a reload).
type vdTable struct {
	of     *Config          // the configuration it was built from
	top    vardiff.Config   // the top-level section (binds the table does not know)
	byBind []vardiff.Config // the merged section of each bind, in Proxy.binds order
	any    bool             // some bind has vardiff enabled
}

// vdSettings returns the shard's table, brought up to date.
func (s *shard) vdSettings() *vdTable {
	t := &s.vd
	if t.of == s.cfg {
		return t
	}
	c := s.cfg
	t.of, t.top, t.any = c, c.Vardiff, c.Vardiff.Enabled
	t.byBind = t.byBind[:0]
	for _, b := range c.Bind {
		v := b.Vardiff.Apply(c.Vardiff)
		t.byBind = append(t.byBind, v)
		t.any = t.any || v.Enabled
	}
	return t
}

// vdConfig returns the vardiff settings of the miners of bind b.
func (s *shard) vdConfig(b *bindInfo) *vardiff.Config {
	t := s.vdSettings()
	for i, x := range s.p.binds {
		if x == b && i < len(t.byBind) {
			return &t.byBind[i]
		}
	}
	return &t.top
}

// scryptHasher returns the shard's scrypt memory for a scrypt pool's share
// check (nil for other algorithms), making it the first time.
func (s *shard) scryptHasher(pow stratum.SV1Algo) *stratum.ScryptHasher {
	if pow != stratum.SV1AlgoScrypt {
		return nil
	}
	if s.scrypt == nil {
		s.scrypt = new(stratum.ScryptHasher)
	}
	return s.scrypt
}

// vdMarks is how many difficulty changes a miner remembers: enough for the
// jobs it may still answer (CryptoNote: the current and the previous pool
// job; SV1: those since the last clean job), which see one change, rarely
// two (the controller changes a difficulty at most every few target
// intervals).
const vdMarks = 3

// minerVD is a miner's vardiff state: the controller, and the difficulty
// of the jobs it was sent (96 bytes).
type minerVD struct {
	st    vardiff.State
	marks [vdMarks]vdMark // oldest first; n of them are set
	n     uint8
	v     uint8  // the highest variant of job key sent so far (0: the pool's id only)
	key   uint32 // the key of the newest job sent
	mp    uint64 // the session (mapper id) the marks belong to
	// prevMp is the session before mp: when the miner moves to another
	// session, the last difficulty it had on the old one is kept as a mark
	// from 0 (no job key is 0), for its shares still in flight there.
	prevMp uint64
}

// vdMark says that the jobs from job key<<8|variant on were sent at diff.
// A job key is the session's duplicate window for CryptoNote (one per pool
// job id) and the job's sequence number for SV1: both grow with every new
// job of a session.
type vdMark struct {
	from uint64
	diff float64
}

// mark records that job key, variant v, was sent to the miner at diff d.
func (vd *minerVD) mark(mp uint64, key uint32, v uint8, d float64) {
	from := uint64(key)<<8 | uint64(v)
	switch {
	case vd.mp != mp:
		// Another session: keep the old one's last difficulty for the
		// shares in flight there (see prevMp), and start over.
		if vd.n > 0 {
			vd.marks[0], vd.n, vd.prevMp = vdMark{diff: vd.marks[vd.n-1].diff}, 1, vd.mp
		}
		vd.mp, vd.v = mp, 0
		if vd.n > 0 && vd.marks[0].diff == d {
			vd.setNewest(key, v)
			return
		}
	case vd.n == 0 || from < vd.marks[vd.n-1].from:
		// A job older than the last one sent (the newest job re-sent under
		// the pool's id): start over.
		vd.n, vd.v = 0, 0
	case vd.marks[vd.n-1].diff == d:
		vd.setNewest(key, v)
		return
	case vd.marks[vd.n-1].from == from:
		vd.marks[vd.n-1].diff = d // the same job re-sent with another difficulty
		vd.setNewest(key, v)
		return
	}
	if int(vd.n) == len(vd.marks) {
		copy(vd.marks[:], vd.marks[1:])
		vd.n--
	}
	vd.marks[vd.n] = vdMark{from: from, diff: d}
	vd.n++
	vd.setNewest(key, v)
}

func (vd *minerVD) setNewest(key uint32, v uint8) {
	if key != vd.key {
		vd.key, vd.v = key, 0
	}
	vd.v = max(vd.v, v)
}

// judged returns the difficulty job key, variant v, of session mp was sent
// at; false when the marks know nothing of that session.
func (vd *minerVD) judged(mp uint64, key uint32, v uint8) (float64, bool) {
	if vd.n == 0 {
		return 0, false
	}
	if vd.mp != mp {
		if mp == vd.prevMp && vd.marks[0].from == 0 {
			return vd.marks[0].diff, true // a share in flight on the session the miner left
		}
		return 0, false
	}
	from := uint64(key)<<8 | uint64(v)
	for i := int(vd.n) - 1; i >= 0; i-- {
		if vd.marks[i].from <= from {
			return vd.marks[i].diff, true
		}
	}
	return vd.marks[0].diff, true // older than every change remembered
}

// sent reports whether variant v of job key of session mp can have been
// sent to the miner: variants above the highest one sent for the newest job
// were not (any of the session it left may have been).
func (vd *minerVD) sent(mp uint64, key uint32, v uint8) bool {
	if vd.mp != mp {
		return mp == vd.prevMp
	}
	return key != vd.key || v <= vd.v
}

// current is the difficulty of the newest job sent (0: none).
func (vd *minerVD) current() float64 {
	if vd.n == 0 {
		return 0
	}
	return vd.marks[vd.n-1].diff
}

// vdKey is the key of the session's newest job (see vdMark).
func (mp *mapper) vdKey() uint32 {
	if sv := mp.sv; sv != nil {
		if n := len(sv.jobs); n > 0 {
			return sv.jobs[n-1].seq
		}
		return 0
	}
	return mp.win
}

// vdPool is the pool's difficulty for the session's next job: the bound
// of every miner's.
func (mp *mapper) vdPool() float64 {
	if sv := mp.sv; sv != nil {
		return sv.diff
	}
	return float64(mp.jobDiff)
}

// vdHashesPerDiff is the hashes behind a difficulty-1 share on the session.
func (mp *mapper) vdHashesPerDiff() float64 {
	if sv := mp.sv; sv != nil {
		return hashesPerDiff / sv.divider
	}
	return 1
}

// vdEligible reports whether vardiff may run for m on mp under c.
func (m *miner) vdEligible(mp *mapper, c *vardiff.Config) bool {
	if !c.Enabled {
		return false
	}
	if m.family == FamilySV1 {
		return m.sv != nil && m.sv.custom == 0 && mp.sv != nil && mp.sv.pow.Hashable()
	}
	return m.customDiff == 0
}

// vdBase is the difficulty m has without vardiff: its own when lower than
// the pool's, the pool's otherwise.
func (m *miner) vdBase(mp *mapper) float64 {
	if mp.sv != nil {
		return m.sv1BaseDifficulty(mp)
	}
	d := mp.jobDiff
	if m.customDiff != 0 && m.customDiff < d {
		d = m.customDiff
	}
	return float64(d)
}

// vdWhole is the difficulty sent for the controller's d: whole numbers at
// 1 and above (rounded down, so never above the pool's; CryptoNote
// difficulties are whole, and much SV1 firmware reads only whole ones),
// fractions below 1 as they are (SV1 CPU miners, test pools).
func (m *miner) vdWhole(d float64) float64 {
	if d >= 1 || m.family == FamilyCryptoNote {
		return max(math.Floor(d), 1)
	}
	return d
}

// sv1Whole is an SV1 difficulty as /1/miners shows it (a whole number).
func sv1Whole(d float64) uint64 {
	if !(d > 0) || d >= math.MaxUint64 {
		return 0
	}
	return uint64(math.Round(d))
}

// vdStart activates the controller; false when it cannot run (the pool has
// no usable difficulty yet).
func (m *miner) vdStart(mp *mapper, c *vardiff.Config) bool {
	est := 0.0
	if wk := m.wk; wk != nil {
		// The worker's recent rate per other connection of it: the rig's own
		// when it reconnects, the mean of its rigs when several share the
		// name. Too high errs on the safe side (fewer shares to check).
		est = wk.Rates.At(m.s.now)[stats.Window600s] / float64(max(1, wk.Connections-1))
	}
	return m.vd.st.Start(c, mp.vdPool(), est, mp.vdHashesPerDiff(), m.s.now) > 0
}

// vdJob returns the difficulty m gets with the session's newest job, about
// to be sent under the pool's id: base (see vdBase) unless vardiff runs for
// m, which it starts for a miner that qualifies. For a miner with vardiff
// state it records the job's difficulty for the share check. The common
// case (vardiff off) costs two comparisons.
func (m *miner) vdJob(mp *mapper, base float64) float64 {
	vd := m.vd
	if vd == nil && !m.s.vdSettings().any {
		return base
	}
	c := m.s.vdConfig(m.bind)
	ok := m.vdEligible(mp, c)
	if vd == nil {
		if !ok {
			return base
		}
		vd = &minerVD{}
		m.vd = vd
	}
	d := base
	switch {
	case !ok:
		vd.st.Stop()
	case vd.st.Active() || m.vdStart(mp, c):
		vd.st.Bound(c, mp.vdPool(), m.s.now)
		d = min(m.vdWhole(vd.st.Diff()), mp.vdPool())
	}
	vd.mark(mp.id, mp.vdKey(), 0, d)
	return d
}

// vdTick is the miner's part of the 1 Hz sweep (m.vd != nil): retarget,
// or apply a reload that turned vardiff on or off for the miner (or a
// difficulty the miner has since asked for).
func (m *miner) vdTick() {
	mp := m.mp
	if mp == nil || m.state != stateReady || !mp.hasJob {
		return
	}
	vd := m.vd
	c := m.s.vdConfig(m.bind)
	if !m.vdEligible(mp, c) {
		if vd.st.Active() {
			vd.st.Stop()
			m.vdApply(mp, m.vdBase(mp))
		}
		return
	}
	if !vd.st.Active() {
		if m.vdStart(mp, c) {
			m.vdApply(mp, min(m.vdWhole(vd.st.Diff()), mp.vdPool()))
		}
		return
	}
	if _, changed := vd.st.Retarget(c, mp.vdPool(), m.s.now); changed {
		m.vdApply(mp, min(m.vdWhole(vd.st.Diff()), mp.vdPool()))
	}
}

// vdShare counts a share the proxy judged valid at difficulty judged, and
// retargets at once when the controller says shares come far too fast.
func (m *miner) vdShare(mp *mapper, judged float64) {
	vd := m.vd
	if vd == nil || !vd.st.Active() {
		return
	}
	c := m.s.vdConfig(m.bind)
	if !vd.st.Share(c, judged, m.s.now) || !mp.hasJob {
		return
	}
	if _, changed := vd.st.Retarget(c, mp.vdPool(), m.s.now); changed {
		m.vdApply(mp, min(m.vdWhole(vd.st.Diff()), mp.vdPool()))
	}
}

// vdCounts reports whether vardiff sets m's difficulty, so that its
// locally answered shares count in the statistics.
func (m *miner) vdCounts() bool { return m.vd != nil && m.vd.st.Active() }

// shareCredit is the difficulty an accepted share is credited at in the
// statistics (hashes, hashrate windows, workers): the one it was judged at
// when the miner's locally answered shares count (vardiff, or
// custom-diff-stats), so that each share counts once at its own
// difficulty; the pool's otherwise, when only shares reaching the pool
// count, each at the pool's difficulty. Both are unbiased estimates of the
// work; mixing them would count the work behind a forwarded share twice.
func (m *miner) shareCredit(judged, pool float64) float64 {
	if judged < pool && (m.vdCounts() || m.s.cfg.CustomDiffStats) {
		return judged
	}
	return pool
}

// vdApply sends m difficulty d now, with the session's newest job under
// the next variant of its id. When it cannot (no variant left on the job,
// an id too long to take a suffix), d goes out with the next pool job.
func (m *miner) vdApply(mp *mapper, d float64) {
	vd := m.vd
	if d == vd.current() || m.jobMark != mp.stamp {
		// Unchanged, or m still waits for the session's newest job in a
		// fan-out (fanout.go), which brings d.
		return
	}
	key := mp.vdKey()
	v := uint8(1)
	if vd.mp == mp.id && vd.key == key {
		if vd.v == stratum.MaxJobVariant {
			return
		}
		v = vd.v + 1
	}
	s := m.s
	if sv := mp.sv; sv != nil {
		n := len(sv.jobs)
		if n == 0 || !stratum.JobVariantFits(sv.jobs[n-1].job.JobID) {
			return
		}
		j := sv.jobs[n-1]
		m.sv.diff, m.diff = d, sv1Whole(d)
		s.out = stratum.AppendSV1SetDifficulty(s.out[:0], d)
		m.send(s.out)
		// clean_jobs true: cpuminer, for one, switches its threads to a
		// job that is not clean only at the end of its scan (up to 5 s
		// later). The pool's job stays valid: shares for it (sent before the
		// miner switched) are judged at the difficulty it was sent at.
		s.out = stratum.AppendSV1NotifyVariant(s.out[:0], &j.job, v, j.bin.NTime+uint32(v), true)
		m.send(s.out)
	} else {
		if !stratum.JobVariantFits(mp.job.JobID) {
			return
		}
		m.diff = uint64(d)
		o := stratum.JobOptions{FixedByte: -1, Algo: *s.cfg.AlgoExt && m.extAlgo, Variant: v}
		if mp.kind == kindNiceHash {
			o.FixedByte = int(m.fixed)
		}
		if m.diff != mp.jobDiff {
			o.Target = b2s(stratum.AppendTarget(s.target[:0], m.diff))
		}
		s.out = stratum.AppendJobNotify(s.out[:0], &mp.job, m.sessionID(), o)
		m.send(s.out)
	}
	if m.wk != nil {
		m.wk.Difficulty = d
	}
	vd.mark(mp.id, key, v, d)
}

// vdFindJobCN resolves a CryptoNote share naming a variant of one of the
// session's jobs: the job state, the variant, and p.JobID cut back to the
// pool's id. JobUnknown when the id is no variant the miner was sent.
func (m *miner) vdFindJobCN(mp *mapper, p *stratum.Params) (nonce.JobState, uint8) {
	base, v, ok := stratum.SplitJobVariant(p.JobID)
	if !ok {
		return nonce.JobUnknown, 0
	}
	js := mp.jobs.Check(base)
	if js == nonce.JobUnknown || !m.vd.sent(mp.id, cnJobKey(mp, js), v) {
		return nonce.JobUnknown, 0
	}
	p.JobID = base
	return js, v
}

// cnJobKey is the job key (see vdMark) of the session's current or
// previous job.
func cnJobKey(mp *mapper, js nonce.JobState) uint32 {
	if js == nonce.JobPrevious {
		return mp.win - 1
	}
	return mp.win
}

// vdJudgedCN is the difficulty a CryptoNote share is judged at: that of
// the job (and variant) it names when vardiff set m's difficulty, never
// above the pool's; fallback otherwise.
func (m *miner) vdJudgedCN(mp *mapper, js nonce.JobState, v uint8, fallback uint64) uint64 {
	if m.vd == nil {
		return fallback
	}
	d, ok := m.vd.judged(mp.id, cnJobKey(mp, js), v)
	if !ok {
		return fallback
	}
	pool := mp.jobDiff
	if js == nonce.JobPrevious {
		pool = mp.prevDiff
	}
	return min(uint64(d), pool)
}

// vdFindJobSV1 resolves an SV1 share naming a variant of one of the
// session's jobs: the job, whether it is the replaced one, the variant,
// and sub.JobID cut back to the pool's id. nil when the id is no variant
// the miner was sent.
func (m *miner) vdFindJobSV1(mp *mapper, sub *stratum.SV1Submit) (*sv1Job, bool, uint8) {
	base, v, ok := stratum.SplitJobVariant(sub.JobID)
	if !ok {
		return nil, false, 0
	}
	job, expired := mp.sv1FindJob(base)
	if job == nil || !m.vd.sent(mp.id, job.seq, v) {
		return nil, false, 0
	}
	sub.JobID = base
	return job, expired, v
}

// sv1Judged is the difficulty an SV1 share for job (variant v) is judged
// at: the job's own for m when vardiff set it, else the miner's custom
// difficulty when lower than the pool's, else the pool's.
func (m *miner) sv1Judged(mp *mapper, job *sv1Job, v uint8) float64 {
	if m.vd != nil {
		if d, ok := m.vd.judged(mp.id, job.seq, v); ok {
			return d
		}
	}
	if c := m.sv.custom; c > 0 && c < job.diff {
		return c
	}
	return job.diff
}

// vdShareSessionCN finds a CryptoNote share's job among the variants (the
// job re-sent under an id of its own with the miner's difficulty) sent to
// m on its session, or on the session it left at its last move (routing).
// It returns the session, the miner's slot there, the job's state and the
// variant; p.JobID becomes the pool's own id when found.
func (m *miner) vdShareSessionCN(p *stratum.Params) (*mapper, uint32, nonce.JobState, uint8) {
	if js, v := m.vdFindJobCN(m.mp, p); js != nonce.JobUnknown {
		return m.mp, m.fixed, js, v
	}
	if pm := m.prev; pm != nil && pm.state != mapperClosed {
		if js, v := m.vdFindJobCN(pm, p); js != nonce.JobUnknown {
			return pm, m.prevFixed, js, v
		}
	}
	return m.mp, m.fixed, nonce.JobUnknown, 0
}
