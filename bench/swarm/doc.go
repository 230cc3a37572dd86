// Package swarm simulates many XMRig miners against a CryptoNote stratum
// endpoint (go-proxy, or a pool directly) for `go-proxy demo` and the bench
// harness.
//
// A miner connects, logs in like XMRig, takes its session id and job from
// the login reply (which may arrive late: a proxy answers only once it has a
// job), follows job notifications and submits NiceHash-correct shares at a
// swarm-wide rate. Replies are matched by request id and every received line
// carries the kernel receive timestamp (SO_TIMESTAMPNS), from which login
// latency, submit round trip and job fan-out latency are measured.
//
// Cost: no goroutine per miner. The swarm runs a few event loops (one per
// GOMAXPROCS by default), each owning a fixed share of the miners and one
// epoll instance over raw non-blocking sockets. A miner is 160 bytes (its
// protocol state plus its connection in the loop) and its session id;
// buffers are per loop, and a per-miner buffer exists only while a line is
// split across reads or a write is pending. Sockets are bound round robin
// to 127.0.0.2, 127.0.0.3, ... so that more than one address's worth of
// ephemeral ports is available, and closed with SO_LINGER 0 so no
// TIME_WAIT builds up. The loop and socket machinery is shared with
// bench/sv1swarm (bench/internal/evloop, bench/internal/rawsock).
//
// The epoll implementation is Linux only; elsewhere Start returns an error.
package swarm
