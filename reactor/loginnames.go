package reactor

// loginNames is the user and the agent a miner logged in with. Farms run
// thousands of miners under a handful of (user, agent) pairs, so each
// shard keeps one record per pair and a miner points at it: 8 bytes in the
// miner instead of two 16-byte string headers. Records are immutable and
// owned by the shard's loop.
type loginNames struct {
	user, agent string
}

// maxNames bounds a shard's table of login records. A farm whose miners
// share a few pairs never fills it; one whose every miner logs in under a
// name of its own (SV1 "account.worker") would otherwise pay a map entry
// and a record per miner (~130 bytes for the 24 the record saves): there
// the table starts over every maxNames logins and each miner keeps a
// record of its own (40 bytes instead of 32).
const maxNames = 4096

// namesOf returns the shard's record for (user, agent), both already
// interned (loop-only). The table is bounded (maxNames): full, it starts
// over (miners keep their records).
func (s *shard) namesOf(user, agent string) *loginNames {
	if user == "" && agent == "" {
		return nil
	}
	k := loginNames{user: user, agent: agent}
	if n, ok := s.names[k]; ok {
		return n
	}
	if s.names == nil || len(s.names) >= maxNames {
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
