package nonce

// Seen remembers the shares of a pool session's two newest job windows so
// that a duplicate is refused before the pool counts it. A window is the
// span a share's key is unique in: one job (CryptoNote, where the key is
// the nonce) or every job between two clean jobs (stratum v1, where the key
// names the job). Keys are decoded values compared exactly, never the text
// a miner sent (upper- and lower-case hex are the same share).
//
// Each window holds at most the limit given to Add; beyond it Add records
// nothing and reports false, and the caller must refuse the share (one
// that is not recorded could come back as a duplicate). Turn clears a map
// instead of making a new one, so once the maps have grown to a session's
// usual window nothing allocates. The zero value is empty and ready. Not
// safe for concurrent use: one event loop owns a Seen.
type Seen[K comparable] struct {
	cur, prev map[K]struct{}
}

// Has reports whether k was added to the current window (previous false)
// or to the previous one.
func (s *Seen[K]) Has(k K, previous bool) bool {
	_, ok := s.window(previous)[k]
	return ok
}

// Add records k in the current or the previous window. It reports false,
// recording nothing, when that window already holds limit keys.
func (s *Seen[K]) Add(k K, previous bool, limit int) bool {
	m := &s.cur
	if previous {
		m = &s.prev
	}
	if *m == nil {
		*m = make(map[K]struct{})
	}
	if len(*m) >= limit {
		return false
	}
	(*m)[k] = struct{}{}
	return true
}

// Turn starts a new window. With keepCurrent the current window becomes the
// previous one (its shares may still be submitted); without it both are
// forgotten (a new pool connection: nothing older can be submitted).
func (s *Seen[K]) Turn(keepCurrent bool) {
	if keepCurrent {
		s.cur, s.prev = s.prev, s.cur
		clear(s.cur)
		return
	}
	clear(s.cur)
	clear(s.prev)
}

// Len returns the number of keys in the current or the previous window.
func (s *Seen[K]) Len(previous bool) int { return len(s.window(previous)) }

func (s *Seen[K]) window(previous bool) map[K]struct{} {
	if previous {
		return s.prev
	}
	return s.cur
}
