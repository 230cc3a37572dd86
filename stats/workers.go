package stats

import (
	"hash/maphash"
	"net/netip"
)

// Worker is the running total of one worker name on one event loop. It
// is kept small (one per rig in a large farm): counters that cannot grow
// past 2^32 in practice are 32-bit, rates are float32, and the labels a
// worker shares with its neighbours (user, pool, algorithm) live in one
// interned Placement.
type Worker struct {
	Name   string
	lastIP [16]byte // IPv4-mapped
	// Connections counts miners connected now.
	Connections int32
	Family      uint8
	hasIP       bool
	Rejected    uint32
	Invalid     uint32
	// Submitted counts every share the worker sent (valid or not);
	// SubmittedOne sums their difficulty ÷ the pool algorithm's divider
	// ("1-difficulty shares").
	Submitted    uint64
	SubmittedOne float64
	Accepted     uint64
	// Hashes estimates the hashes behind accepted shares (see
	// Counters.Hashes): difficulty for CryptoNote, difficulty·2^32/divider
	// for SV1, so accepted 1-difficulty shares are derived from it.
	Hashes float64
	// LastShare is the unix second of the last accepted share (0 =
	// none), LastSeen that of the last login, share or close: 32-bit,
	// like Rates' seconds (good until 2106), which keeps the record in
	// the 160-byte size class.
	LastShare uint32
	LastSeen  uint32
	Rates     Rates
	speed     minuteRing
	// Where is the worker's user, pool and algorithm as of its last job
	// (shared with the other workers in the same place); nil before.
	Where      *Placement
	Difficulty float64
}

// Placement is where workers mine: the labels of the seed metrics. It is
// shared (interned) by the workers of one place; treat it as immutable.
type Placement struct {
	User    string
	Pool    string // host:port
	Algo    string
	Divider float64
	// Route and Target name the routing target the worker mines on ("" when
	// not routed).
	Route, Target string
}

// SetLastIP records the worker's latest address.
func (w *Worker) SetLastIP(a netip.Addr) {
	w.lastIP, w.hasIP = a.As16(), a.IsValid()
}

// LastIP returns the worker's latest address (invalid when none).
func (w *Worker) LastIP() netip.Addr {
	if !w.hasIP {
		return netip.Addr{}
	}
	return netip.AddrFrom16(w.lastIP).Unmap()
}

// OneAccepted returns the accepted difficulty ÷ divider
// ("1-difficulty shares"), derived from Hashes.
func (w *Worker) OneAccepted() float64 {
	if w.Family == sv1Family {
		return w.Hashes / (1 << 32)
	}
	return w.Hashes
}

// sv1Family is reactor.FamilySV1 (stats cannot import the reactor).
const sv1Family = 2

// minuteRing holds hashes per minute: the current minute and the five
// whole minutes before it.
type minuteRing struct {
	b      [6]float32
	minute int32 // the current minute; 0 = nothing recorded yet
}

// AddHashes records accepted work for the worker's five-minute speed.
func (w *Worker) AddHashes(now int64, h float64) {
	w.rollSpeed(now / 60)
	w.speed.b[w.speed.minute%6] += float32(h)
}

// rollSpeed makes m the current minute, clearing the buckets of the
// minutes that passed.
func (w *Worker) rollSpeed(m int64) {
	r := &w.speed
	if r.minute == 0 {
		r.minute = int32(m)
		return
	}
	if m <= int64(r.minute) {
		return
	}
	for k := int64(r.minute) + 1; k <= m && k <= int64(r.minute)+6; k++ {
		r.b[k%6] = 0
	}
	r.minute = int32(m)
}

// Speed is the seed metric's hashrate: the hashes of the five whole
// minutes before the current one ÷ 300 s (the current minute is the one
// of the last AddHashes or Tick).
func (w *Worker) Speed() float64 {
	r := &w.speed
	if r.minute == 0 {
		return 0
	}
	var sum float64
	for i := int32(1); i <= 5; i++ {
		sum += float64(r.b[(r.minute-i)%6])
	}
	return sum / 300
}

// Tick keeps Speed current for a worker that stopped submitting.
func (w *Worker) Tick(now int64) { w.rollSpeed(now / 60) }

// Workers is one event loop's table of workers by name, bounded in size
// and evicting workers idle too long (xmrig-proxy never forgets a worker,
// so its memory grows for ever). Not safe for concurrent use.
//
// The table is a set of records keyed by their own Name (open addressing,
// linear probing, at most 3/4 full): 8 bytes per slot, where a Go map
// keeps a second copy of each name's header beside the pointer and is
// between 7/16 and 7/8 full — about 17 bytes per worker instead of ~55
// at 15,000 miners with their own rig ids.
type Workers struct {
	slots   []*Worker // nil = free; len is a power of two or 0
	n       int
	seed    maphash.Seed
	max     int
	Dropped uint64 // logins not tracked because the table was full
	Evicted uint64 // workers removed for idleness
}

// NewWorkers returns a table holding at most max workers (max ≥ 1).
func NewWorkers(max int) *Workers {
	return &Workers{max: max, seed: maphash.MakeSeed()}
}

// SetMax changes the cap; existing workers stay until evicted.
func (w *Workers) SetMax(max int) { w.max = max }

// home returns the slot where a probe for name starts.
func (w *Workers) home(name string) int {
	return int(maphash.String(w.seed, name) & uint64(len(w.slots)-1))
}

// find returns the slot holding name, or the free slot ending its probe
// (and false). The table must have a free slot. reactor's workerNames
// (reactor/workernames.go) probes, grows and deletes the same way over
// hashes: mend both together.
func (w *Workers) find(name string) (int, bool) {
	mask := len(w.slots) - 1
	for i := w.home(name); ; i = (i + 1) & mask {
		switch wk := w.slots[i]; {
		case wk == nil:
			return i, false
		case wk.Name == name:
			return i, true
		}
	}
}

// Get returns the worker called name, creating it when absent; nil when
// the table is full (the miner is then not tracked per worker).
func (w *Workers) Get(name string, now int64) *Worker {
	if w.n > 0 {
		if i, ok := w.find(name); ok {
			return w.slots[i]
		}
	}
	if w.n >= w.max {
		w.Dropped++
		return nil
	}
	if (w.n+1)*4 > len(w.slots)*3 {
		w.resize(max(8, 2*len(w.slots)))
	}
	wk := &Worker{Name: name, LastSeen: uint32(now)}
	wk.Rates.Start(now) // its windows cover the time since its first login
	i, _ := w.find(name)
	w.slots[i] = wk
	w.n++
	return wk
}

// resize rehashes every worker into size slots.
func (w *Workers) resize(size int) {
	old := w.slots
	w.slots = make([]*Worker, size)
	for _, wk := range old {
		if wk != nil {
			i, _ := w.find(wk.Name)
			w.slots[i] = wk
		}
	}
}

// remove frees slot i, moving later members of its probe run back so
// that every lookup still finds them (no tombstones).
func (w *Workers) remove(i int) {
	mask := len(w.slots) - 1
	w.slots[i] = nil
	w.n--
	for j := (i + 1) & mask; w.slots[j] != nil; j = (j + 1) & mask {
		h := w.home(w.slots[j].Name)
		// Slot j's record may move to the hole at i unless its home lies
		// cyclically in (i, j].
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			w.slots[i], w.slots[j] = w.slots[j], nil
			i = j
		}
	}
	if w.n == 0 {
		w.slots = nil
	} else if len(w.slots) > 64 && w.n*8 < len(w.slots) {
		w.resize(len(w.slots) / 2)
	}
}

// Tick advances every worker's five-minute speed (call once a second).
func (w *Workers) Tick(now int64) {
	for _, wk := range w.slots {
		if wk != nil {
			wk.Tick(now)
		}
	}
}

// Evict removes workers without connections whose last activity is at
// least idle seconds before now, calling gone for each; it returns how
// many it removed.
func (w *Workers) Evict(now, idle int64, gone func(*Worker)) int {
	n := 0
	for i := 0; i < len(w.slots); {
		wk := w.slots[i]
		if wk == nil || wk.Connections != 0 || now-int64(wk.LastSeen) < idle {
			i++
			continue
		}
		// remove may move a later record into slot i (look at it again)
		// or one from the start of the table to its end — then a record
		// already checked may be checked twice, which finds it still
		// connected or still idle: the same answer.
		size := len(w.slots)
		w.remove(i)
		n++
		if gone != nil {
			gone(wk)
		}
		if len(w.slots) != size { // shrunk or emptied: rescan
			i = 0
		}
	}
	w.Evicted += uint64(n)
	return n
}

// Len returns the number of workers.
func (w *Workers) Len() int { return w.n }

// Each calls fn for every worker, in no particular order. fn must not
// add or remove workers.
func (w *Workers) Each(fn func(*Worker)) {
	for _, wk := range w.slots {
		if wk != nil {
			fn(wk)
		}
	}
}
