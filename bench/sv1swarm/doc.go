// Package sv1swarm simulates many Bitcoin-family stratum v1 miners against
// a stratum v1 endpoint (go-proxy, or a pool such as bench/sv1pool
// directly) for `go-proxy demo` and the bench harness. It is the stratum v1
// sibling of bench/swarm.
//
// A miner connects, optionally negotiates BIP310 version rolling
// (mining.configure), subscribes like cpuminer or bmminer, optionally asks
// for mining.set_extranonce, authorizes, and follows mining.set_difficulty,
// mining.notify, mining.set_extranonce, mining.set_version_mask and
// client.reconnect. It mines for real: it builds the block header from the
// job with the extranonce1 it was given and an extranonce2 of the announced
// size, searches nonces with stratum.BlockHeader.Search until the hash
// meets the share target, and submits the share (with version bits rolled
// through the negotiated mask when version rolling was granted). A share is
// submitted only if it is still valid when found: a clean job, a new
// extranonce1 or a new version mask in the meantime discards it, and it
// must meet the current difficulty too. So a correct upstream never sees
// an invalid share.
//
// Every received line carries the kernel receive timestamp
// (SO_TIMESTAMPNS), from which login latency (connect to authorize
// answered), submit round trip and job fan-out latency are measured.
//
// Cost: no goroutine per miner. I/O runs on a few event loops (one per
// GOMAXPROCS by default), each owning a fixed share of the miners and one
// epoll instance over raw non-blocking sockets bound round robin to
// 127.0.0.2, 127.0.0.3, ... (closed with SO_LINGER 0, no TIME_WAIT); this
// machinery is shared with bench/swarm (bench/internal/evloop,
// bench/internal/rawsock). A miner is ~150 bytes (its protocol state plus
// its connection in the loop); jobs are decoded once per loop and shared.
// Nonce searches run on a small worker pool (Config.Workers goroutines),
// never on the loops: each loop hands out searches at its share of
// Config.SharesPerSecond (a token bucket proportional to its authorized
// miners), one search per miner at a time, into a bounded queue; a search
// is abandoned within ~1 ms when its work is voided. Mining CPU is thus
// SharesPerSecond × (2^32 × difficulty) hashes per second, capped by the
// worker count.
//
// The epoll implementation is Linux only; elsewhere Start returns an error.
package sv1swarm
