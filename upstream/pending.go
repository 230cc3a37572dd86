package upstream

// Pending is one request sent to a pool and not yet answered. Tag is the
// caller's reference to whoever must get the answer (for a submit: the
// miner and its request id).
type Pending[T any] struct {
	ID   uint64
	Sent int64 // when it was sent, in the caller's clock (nanoseconds)
	Tag  T
	used bool
}

// pendingRing holds in-flight requests indexed by id modulo its size. Ids
// are issued sequentially, so the entry an id lands on is either free or
// an older request still unanswered. The ring starts small and doubles
// (up to max) when that happens; at max the older request is handed back
// as evicted. A pool session usually has a handful of submits in flight,
// so most rings stay at their first size.
type pendingRing[T any] struct {
	slots []Pending[T]
	n     int
	max   int
}

// initialPending is the first size of a pending ring.
const initialPending = 16

func newPendingRing[T any](max int) pendingRing[T] {
	max = max1(max)
	return pendingRing[T]{slots: make([]Pending[T], min(initialPending, max)), max: max}
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// grow doubles the ring (up to max), moving every entry to its new slot.
func (r *pendingRing[T]) grow() bool {
	if len(r.slots) >= r.max {
		return false
	}
	next := make([]Pending[T], min(2*len(r.slots), r.max))
	for _, e := range r.slots {
		if e.used {
			dst := &next[e.ID%uint64(len(next))]
			if dst.used { // cannot happen for sequential ids; keep the newer
				if dst.ID > e.ID {
					continue
				}
				r.n--
			}
			*dst = e
		}
	}
	r.slots = next
	return true
}

// put stores a request and returns the entry it displaced, if any.
func (r *pendingRing[T]) put(id uint64, sent int64, tag T) (evicted Pending[T], ok bool) {
	e := &r.slots[id%uint64(len(r.slots))]
	for e.used && r.grow() {
		e = &r.slots[id%uint64(len(r.slots))]
	}
	if e.used {
		evicted, ok = *e, true
		r.n--
	}
	*e = Pending[T]{ID: id, Sent: sent, Tag: tag, used: true}
	r.n++
	return evicted, ok
}

// take removes and returns the request with this id.
func (r *pendingRing[T]) take(id uint64) (Pending[T], bool) {
	e := &r.slots[id%uint64(len(r.slots))]
	if !e.used || e.ID != id {
		return Pending[T]{}, false
	}
	p := *e
	*e = Pending[T]{}
	r.n--
	return p, true
}

// expire removes every request sent before deadline and passes it to fn.
func (r *pendingRing[T]) expire(deadline int64, fn func(Pending[T])) {
	if r.n == 0 {
		return
	}
	for i := range r.slots {
		e := &r.slots[i]
		if e.used && e.Sent < deadline {
			p := *e
			*e = Pending[T]{}
			r.n--
			fn(p)
		}
	}
}

// oldest returns the send time of the oldest request, or 0 when none.
func (r *pendingRing[T]) oldest() int64 {
	var t int64
	if r.n == 0 {
		return 0
	}
	for i := range r.slots {
		if e := &r.slots[i]; e.used && (t == 0 || e.Sent < t) {
			t = e.Sent
		}
	}
	return t
}
