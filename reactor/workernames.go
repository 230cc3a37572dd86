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
// collision among 100,000 names has odds of about 3e-10), in an
// open-addressing table (linear probing, at most 3/4 full, backward-shift
// deletion): 10 bytes a slot, ~22 bytes a name at 15,000 where a Go map
// took ~37. Goroutine-safe; touched only when a loop creates or forgets a
// worker record, never per share.
type workerNames struct {
	mu    sync.Mutex
	hash  []uint64 // 0 = free (a zero hash is kept as 1)
	loops []uint16 // how many loops hold the name at the same index
	n     int
}

var workerNameSeed = maphash.MakeSeed()

func nameHash(name string) uint64 {
	if h := maphash.String(workerNameSeed, name); h != 0 {
		return h
	}
	return 1
}

// slot returns the index holding h, or the free index ending its probe
// (and false). The table must have a free slot. The probing, growth and
// backward-shift deletion are those of stats.Workers (stats/workers.go),
// which keys records by name instead of hashes: mend both together.
func (w *workerNames) slot(h uint64) (int, bool) {
	mask := len(w.hash) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch w.hash[i] {
		case 0:
			return i, false
		case h:
			return i, true
		}
	}
}

func (w *workerNames) add(name string) {
	h := nameHash(name)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n > 0 {
		if i, ok := w.slot(h); ok {
			w.loops[i]++
			return
		}
	}
	if (w.n+1)*4 > len(w.hash)*3 {
		w.resize(max(16, 2*len(w.hash)))
	}
	i, _ := w.slot(h)
	w.hash[i], w.loops[i] = h, 1
	w.n++
}

func (w *workerNames) remove(name string) {
	h := nameHash(name)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 {
		return
	}
	i, ok := w.slot(h)
	if !ok {
		return
	}
	if w.loops[i] > 1 {
		w.loops[i]--
		return
	}
	mask := len(w.hash) - 1
	w.hash[i], w.loops[i] = 0, 0
	w.n--
	for j := (i + 1) & mask; w.hash[j] != 0; j = (j + 1) & mask {
		home := int(w.hash[j]) & mask
		// Slot j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			w.hash[i], w.loops[i] = w.hash[j], w.loops[j]
			w.hash[j], w.loops[j] = 0, 0
			i = j
		}
	}
	if w.n == 0 {
		w.hash, w.loops = nil, nil
	} else if len(w.hash) > 64 && w.n*8 < len(w.hash) {
		w.resize(len(w.hash) / 2)
	}
}

// resize rehashes every name into size slots (a power of two).
func (w *workerNames) resize(size int) {
	oldH, oldL := w.hash, w.loops
	w.hash, w.loops = make([]uint64, size), make([]uint16, size)
	for k, h := range oldH {
		if h != 0 {
			i, _ := w.slot(h)
			w.hash[i], w.loops[i] = h, oldL[k]
		}
	}
}

// len returns the number of distinct names.
func (w *workerNames) len() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return uint64(w.n)
}

// workerForgotten is the shard's eviction callback (loop-only).
func (s *shard) workerForgotten(wk *stats.Worker) { s.p.workerNames.remove(wk.Name) }
