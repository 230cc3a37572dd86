package main

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// Fixed parts of the harness's descriptor budget.
const (
	// fdReserve covers everything else the harness process opens: stdio,
	// the Go netpoller (epoll + eventfd), the mock pool's listener, the
	// proxy's log file and pipes, API and pprof client connections, /proc
	// reads, the build.
	fdReserve = 64
	// fdPerSwarmLoop is one epoll and one eventfd per swarm loop; the
	// swarm also keeps one socket open for kernel timestamps.
	fdPerSwarmLoop  = 2
	fdStampKeeper   = 1
	minersPerUpsess = 256 // NiceHash: one fixed nonce byte per miner
)

// fdBudget is the arithmetic behind the early "will it fit" check: the
// harness process holds one socket per miner (the swarm) plus the pool
// side of every proxy upstream connection (the mock pool is in-process).
type fdBudget struct {
	Miners     int `json:"miners"`
	Upstreams  int `json:"upstreams"`
	SwarmLoops int `json:"swarm_loops"`
	Reserve    int `json:"reserve"`
	Need       int `json:"need"`
	Limit      int `json:"limit"`
	// PerSourceIP is the most sockets one source address carries;
	// PortRange the ephemeral ports available per source address.
	PerSourceIP int `json:"per_source_ip"`
	PortRange   int `json:"port_range"`
	// Mode and ProxyLoops are the inputs of the upstream estimate.
	Mode       string `json:"mode"`
	ProxyLoops int    `json:"proxy_loops"`
}

// upstreamsFor bounds the pool connections a proxy opens for miners:
// NiceHash (and SV1 aggregate with a one-byte prefix) puts at most 256
// miners on one upstream per event loop, with at most one partly filled
// upstream per loop; simple mode opens one per miner. loops is the
// proxy's event-loop count.
func upstreamsFor(miners, loops int, mode string) int {
	loops = max(loops, 1)
	if mode == "simple" {
		return miners + loops
	}
	return (miners+minersPerUpsess-1)/minersPerUpsess + loops
}

// newFDBudget computes the budget. srcIPs is the number of source
// addresses the miners are spread over; portRange the size of the
// ephemeral port range.
func newFDBudget(miners, proxyLoops, swarmLoops, srcIPs, portRange, limit int, mode string) fdBudget {
	b := fdBudget{
		Miners:     miners,
		Upstreams:  upstreamsFor(miners, proxyLoops, mode),
		SwarmLoops: swarmLoops,
		Reserve:    fdReserve + fdStampKeeper + fdPerSwarmLoop*swarmLoops,
		Limit:      limit,
		PortRange:  portRange,
		Mode:       mode,
		ProxyLoops: max(proxyLoops, 1),
	}
	b.Need = b.Miners + b.Upstreams + b.Reserve
	if srcIPs > 0 {
		b.PerSourceIP = (miners + srcIPs - 1) / srcIPs
	}
	return b
}

// check returns a clear error when the run cannot fit.
func (b fdBudget) check() error {
	if b.Limit > 0 && b.Need > b.Limit {
		return fmt.Errorf("%d miners need %d open files in the harness (%d miner sockets + %d pool-side upstream sockets + %d reserve) but the limit is %d: "+
			"use at most %d miners here, raise the limit (ulimit -n), or run several harness processes",
			b.Miners, b.Need, b.Miners, b.Upstreams, b.Reserve, b.Limit, b.maxMiners())
	}
	if b.PortRange > 0 && b.PerSourceIP > b.PortRange {
		return fmt.Errorf("%d sockets per source address exceed the %d ephemeral ports: use more -src-ips",
			b.PerSourceIP, b.PortRange)
	}
	return nil
}

// maxMiners is the largest miner count that fits the limit.
func (b fdBudget) maxMiners() int {
	lo, hi := 0, b.Limit
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if mid+upstreamsFor(mid, b.ProxyLoops, b.Mode)+b.Reserve <= b.Limit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// openFilesLimit returns RLIMIT_NOFILE's soft limit (Go raises it to the
// hard limit at start on Linux).
func openFilesLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return int(min(rl.Cur, 1<<30))
}

// proxyConnectionCap mirrors reactor's default cap (planDescriptors in
// reactor/limits.go) for the go-proxy the harness starts with the same
// open-files limit: one bind, the API on with its default 64 connections,
// loops event loops. The reserve is 48 + 5 per loop (fdPerLoop) + 2 per
// bind + 12 connections being handed to a loop + 66 for the API; miners
// get the rest minus 1 % of the limit.
func proxyConnectionCap(limit, maxConnections, loops int) int {
	reserve := 48 + 5*max(loops, 1) + 2 + 12 + 66
	c := limit - reserve - limit/100
	if maxConnections > 0 && (maxConnections < c || limit <= 0) {
		return maxConnections
	}
	return c
}

// parsePortRange returns the size of the range in
// /proc/sys/net/ipv4/ip_local_port_range ("32768\t60999").
func parsePortRange(text string) int {
	f := strings.Fields(text)
	if len(f) != 2 {
		return 0
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || hi < lo {
		return 0
	}
	return hi - lo + 1
}
