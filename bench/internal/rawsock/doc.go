// Package rawsock holds the raw socket helpers of the simulated miner swarms
// (bench/swarm, bench/sv1swarm): non-blocking TCP sockets bound to a source
// address and closed with SO_LINGER 0, and reads that carry the kernel
// receive timestamp (SO_TIMESTAMPNS) through recvmsg.
//
// Linux only; elsewhere the package is empty.
package rawsock
