package reactor

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
)

func TestLoginNames_Shared_Good(t *testing.T) {
	ms := newMemShard(t, nil)
	s := ms.s
	a := s.namesOf("WALLET", "XMRig/6.22.2")
	require.Same(t, a, s.namesOf("WALLET", "XMRig/6.22.2"), "one record per pair")
	b := s.namesOf("WALLET", "other")
	require.NotSame(t, a, b)
	require.Equal(t, loginNames{user: "WALLET", agent: "other"}, *b)
	require.Nil(t, s.namesOf("", ""))

	var m miner
	require.Equal(t, "", m.userName(), "before login")
	require.Equal(t, "", m.agentName())
	m.names = b
	require.Equal(t, "WALLET", m.userName())
	require.Equal(t, "other", m.agentName())
}

func TestLoginNames_Bounded_Ugly(t *testing.T) {
	ms := newMemShard(t, nil)
	s := ms.s
	first := s.namesOf("u", "first")
	for i := range maxNames {
		s.namesOf("u", strconv.Itoa(i))
	}
	require.Less(t, len(s.names), maxNames, "the table started over")
	require.NotSame(t, first, s.namesOf("u", "first"), "a new record after the start over")
	require.Equal(t, loginNames{user: "u", agent: "first"}, *first, "a miner's record survives the table starting over")
}

// /1/miners shows each miner's own user and agent (two miners share a
// record, a third has its own).
func TestLoginNames_Views_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	p, addr := startProxy(t, baseConfig(pool.Addr()))
	for _, agent := range []string{"XMRig/6.22.2", "XMRig/6.22.2", "other/1.0"} {
		m := testminer.DialCN(t, addr)
		m.Agent = agent
		require.Zero(t, m.Login("WALLET").ErrCode())
	}
	views, err := p.Miners(context.Background())
	require.NoError(t, err)
	require.Len(t, views, 3)
	agents := map[string]int{}
	for _, v := range views {
		require.Equal(t, "WALLET", v.User)
		agents[v.Agent]++
	}
	require.Equal(t, map[string]int{"XMRig/6.22.2": 2, "other/1.0": 1}, agents)
}
