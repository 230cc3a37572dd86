package stats

import "net/netip"

// Worker is the running total of one worker name on one event loop.
type Worker struct {
	Name        string
	LastIP      netip.Addr
	Connections int // miners connected now
	// Submitted counts every share the worker sent (valid or not);
	// SubmittedOne sums their difficulty ÷ the pool algorithm's divider
	// ("1-difficulty shares").
	Submitted    uint64
	SubmittedOne float64
	Accepted     uint64
	Rejected     uint64
	Invalid      uint64
	// Hashes estimates the hashes behind accepted shares (see
	// Counters.Hashes); OneAccepted sums accepted difficulty ÷ divider.
	Hashes      float64
	OneAccepted float64
	LastShare   int64 // unix second of the last accepted share (0 = none)
	LastSeen    int64 // unix second of the last login, share or close
	Rates       Rates
	// Speed is the seed metric's hashrate: hashes over the last five
	// whole minutes ÷ 300, recomputed once a minute.
	Speed float64
	speed minuteRing

	// Where the worker mines, as of its last login and job: for metric
	// labels and the API.
	Family     uint8
	User       string
	Pool       string
	Algo       string
	Divider    float64
	Difficulty float64
}

// minuteRing holds hashes per minute: the current minute and the five
// whole minutes before it.
type minuteRing struct {
	b      [6]float64
	minute int64 // the current minute; 0 = nothing recorded yet
}

// AddHashes records accepted work for the worker's five-minute speed.
func (w *Worker) AddHashes(now int64, h float64) {
	w.rollSpeed(now / 60)
	w.speed.b[w.speed.minute%6] += h
}

// rollSpeed makes m the current minute: buckets of minutes that passed are
// cleared and Speed becomes the five whole minutes before m ÷ 300 s.
func (w *Worker) rollSpeed(m int64) {
	r := &w.speed
	if r.minute == 0 {
		r.minute = m
		return
	}
	if m <= r.minute {
		return
	}
	for k := r.minute + 1; k <= m && k <= r.minute+6; k++ {
		r.b[k%6] = 0
	}
	r.minute = m
	var sum float64
	for i := int64(1); i <= 5; i++ {
		sum += r.b[(m-i)%6]
	}
	w.Speed = sum / 300
}

// Tick keeps Speed current for a worker that stopped submitting.
func (w *Worker) Tick(now int64) { w.rollSpeed(now / 60) }

// Workers is one event loop's table of workers by name, bounded in size
// and evicting workers idle too long (xmrig-proxy never forgets a worker,
// so its memory grows for ever). Not safe for concurrent use.
type Workers struct {
	byName  map[string]*Worker
	max     int
	Dropped uint64 // logins not tracked because the table was full
	Evicted uint64 // workers removed for idleness
}

// NewWorkers returns a table holding at most max workers (max ≥ 1).
func NewWorkers(max int) *Workers {
	return &Workers{byName: map[string]*Worker{}, max: max}
}

// SetMax changes the cap; existing workers stay until evicted.
func (w *Workers) SetMax(max int) { w.max = max }

// Get returns the worker called name, creating it when absent; nil when
// the table is full (the miner is then not tracked per worker).
func (w *Workers) Get(name string, now int64) *Worker {
	if wk, ok := w.byName[name]; ok {
		return wk
	}
	if len(w.byName) >= w.max {
		w.Dropped++
		return nil
	}
	wk := &Worker{Name: name, LastSeen: now}
	w.byName[name] = wk
	return wk
}

// Tick advances every worker's five-minute speed (call once a second).
func (w *Workers) Tick(now int64) {
	for _, wk := range w.byName {
		wk.Tick(now)
	}
}

// Evict removes workers without connections whose last activity is at
// least idle seconds before now, calling gone for each; it returns how
// many it removed.
func (w *Workers) Evict(now, idle int64, gone func(*Worker)) int {
	n := 0
	for name, wk := range w.byName {
		if wk.Connections == 0 && now-wk.LastSeen >= idle {
			delete(w.byName, name)
			n++
			if gone != nil {
				gone(wk)
			}
		}
	}
	w.Evicted += uint64(n)
	return n
}

// Len returns the number of workers.
func (w *Workers) Len() int { return len(w.byName) }

// Each calls fn for every worker, in no particular order.
func (w *Workers) Each(fn func(*Worker)) {
	for _, wk := range w.byName {
		fn(wk)
	}
}
