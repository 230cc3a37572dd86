// Package evloop is the event-loop machinery shared by the simulated miner
// swarms (bench/swarm for CryptoNote, bench/sv1swarm for stratum v1): a few
// epoll loops, each owning a fixed share of the miners' connections over raw
// non-blocking sockets (package rawsock), with the connect ramp, the timeout
// sweep, error counting, buffered writes, line splitting, the work round
// robin (a token bucket proportional to each loop's ready connections),
// reconnects and the stats merge.
//
// A Group is the set of loops of one swarm; a Loop serves the connections
// of slots 0..Slots()-1 (global miner index idx + k*loops). The protocol
// lives in a Handler, one per loop, which keeps its own per-slot state in a
// slice parallel to the loop's connections and is called on the loop
// goroutine with the loop lock held:
//
//   - Connected when a connect completes (send the first request),
//   - Line for every complete line received,
//   - Work when the work schedule picks a ready connection,
//   - Dropped when a connection ends, Pass once per loop pass, and
//     Shutdown when the loop ends.
//
// The handler drives the connection through the Loop: Write, Fail,
// CountError, MarkReady (the handshake is done), NewRequest and
// ResolveSubmit (numbered requests with a round trip time), Reconnect.
//
// Cost: no goroutine per connection; a connection is a small struct (see
// ConnSize) and buffers are per loop, except while a line is split across
// reads or a write is pending. Nothing is allocated per line or per request.
//
// Linux only (epoll); elsewhere the package has only JobArrival, the job
// bookkeeping of the handlers' job tables.
package evloop
