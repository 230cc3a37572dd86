package nonce

// NiceHashSlots is the number of miners one pool connection serves in
// NiceHash mode: one per value of the fixed nonce byte.
const NiceHashSlots = 256

// Table allocates slots 0..Size()-1 to owners of type *T. A slot is free,
// held by an owner, or dead: released by its owner but not reusable until
// the next job (Release). The search for a free slot moves a cursor past
// each slot it hands out and wraps, so storage stays compact; that no two
// owners ever work on the same slot within a job follows from the dead
// rule, not from the order of reuse.
//
// Storage grows with the highest slot in use, not with Size(), so a table
// over a 2^32 space holding 300 miners costs a few kilobytes.
//
// Owner pointers are kept until Remove; a Table is not safe for concurrent
// use.
type Table[T any] struct {
	size   uint64 // number of slots in the space
	owners []*T   // owners[i] != nil: slot i is held
	dead   []uint32
	isDead []uint64 // bitmap over len(owners)
	cursor uint64   // next slot to try
	active int
}

// NewTable returns a table of size slots; size must be between 1 and 2^32.
func NewTable[T any](size uint64) *Table[T] {
	if size == 0 || size > 1<<32 {
		panic("nonce: table size out of range")
	}
	return &Table[T]{size: size}
}

// NewNiceHash returns the 256-slot table of one NiceHash pool connection.
func NewNiceHash[T any]() *Table[T] { return NewTable[T](NiceHashSlots) }

// NewPrefixes returns the table of k-byte extranonce prefixes (1 ≤ k ≤ 4).
func NewPrefixes[T any](k int) *Table[T] {
	if k < 1 || k > 4 {
		panic("nonce: prefix width out of range")
	}
	return NewTable[T](1 << (8 * uint(k)))
}

// Size returns the number of slots in the table's space.
func (t *Table[T]) Size() uint64 { return t.size }

// Add gives owner a free slot and returns it; ok is false when every slot is
// held or dead. Free slots inside the stored range are reused first (from
// the cursor, wrapping); when there are none, the range grows by one slot,
// so storage never exceeds the peak of held plus dead slots.
func (t *Table[T]) Add(owner *T) (slot uint32, ok bool) {
	if owner == nil {
		panic("nonce: nil owner")
	}
	n := uint64(len(t.owners))
	if n-uint64(t.active+len(t.dead)) == 0 {
		if n >= t.size {
			return 0, false
		}
		t.grow(n)
		t.cursor = 0
		return t.take(n, owner), true
	}
	for {
		i := t.cursor
		t.cursor++
		if t.cursor >= n {
			t.cursor = 0
		}
		if t.owners[i] == nil && !t.deadAt(i) {
			return t.take(i, owner), true
		}
	}
}

func (t *Table[T]) take(i uint64, owner *T) uint32 {
	t.owners[i] = owner
	t.active++
	return uint32(i)
}

// grow extends storage so that slot i exists.
func (t *Table[T]) grow(i uint64) {
	for uint64(len(t.owners)) <= i {
		t.owners = append(t.owners, nil)
	}
	for uint64(len(t.isDead))*64 < uint64(len(t.owners)) {
		t.isDead = append(t.isDead, 0)
	}
}

func (t *Table[T]) deadAt(i uint64) bool { return t.isDead[i/64]&(1<<(i%64)) != 0 }

// Remove releases slot if owner holds it; the slot is dead until the next
// Release. Removing a slot that owner does not hold does nothing, so a
// second Remove (for instance from a re-entrant close) is harmless.
func (t *Table[T]) Remove(slot uint32, owner *T) bool {
	i := uint64(slot)
	if i >= uint64(len(t.owners)) || t.owners[i] != owner || owner == nil {
		return false
	}
	t.owners[i] = nil
	t.active--
	t.isDead[i/64] |= 1 << (i % 64)
	t.dead = append(t.dead, slot)
	return true
}

// Release turns every dead slot free: call it when the pool sends a job that
// replaces the current one (for SV1, a notify with clean_jobs).
func (t *Table[T]) Release() {
	for _, s := range t.dead {
		t.isDead[s/64] &^= 1 << (s % 64)
	}
	t.dead = t.dead[:0]
	t.shrink()
}

// shrink drops trailing free storage so a table that once held many owners
// gives the memory back.
func (t *Table[T]) shrink() {
	n := len(t.owners)
	for n > 0 && t.owners[n-1] == nil && !t.deadAt(uint64(n-1)) {
		n--
	}
	if n == len(t.owners) {
		return
	}
	if n < cap(t.owners)/4 {
		t.owners = append([]*T(nil), t.owners[:n]...)
		t.isDead = append([]uint64(nil), t.isDead[:(n+63)/64]...)
	} else {
		clear(t.owners[n:])
		t.owners = t.owners[:n]
	}
	if t.cursor >= uint64(n) {
		t.cursor = 0 // Add indexes owners[cursor]: it must stay inside storage
	}
}

// Owner returns the owner of slot, or nil when the slot is free or dead.
func (t *Table[T]) Owner(slot uint32) *T {
	if uint64(slot) >= uint64(len(t.owners)) {
		return nil
	}
	return t.owners[slot]
}

// Stored returns the number of slots in storage: every held slot is below
// it, so Owner over 0..Stored()-1 visits them all (the order a caller
// chooses, unlike Each's).
func (t *Table[T]) Stored() int { return len(t.owners) }

// Len returns the number of slots held by owners.
func (t *Table[T]) Len() int { return t.active }

// Counts returns the number of free, dead and held slots. Free slots are
// counted over the whole space (up to 2^32 for an empty 4-byte space).
func (t *Table[T]) Counts() (free, dead, active uint64) {
	dead, active = uint64(len(t.dead)), uint64(t.active)
	return t.size - dead - active, dead, active
}

// Each calls fn for every held slot in slot order. fn may Remove any slot
// (including the current one) while Each runs; slots added during the call
// may or may not be visited.
func (t *Table[T]) Each(fn func(slot uint32, owner *T)) {
	for i := 0; i < len(t.owners); i++ {
		if o := t.owners[i]; o != nil {
			fn(uint32(i), o)
		}
	}
}
