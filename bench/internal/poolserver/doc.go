// Package poolserver is the server skeleton of the bench's in-process mock
// pools (bench/mockpool for CryptoNote, bench/sv1pool for stratum v1). The
// pools keep what is protocol-specific: messages, share checks, jobs,
// counters and snapshots.
//
// A Server listens on TCP (optionally TLS) and accepts connections. For each
// one it makes a Conn, asks the pool for its session (newSession in Serve)
// and runs one reader goroutine that splits the stream into stratum lines
// and hands each non-blank line to the session's HandleLine. The server
// keeps the registry of open sessions (Sessions, DropConnections, Close),
// the bounded history of the sessions a pool remembers (Remember, History,
// Snapshots),
// the connection counters (Counts) and the change signal that WaitFor
// re-evaluates its condition on. Every runs a periodic task (job
// broadcasts) until Close.
//
// A Conn is the transport half of a session: its lock (which the session's
// own state may share), its write buffer and writes with a deadline. JobLog
// is the table behind a pool's JobSentAt, and RejectLottery the reproducible
// hash behind a pool's RejectRatio.
//
// Locks: the Server's lock is a leaf, taken only inside its methods, so a
// pool may call them holding its own lock or a Conn's. Nothing the pool
// gives the server runs under that lock but the keep function of Sessions,
// which must not take a lock. A pool that guards session state with the
// Conn's lock takes it after its own.
package poolserver
