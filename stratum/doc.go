// Package stratum is the wire protocol of go-proxy: both stratum families it
// speaks, with no I/O.
//
//   - CryptoNote (XMRig) stratum: login, job, submit and keepalived, with the
//     algo, nicehash, rigid and keepalive extensions (files cn_*.go, job.go).
//   - Bitcoin-family stratum v1: mining.subscribe, authorize, configure,
//     notify, submit and friends (files sv1_*.go, sha256d.go).
//
// Parsing goes through a caller-owned fastjson.Parser. The views a parse
// returns ([]byte fields of request structs) point into that parser's memory
// and stay valid only until the next Parse on the same parser; copy what must
// outlive it. Parsers are not safe for concurrent use: keep one per event loop
// or goroutine.
//
// Encoding appends to a caller-supplied buffer and returns the extended slice
// (AppendXxx(dst, ...) []byte). No encoder allocates when dst has capacity.
//
// Every field that arrives from the network is validated here (hex charset and
// length, length caps on free-form strings, id shapes) so that the reactor
// never forwards an unvalidated byte to a pool or writes one into a log.
package stratum
