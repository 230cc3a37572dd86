// Package sv1pool is an in-process Bitcoin-family stratum v1 pool (sha256d,
// or scrypt with Config.Algo) for go-proxy's SV1 integration tests, `go-proxy demo` and the bench
// harness. It is the stratum v1 sibling of bench/mockpool.
//
// A Pool listens on TCP (optionally TLS) and speaks the miner side of
// stratum v1: mining.subscribe (a distinct extranonce1 per connection),
// mining.extranonce.subscribe, mining.configure (BIP310 version rolling),
// mining.authorize, then mining.set_difficulty and mining.notify. Jobs are
// realistic: a random previous block hash, a real coinbase transaction cut
// around extranonce1 ‖ extranonce2 (BIP34 height push in the scriptSig, one
// output), a merkle branch of 0 to 4 hashes, version 20000000, nbits and the
// current time.
//
// Every mining.submit is verified for real: job known to the connection,
// field shapes, version bits inside the negotiated mask, coinbase rebuilt
// with the connection's extranonce1, merkle root, header, sha256d (or
// scrypt) and a comparison with the share target, plus duplicate detection. Stats counts
// the outcomes by stratum error code, Overlaps reports two different
// miners working on the same coinbase of the same job, and Config.OnSubmit
// sees every judged share. Misbehaviour (a hung pool, garbage, lost submit
// replies, dropped connections, refused workers) is switched on at run
// time with SetBehavior; difficulty, extranonce1, version mask changes and
// client.reconnect are pushed with the Set* and Send* methods.
//
// Wire messages are encoded and parsed with package stratum and shares are
// hashed with stratum.SV1Hasher (and stratum.ScryptHasher); this package
// holds no second encoder or hasher.
//
// Every method of Pool is safe for concurrent use. Threading: one goroutine
// accepts, one goroutine per connection reads, verifies and answers, and an
// optional goroutine broadcasts jobs every JobInterval. Writes to a
// connection are serialised by its session lock; lock order is pool, then
// session, then job.
package sv1pool
