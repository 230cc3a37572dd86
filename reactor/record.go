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
}

// workerName picks the worker name of a login under the workers mode.
func (s *shard) workerName(m *miner, pass []byte) string {
	switch s.cfg.Workers {
	case WorkersByUser:
		return m.user
	case WorkersByPassword:
		return s.intern(pass)
	case WorkersByAgent:
		return m.agent
	case WorkersByIP:
		return s.internString(m.addr.Addr().String())
	case WorkersDisabled:
		return ""
	}
	if m.rigID != "" {
		return m.rigID
	}
	return m.user
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

// workerLogin attaches a logged-in miner to its worker.
func (s *shard) workerLogin(m *miner) {
	if m.worker == "" {
		return
	}
	wk := s.st.workers.Get(m.worker, s.now)
	if wk == nil {
		return
	}
	m.wk = wk
	wk.Connections++
	wk.LastIP = m.addr.Addr()
	wk.LastSeen = s.now
}

// workerClosed detaches a closing miner from its worker.
func (s *shard) workerClosed(m *miner) {
	if wk := m.wk; wk != nil {
		wk.Connections--
		wk.LastSeen = s.now
		m.wk = nil
	}
}

func (s *shard) workerInvalid(m *miner) {
	if wk := m.wk; wk != nil {
		wk.Invalid++
		wk.LastSeen = s.now
	}
}

func (s *shard) workerRejected(m *miner) {
	if wk := m.wk; wk != nil {
		wk.Rejected++
		wk.LastSeen = s.now
	}
}

// recordAccept counts an accepted share of difficulty diff whose hash
// meets actual, answered after lat (0 for local answers).
func (s *shard) recordAccept(m *miner, diff, actual uint64, lat time.Duration) {
	s.counters.Accepted++
	s.counters.Hashes += diff
	s.st.best.Push(actual)
	if lat > 0 {
		s.st.latency.Add(uint32(min(lat.Milliseconds(), 1<<31)))
	}
	if wk := m.wk; wk != nil {
		wk.Accepted++
		wk.Hashes += diff
		wk.LastShare = s.now
		wk.LastSeen = s.now
		wk.Rates.Add(s.now, diff)
	}
}

// published is what a shard publishes every second for readers on other
// goroutines. Immutable once stored.
type published struct {
	counters  stats.Counters
	best      stats.Best
	latency   []uint32
	miners    uint64
	workers   uint64
	upstreams stats.Upstreams
	dropped   uint64
	evicted   uint64
}

// publish stores a copy of the shard's statistics and evicts idle workers.
func (s *shard) publish() {
	s.st.workers.Evict(s.now, int64(s.cfg.WorkersExpire), nil)
	pub := &published{
		counters: s.counters,
		best:     s.st.best,
		latency:  s.st.latency.Samples(nil),
		miners:   uint64(s.count),
		workers:  uint64(s.st.workers.Len()),
		dropped:  s.st.workers.Dropped,
		evicted:  s.st.workers.Evicted,
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
