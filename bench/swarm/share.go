package swarm

import (
	"encoding/binary"
	"math"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// nonceLowMask is the part of a NiceHash nonce a miner may vary: the low 24
// bits; the top byte is the fixed byte its job blob carries at
// stratum.NiceHashOffset.
const nonceLowMask = 1<<24 - 1

// fixedByteOf returns the NiceHash byte of a job blob (byte 42, hex
// characters 84-85) and whether the blob is long enough to carry one.
func fixedByteOf(blob string) (byte, bool) {
	const at = 2 * stratum.NiceHashOffset
	if len(blob) < at+2 {
		return 0, false
	}
	var b [1]byte
	if _, ok := stratum.DecodeHex(b[:0], blob[at:at+2]); !ok {
		return 0, false
	}
	return b[0], true
}

// appendNonce appends the 8-hex little-endian nonce of the counter-th share
// a miner submits on a job. With nicehash the top byte (hex characters 6-7)
// is fixed and the counter fills the low 24 bits; otherwise the counter is
// the whole nonce.
func appendNonce(dst []byte, fixed byte, nicehash bool, counter uint32) []byte {
	v := counter
	if nicehash {
		v = counter&nonceLowMask | uint32(fixed)<<24
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return stratum.AppendHex(dst, b[:])
}

// nonceExhausted reports whether a miner has used every nonce of its NiceHash
// partition on the current job (it then waits for the next job). Without
// NiceHash the counter spans 2^32 nonces, more than a run ever submits.
func nonceExhausted(nicehash bool, counter uint32) bool {
	return nicehash && counter > nonceLowMask
}

// appendResult appends a 64-hex result hash that claims a difficulty of at
// least diff: 24 pseudo-random bytes from salt, then 8 bytes whose
// little-endian value v gives MaxUint64/v >= diff (up to 25 % above it, so
// share difficulties vary like real ones). Pools and proxies only check the
// claim (stratum.ResultDifficulty).
func appendResult(dst []byte, diff, salt uint64) []byte {
	if diff == 0 {
		diff = 1
	}
	var b [32]byte
	x := salt
	for i := 0; i < 24; i += 8 {
		x = splitmix64(x)
		binary.LittleEndian.PutUint64(b[i:], x)
	}
	d := diff + splitmix64(x)%(diff/4+1)
	if d < diff { // overflow
		d = diff
	}
	binary.LittleEndian.PutUint64(b[24:], math.MaxUint64/d)
	return stratum.AppendHex(dst, b[:])
}

// splitmix64 is a fast, well-mixing step of a 64-bit sequence.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
