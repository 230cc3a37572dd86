package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFDBudget_Good(t *testing.T) {
	// 19,000 NiceHash miners on 2 proxy loops and 2 swarm loops: 75
	// upstreams (+2 partly filled), 19,000 sockets, 69 reserve.
	b := newFDBudget(19000, 2, 2, 4, 28232, 20000, "nicehash")
	require.Equal(t, 77, b.Upstreams)
	require.Equal(t, fdReserve+fdStampKeeper+2*fdPerSwarmLoop, b.Reserve)
	require.Equal(t, 19000+77+69, b.Need)
	require.Equal(t, 4750, b.PerSourceIP)
	require.NoError(t, b.check())
	max := b.maxMiners()
	require.LessOrEqual(t, max+upstreamsFor(max, 2, "nicehash")+b.Reserve, 20000)
	require.Greater(t, max+1+upstreamsFor(max+1, 2, "nicehash")+b.Reserve, 20000)
}

func TestFDBudget_Bad(t *testing.T) {
	b := newFDBudget(19900, 2, 2, 4, 28232, 20000, "nicehash")
	err := b.check()
	require.Error(t, err)
	require.Contains(t, err.Error(), "19900 miners need")
	require.Contains(t, err.Error(), "use at most 19851 miners")

	// Simple mode: one upstream per miner, so the harness holds two
	// sockets per miner.
	s := newFDBudget(12000, 2, 2, 3, 28232, 20000, "simple")
	require.Equal(t, 12002, s.Upstreams)
	require.Error(t, s.check())
	require.Equal(t, (20000-69-2)/2, s.maxMiners())

	// Too many sockets on one source address.
	p := newFDBudget(30000, 2, 2, 1, 28232, 0, "nicehash")
	require.ErrorContains(t, p.check(), "ephemeral ports")
}

func TestProxyConnectionCap_Good(t *testing.T) {
	require.Equal(t, 19662, proxyConnectionCap(20000, 0, 2))
	require.Equal(t, 500, proxyConnectionCap(20000, 500, 2))
	require.Equal(t, 19662, proxyConnectionCap(20000, 50000, 2))
}

func TestParsePortRange_Good(t *testing.T) {
	require.Equal(t, 28232, parsePortRange("32768\t60999\n"))
	require.Zero(t, parsePortRange("60999 32768"))
	require.Zero(t, parsePortRange("x"))
}
