// Package mockpool is an in-process CryptoNote (XMRig) stratum pool for
// go-proxy's integration tests, `go-proxy demo` and the bench harness.
//
// A Pool listens on TCP (optionally TLS), answers login with a session id
// and its current job, pushes job notifications (on a timer or on demand),
// checks every submit the way a real pool does (session, job id, nonce and
// result shape, claimed difficulty, duplicates) and counts what it saw.
// Misbehaviour (a hung pool, garbage, lost submit replies, dropped
// connections, refused logins) is switched on at run time with SetBehavior.
//
// Everything is deterministic for a given Config.Seed except what depends
// on the order in which connections arrive. Every method of Pool is safe for
// concurrent use. Wire messages are encoded and parsed with package stratum.
//
// Threading: one goroutine accepts, one goroutine per connection reads and
// answers, an optional goroutine broadcasts jobs every JobInterval. Writes to
// a connection are serialised by its session lock.
package mockpool
