// Package nonce splits a pool connection's search space between miners.
//
// A Table hands each miner a slot number that no other miner on the same
// pool connection holds: the fixed nonce byte of NiceHash mode (256 slots)
// or an SV1 extranonce prefix of k bytes (256^k slots). A freed slot stays
// dead until the pool's next job, so a newcomer never repeats work a
// departed miner may already have done on the current job.
//
// Jobs tracks which CryptoNote job ids a share may name: the current job,
// or the previous one (an expired share), and nothing older.
//
// Seen remembers the shares of those two job windows, as decoded values,
// so that a duplicate is refused before the pool counts it.
//
// Everything here is plain data: no I/O, no locks, no goroutines. Each value
// belongs to one event loop, which alone may call its methods.
package nonce
