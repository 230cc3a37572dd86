// Package simminer has miners of a given hashrate, for checking what a
// proxy makes of their speed: its per-miner difficulty (vardiff) and the
// hashrate it reports. Each is a real stratum client on a real socket
// that mines on its own goroutines until its context ends, and records
// every share it sent and what became of it.
//
//   - CN is a CryptoNote miner that hashes nothing: a miner of hashrate H
//     at difficulty d finds shares as a Poisson process of rate H/d, and a
//     share's difficulty is d/U with U uniform in (0, 1]. CN draws exactly
//     that (arrival times and result hashes), so any speed costs no CPU,
//     and the result it sends meets the difficulty it claims
//     (stratum.ResultDifficulty), which is all a proxy or pool checks.
//   - SV1 is a stratum v1 miner that really hashes (sha256d, or scrypt),
//     paced to its hashrate: it searches nonces in slices of 10 ms worth
//     of hashes and sleeps off the rest of each slice, so a proxy that
//     verifies shares accepts them. A core does a few MH/s of sha256d
//     (scrypt: ~5 kH/s); keep the sum of the miners' hashrates well below.
//     A miner that cannot keep its pace (a busy machine, the race
//     detector) hashes slower: Stats.Achieved is the speed it kept.
//
// Both apply difficulty and job changes as the common miners do: a new
// difficulty (CryptoNote: the job's target; SV1: mining.set_difficulty)
// from the next job on, work restarting on every new job. Stats returns a
// snapshot; ShareInterval and Hashrate summarise it.
//
// The package imports neither the proxy nor the mock pools.
package simminer
