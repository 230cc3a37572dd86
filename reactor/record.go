package reactor

import (
	"time"

	"forge.lthn.ai/core/go-proxy/stats"
)

// shardStats is the statistics state of a shard, beside its counters.
type shardStats struct {
	workers *stats.Workers
	best    stats.Best
	latency stats.Latency
	hist    stats.LatencyHistogram
}

// workerName picks the worker name of a login under the workers mode.
func (s *shard) workerName(m *miner, pass []byte) string {
	switch s.cfg.Workers {
	case WorkersByUser:
		return m.userName()
	case WorkersByPassword:
		return s.intern(pass)
	case WorkersByAgent:
		return m.agentName()
	case WorkersByIP:
		return s.internString(m.addr.Addr().String())
	case WorkersDisabled:
		return ""
	}
	if m.rigID != "" {
		return m.rigID
	}
	return m.userName()
}

func (s *shard) internString(v string) string {
	if x, ok := s.strs[v]; ok {
		return x
	}
	if len(s.strs) >= maxInterned {
		clear(s.strs)
	}
	s.strs[v] = v
	return v
}

// workerLogin attaches a logged-in miner to the worker called name.
func (s *shard) workerLogin(m *miner, name string) {
	if name == "" {
		return
	}
	n := s.st.workers.Len()
	wk := s.st.workers.Get(name, s.now)
	if wk == nil {
		return
	}
	if s.st.workers.Len() > n { // a new record on this loop
		s.p.workerNames.add(name)
	}
	m.wk = wk
	wk.Connections++
	wk.SetLastIP(m.addr.Addr())
	wk.LastSeen = uint32(s.now)
	wk.Family = uint8(m.family)
	wk.Where = s.placement(stats.Placement{User: m.userName()})
}

// maxPlacements bounds a shard's table of interned placements.
const maxPlacements = 4096

// placement interns a worker placement, so the workers mining in one place
// share one copy of its labels.
func (s *shard) placement(p stats.Placement) *stats.Placement {
	if v, ok := s.places[p]; ok {
		return v
	}
	if len(s.places) >= maxPlacements {
		clear(s.places)
	}
	v := new(stats.Placement) // p itself stays on the stack: a hit allocates nothing
	*v = p
	s.places[p] = v
	return v
}

// workerMapper records where a worker mines (metric labels): the pool as
// host:port, the algorithm, its divider and the miner's difficulty.
func (s *shard) workerMapper(m *miner, mp *mapper) {
	wk := m.wk
	if wk == nil {
		return
	}
	p := stats.Placement{User: m.userName(), Algo: mp.job.Algo, Divider: 1}
	if mp.conn != nil {
		p.Pool = mp.conn.addr
	}
	if t := mp.tgt; t != nil {
		p.Route, p.Target = t.route.name, t.name
	}
	wk.Difficulty = float64(m.diff)
	if mp.sv != nil {
		p.Algo, p.Divider, wk.Difficulty = mp.sv.algo, mp.sv.divider, m.sv.diff
	}
	if wk.Where == nil || *wk.Where != p {
		wk.Where = s.placement(p)
	}
}

// workerSubmitted counts a share a worker sent, whatever its fate.
func (s *shard) workerSubmitted(m *miner, diff float64) {
	if wk := m.wk; wk != nil {
		wk.Submitted++
		divider := 1.0
		if wk.Where != nil && wk.Where.Divider > 0 {
			divider = wk.Where.Divider
		}
		wk.SubmittedOne += diff / divider
	}
}

// workerClosed detaches a closing miner from its worker.
func (s *shard) workerClosed(m *miner) {
	if wk := m.wk; wk != nil {
		wk.Connections--
		wk.LastSeen = uint32(s.now)
		m.wk = nil
	}
}

func (s *shard) workerInvalid(m *miner) {
	if wk := m.wk; wk != nil {
		wk.Invalid++
		wk.LastSeen = uint32(s.now)
	}
}

func (s *shard) workerRejected(m *miner) {
	if wk := m.wk; wk != nil {
		wk.Rejected++
		wk.LastSeen = uint32(s.now)
	}
}

// recordAccept counts an accepted share credited with difficulty diff
// (hashes = the work it stands for: diff for CryptoNote, diff·2^32/divider
// for SV1) whose hash meets actual, answered after lat (0 = local answer).
func (s *shard) recordAccept(m *miner, diff, hashes float64, actual uint64, lat time.Duration) {
	c := &s.fc[m.family]
	c.Accepted++
	c.Hashes += hashes
	c.DiffSum += diff
	s.st.best.Push(actual)
	if lat > 0 {
		ms := float64(lat) / float64(time.Millisecond)
		s.st.latency.Add(uint32(min(ms, 1<<31)))
		s.st.hist.Observe(ms)
	}
	if wk := m.wk; wk != nil {
		wk.Accepted++
		wk.Hashes += hashes
		wk.LastShare = uint32(s.now)
		wk.LastSeen = uint32(s.now)
		wk.Rates.Add(s.now, hashes)
		wk.AddHashes(s.now, hashes)
	}
}

// published is what a shard publishes every second for readers on other
// goroutines. Immutable once stored.
type published struct {
	counters  [3]stats.Counters
	best      stats.Best
	latency   []uint32
	hist      stats.LatencyHistogram
	miners    uint64
	byFamily  [3]uint64
	upstreams stats.Upstreams
	dropped   uint64
	evicted   uint64
	poolErrs  map[string]stats.PoolErrors // shared, read-only
	// table and targets are the loop's routing figures (route_shard.go)
	// for that route table.
	table   *routeTable
	targets []targetLocal
}

// publish stores a copy of the shard's statistics and evicts idle workers.
func (s *shard) publish() {
	s.st.workers.Evict(s.now, int64(s.cfg.WorkersExpire), s.forgetFn)
	pub := &published{
		counters: s.fc,
		best:     s.st.best,
		hist:     s.st.hist,
		latency:  s.st.latency.Samples(nil),
		miners:   uint64(s.count),
		dropped:  s.st.workers.Dropped,
		evicted:  s.st.workers.Evicted,
		poolErrs: s.poolErrs.published(),
		table:    s.table,
		targets:  append([]targetLocal(nil), s.tl...),
	}
	for _, m := range s.miners {
		if m != nil {
			pub.byFamily[m.family]++
		}
	}
	for _, mp := range s.mappers {
		switch mp.state {
		case mapperActive:
			pub.upstreams.Active++
		case mapperIdle:
			pub.upstreams.Sleep++
		case mapperClosed:
			continue
		default:
			pub.upstreams.Error++
		}
		pub.upstreams.Total++
	}
	s.pub.Store(pub)
}
