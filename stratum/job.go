package stratum

import (
	"encoding/binary"
	"math"
)

// NiceHashOffset is the blob byte that holds a miner's fixed nonce byte in
// NiceHash mode: the most significant byte of the 4-byte little-endian nonce
// that starts at byte 39 of a CryptoNote hashing blob (hex characters 84-85).
// The go-proxy RFC says byte 39; real miners and pools use 42 (DESIGN §2.1).
const NiceHashOffset = 42

// Limits on job fields received from a pool. A job outside them is dropped.
const (
	MaxBlobHex     = 2048 // 1 KiB hashing blob
	MaxJobIDLen    = 128
	MaxAlgoLen     = 32
	SeedHashHex    = 64
	minNiceHashHex = 2 * (NiceHashOffset + 1)
	// MaxJobDifficulty is the highest job difficulty accepted from a pool:
	// 2^53, where float64 share counters stop counting exactly. No
	// CryptoNote network is near it (Monero's block difficulty is ~2^39);
	// a target beyond it (a 64-bit target of 1, say) is garbage.
	MaxJobDifficulty = 1 << 53
)

// Job is one CryptoNote work unit received from a pool. It is immutable once
// built; all fields are validated by ParsePoolMessage before a Job is handed
// out, so encoders copy them into JSON without escaping.
type Job struct {
	Blob     string // hex hashing blob
	JobID    string // pool-assigned id, a token (see IsToken)
	Target   string // 8 or 16 hex chars, little-endian
	Algo     string // "rx/0", "cn/r", ...; "" when the pool did not say
	Height   uint64 // block height, 0 when absent
	SeedHash string // RandomX seed hash (64 hex) or ""
}

// IsValid reports whether the job can be handed to miners: a hex blob, a
// job id, and an 8- or 16-hex target whose difficulty is at least 1 and at
// most MaxJobDifficulty. A zero target (difficulty 0) would tell miners
// that every hash is a share.
func (j *Job) IsValid() bool {
	d := DifficultyFromTarget(j.Target)
	return len(j.Blob) > 0 && len(j.Blob)%2 == 0 && len(j.Blob) <= MaxBlobHex && isHexFold(j.Blob) &&
		IsToken(j.JobID, MaxJobIDLen) &&
		d >= 1 && d <= MaxJobDifficulty &&
		(j.Algo == "" || IsToken(j.Algo, MaxAlgoLen)) &&
		(j.SeedHash == "" || (len(j.SeedHash) == SeedHashHex && isHexFold(j.SeedHash)))
}

// SupportsNiceHash reports whether the blob is long enough to carry a fixed
// nonce byte at NiceHashOffset.
func (j *Job) SupportsNiceHash() bool { return len(j.Blob) >= minNiceHashHex }

// BlobWithFixedByte returns the blob with byte NiceHashOffset (hex characters
// 84-85) replaced by fixedByte in lowercase hex. A blob too short to hold
// that byte is returned unchanged. It allocates; the reactor uses
// AppendBlobWithFixedByte on its hot path.
func (j *Job) BlobWithFixedByte(fixedByte uint8) string {
	if !j.SupportsNiceHash() {
		return j.Blob
	}
	return string(AppendBlobWithFixedByte(make([]byte, 0, len(j.Blob)), j.Blob, fixedByte))
}

// AppendBlobWithFixedByte appends blob to dst with hex characters 84-85
// replaced by fixedByte; a blob too short for that is appended unchanged.
func AppendBlobWithFixedByte(dst []byte, blob string, fixedByte uint8) []byte {
	if len(blob) < minNiceHashHex {
		return append(dst, blob...)
	}
	const at = 2 * NiceHashOffset
	dst = append(dst, blob[:at]...)
	dst = AppendHexByte(dst, fixedByte)
	return append(dst, blob[at+2:]...)
}

// Difficulty returns the difficulty of the job's target (see
// DifficultyFromTarget).
func (j *Job) Difficulty() uint64 { return DifficultyFromTarget(j.Target) }

// DifficultyFromTarget converts a little-endian hex target to a difficulty.
// An 8-hex (32-bit) target t gives 0xFFFFFFFF/t ("b88d0600" is 10000); a
// 16-hex (64-bit) target t gives 0xFFFFFFFFFFFFFFFF/t. A zero, malformed or
// differently sized target gives 0.
func DifficultyFromTarget(target string) uint64 {
	var b [8]byte
	switch len(target) {
	case 8:
		if _, ok := DecodeHex(b[:0], target); !ok {
			return 0
		}
		t := binary.LittleEndian.Uint32(b[:4])
		if t == 0 {
			return 0
		}
		return math.MaxUint32 / uint64(t)
	case 16:
		if _, ok := DecodeHex(b[:0], target); !ok {
			return 0
		}
		t := binary.LittleEndian.Uint64(b[:])
		if t == 0 {
			return 0
		}
		return math.MaxUint64 / t
	}
	return 0
}

// TargetFromDifficulty returns the little-endian hex target for diff, the
// inverse of DifficultyFromTarget ("b88d0600" for 10000). Difficulties
// below 2^24 get an 8-hex (32-bit) target, as pools send; higher ones get a
// 16-hex (64-bit) target, where a 32-bit target would lose precision.
// Difficulties of 0 and 1 give "ffffffff".
func TargetFromDifficulty(diff uint64) string {
	var b [16]byte
	return string(AppendTarget(b[:0], diff))
}

// AppendTarget appends the hex target of diff (see TargetFromDifficulty).
func AppendTarget(dst []byte, diff uint64) []byte {
	if diff >= 1<<24 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], math.MaxUint64/diff)
		return AppendHex(dst, b[:])
	}
	t := uint64(math.MaxUint32)
	if diff > 1 {
		t = math.MaxUint32 / diff
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(t))
	return AppendHex(dst, b[:])
}

// ResultDifficulty returns the difficulty a CryptoNote share actually meets:
// the last 8 bytes of the 32-byte result hash read as a little-endian uint64
// v give 0xFFFFFFFFFFFFFFFF/v. A malformed result (not 64 hex characters)
// gives 0; a zero tail gives math.MaxUint64.
func ResultDifficulty[T ~string | ~[]byte](result T) uint64 {
	if len(result) != 64 {
		return 0
	}
	var b [8]byte
	if _, ok := DecodeHex(b[:0], result[48:]); !ok || !isHexFold(result[:48]) {
		return 0
	}
	v := binary.LittleEndian.Uint64(b[:])
	if v == 0 {
		return math.MaxUint64
	}
	return math.MaxUint64 / v
}
