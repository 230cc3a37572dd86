package reactor

// loginNames is the user and the agent a miner logged in with. Farms run
// thousands of miners under a handful of (user, agent) pairs, so each
// shard keeps one record per pair and a miner points at it: 8 bytes in the
// miner instead of two 16-byte string headers. Records are immutable and
// owned by the shard's loop.
type loginNames struct {
	user, agent string
}

// namesOf returns the shard's record for (user, agent), both already
// interned (loop-only). Like the interned strings, the table is bounded:
// full, it starts over (miners keep their records).
func (s *shard) namesOf(user, agent string) *loginNames {
	if user == "" && agent == "" {
		return nil
	}
	k := loginNames{user: user, agent: agent}
	if n, ok := s.names[k]; ok {
		return n
	}
	if s.names == nil || len(s.names) >= maxInterned {
		s.names = make(map[loginNames]*loginNames)
	}
	n := new(loginNames) // k itself stays on the stack: a hit allocates nothing
	*n = k
	s.names[k] = n
	return n
}

// userName is the login's user ("" before login).
func (m *miner) userName() string {
	if m.names == nil {
		return ""
	}
	return m.names.user
}

// agentName is the miner's agent ("" when it sent none).
func (m *miner) agentName() string {
	if m.names == nil {
		return ""
	}
	return m.names.agent
}
