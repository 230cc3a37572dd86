package stats

import "net/netip"

// Worker is the running total of one worker name on one event loop.
type Worker struct {
	Name        string
	LastIP      netip.Addr
	Connections int // miners connected now
	Accepted    uint64
	Rejected    uint64
	Invalid     uint64
	Hashes      uint64 // sum of accepted share difficulties
	LastShare   int64  // unix second of the last accepted share (0 = none)
	LastSeen    int64  // unix second of the last login, share or close
	Rates       Rates
}

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
