package reactor

import (
	"hash/maphash"
	"sync"

	"forge.lthn.ai/core/go-proxy/stats"
)

// workerNames counts the distinct worker names across the event loops.
// Each loop keeps its own record of a name, so adding up the loops'
// tables counts a worker once per loop it has miners on (4,039 for 2,020
// real ones on two loops). A loop adds a name when it creates its record
// and removes it when it forgets the record; a name counts while any loop
// has it. Names are kept as 64-bit hashes with a count of loops (a
// collision among 100,000 names has odds of about 3e-10). Goroutine-safe;
// touched only when a loop creates or forgets a worker record, never per
// share.
type workerNames struct {
	mu     sync.Mutex
	byHash map[uint64]int32
}

var workerNameSeed = maphash.MakeSeed()

func (w *workerNames) add(name string) {
	h := maphash.String(workerNameSeed, name)
	w.mu.Lock()
	if w.byHash == nil {
		w.byHash = map[uint64]int32{}
	}
	w.byHash[h]++
	w.mu.Unlock()
}

func (w *workerNames) remove(name string) {
	h := maphash.String(workerNameSeed, name)
	w.mu.Lock()
	if n := w.byHash[h]; n > 1 {
		w.byHash[h] = n - 1
	} else {
		delete(w.byHash, h)
	}
	w.mu.Unlock()
}

// len returns the number of distinct names.
func (w *workerNames) len() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return uint64(len(w.byHash))
}

// workerForgotten is the shard's eviction callback (loop-only).
func (s *shard) workerForgotten(wk *stats.Worker) { s.p.workerNames.remove(wk.Name) }
