package sv1swarm

import (
	"math/bits"
)

// wrapNonceStride is how far apart, in nonces, the searches of one
// extranonce2 value start once a short extranonce2 counter has wrapped, so
// that they do not find the same share again.
const wrapNonceStride = 1 << 20

// workUnit is one search's place in a miner's work space: the extranonce2,
// the version bits and the first nonce.
type workUnit struct {
	e2    [16]byte // big-endian counter in the last min(size, 8) bytes
	bits  uint32   // version bits, inside the mask
	start uint32   // first nonce
}

// unitOf maps a miner's u-th search to its work: with version rolling the
// low bits of u roll through the mask (every mask value on one extranonce2
// before the next), the rest counts extranonce2 values; when extranonce2 is
// too short for the count, the searches of a reused value start further up
// the nonce range. Distinct u give distinct (extranonce2, version, nonce
// range) for any size and mask. e2Size is 1..16.
func unitOf(u uint64, e2Size int, mask uint32) workUnit {
	var w workUnit
	rest := u
	if n := bits.OnesCount32(mask); n > 0 {
		w.bits = depositBits(u, mask)
		rest = u >> n
	}
	size := e2Size
	var wraps uint64
	if size < 8 {
		wraps = rest >> (8 * size)
		rest &= 1<<(8*size) - 1
	}
	for i := e2Size - 1; i >= 0 && rest > 0; i-- {
		w.e2[i] = byte(rest)
		rest >>= 8
	}
	w.start = uint32(wraps * wrapNonceStride)
	return w
}

// depositBits spreads the low bits of v over the set bits of mask, lowest
// first (a software PDEP).
func depositBits(v uint64, mask uint32) uint32 {
	var out uint32
	for m := mask; m != 0; m &= m - 1 {
		if v&1 != 0 {
			out |= m & -m
		}
		v >>= 1
	}
	return out
}
