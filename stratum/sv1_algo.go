package stratum

import "strings"

// SV1Algo is a Bitcoin-family proof-of-work algorithm as share checks and
// difficulty conversions need it. It is a value; safe for concurrent use.
//
// Share difficulty is per algorithm: a sha256d share at difficulty d meets
// the target diff1/d (diff1 = 0xFFFF·2^208) and stands for d·2^32 hashes.
// Every scrypt miner and pool applies a factor of 2^16 on top (cpuminer
// divides the stratum difficulty by 65536 before its target, cgminer
// multiplies, pools call it a share multiplier): a scrypt share at
// difficulty d meets diff1·65536/d, i.e. difficulty 1 is the target
// 0x0000FFFF·2^224, and stands for d·65536 hashes. Network (block)
// difficulty is not affected: Litecoin reports its blocks' difficulty in
// Bitcoin's unit.
type SV1Algo uint8

// The algorithms.
const (
	// SV1AlgoOther is any algorithm the proxy cannot hash: its shares are
	// not verified locally and miners get no difficulty below the pool's.
	SV1AlgoOther SV1Algo = iota
	SV1AlgoSHA256d
	SV1AlgoScrypt
)

// ParseSV1Algo maps a pool's "algo" setting to an algorithm: "" and the
// sha256d names (sha256d, sha256, sha-256, btc, bitcoin) to SV1AlgoSHA256d,
// "scrypt" to SV1AlgoScrypt, anything else to SV1AlgoOther. Case is
// ignored.
func ParseSV1Algo(name string) SV1Algo {
	switch strings.ToLower(name) {
	case "", "sha256d", "sha256", "sha-256", "btc", "bitcoin":
		return SV1AlgoSHA256d
	case "scrypt":
		return SV1AlgoScrypt
	}
	return SV1AlgoOther
}

// String names the algorithm ("sha256d", "scrypt", "other").
func (a SV1Algo) String() string {
	switch a {
	case SV1AlgoSHA256d:
		return "sha256d"
	case SV1AlgoScrypt:
		return "scrypt"
	}
	return "other"
}

// Hashable reports whether the proxy can verify the algorithm's shares.
func (a SV1Algo) Hashable() bool { return a == SV1AlgoSHA256d || a == SV1AlgoScrypt }

// Divider is the factor between the algorithm's share difficulty and
// sha256d's for the same target: 65536 for scrypt, 1 otherwise.
func (a SV1Algo) Divider() float64 {
	if a == SV1AlgoScrypt {
		return 65536
	}
	return 1
}

// HashesPerDifficulty is the hashes one difficulty-1 share stands for by
// pool convention: 2^32 for sha256d (and unknown algorithms), 2^16 for
// scrypt. Hashrate in H/s is Σ(share difficulty) × this / seconds.
func (a SV1Algo) HashesPerDifficulty() float64 { return SV1HashesPerDifficulty / a.Divider() }

// TargetFromDifficulty returns the share target of difficulty diff in the
// algorithm's unit (see SV1TargetFromDifficulty; false for a difficulty
// that is not finite and > 0). Scrypt's is sha256d's at diff/65536, exact
// since 65536 is a power of two.
func (a SV1Algo) TargetFromDifficulty(diff float64) (SV1Target, bool) {
	return SV1TargetFromDifficulty(diff / a.Divider())
}

// TargetDifficulty returns a target's difficulty in the algorithm's unit.
func (a SV1Algo) TargetDifficulty(t *SV1Target) float64 { return t.Difficulty() * a.Divider() }

// HashDifficulty returns the difficulty a proof-of-work hash meets, in the
// algorithm's unit (see SV1HashDifficulty).
func (a SV1Algo) HashDifficulty(hash *[32]byte) float64 {
	return SV1HashDifficulty(hash) * a.Divider()
}

// ShareHashAlgo is ShareHash for algorithm a: the header is built the same
// way (double SHA-256 coinbase and merkle tree) and hashed with a's proof
// of work. sc is the loop's scrypt memory, needed only for scrypt. ok is
// false when a cannot be hashed here (SV1AlgoOther, or scrypt without sc).
// It does not allocate once the hasher is warm; a scrypt hash costs about
// 2048 Salsa20/8 block mixes (~0.2 ms), sha256d's a microsecond.
func (s *SV1Hasher) ShareHashAlgo(a SV1Algo, sc *ScryptHasher, j *SV1JobBinary, extranonce1, extranonce2 []byte, ntime, nonce, versionBits, versionMask uint32) (hash [32]byte, ok bool) {
	switch a {
	case SV1AlgoSHA256d:
		return s.ShareHash(j, extranonce1, extranonce2, ntime, nonce, versionBits, versionMask), true
	case SV1AlgoScrypt:
		if sc == nil {
			return hash, false
		}
		h := s.Header(j, extranonce1, extranonce2, SV1RollVersion(j.Version, versionBits, versionMask), ntime, nonce)
		return sc.Hash(&h), true
	}
	return hash, false
}
