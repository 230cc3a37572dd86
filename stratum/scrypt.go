package stratum

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
)

// Litecoin-family proof of work (Litecoin, Dogecoin and the other scrypt
// coins): scrypt(P = header, S = header, N = 1024, r = 1, p = 1), 32 bytes,
// of the same 80-byte header sha256d coins use (the coinbase, merkle tree
// and block id stay double SHA-256). The result is compared with a target
// like a sha256d hash: read as a little-endian 256-bit number.
//
// This is scrypt (RFC 7914) for exactly those parameters, written to reuse
// its 128 KiB of working memory: golang.org/x/crypto/scrypt.Key allocates
// ~130 KB in 28 allocations per call, which at thousands of shares a
// second is garbage the collector would have to chase. Tests check it
// against that library on random headers and against real Litecoin
// blocks.

const (
	scryptN     = 1024             // cost: ROMix table entries
	scryptWords = 32               // one 128-byte block (r = 1) as uint32s
	hmacBlock   = sha256.BlockSize // 64
)

// ScryptHasher holds scrypt's working memory: the 128 KiB table V and the
// HMAC scratch. Keep one per event loop (and allocate it only when a
// scrypt pool exists); it is not safe for concurrent use. Hash does not
// allocate.
type ScryptHasher struct {
	v     [scryptN * scryptWords]uint32
	x     [scryptWords]uint32
	inner [hmacBlock + 128 + 4]byte // ipad ‖ salt ‖ block index
	outer [hmacBlock + sha256.Size]byte
	ipad  [hmacBlock]byte
	opad  [hmacBlock]byte
	b     [128]byte
}

// setKey prepares HMAC-SHA256 keyed with the header: an 80-byte key is
// longer than a SHA-256 block, so the key is its hash, zero-padded.
func (s *ScryptHasher) setKey(h *BlockHeader) {
	k := sha256.Sum256(h[:])
	for i := range s.ipad {
		var b byte
		if i < len(k) {
			b = k[i]
		}
		s.ipad[i], s.opad[i] = b^0x36, b^0x5c
	}
}

// pbkdf2Block writes PBKDF2-HMAC-SHA256 block i (one iteration, as scrypt
// uses it) of salt to dst: HMAC(key, salt ‖ BE32(i)).
func (s *ScryptHasher) pbkdf2Block(dst []byte, salt []byte, i uint32) {
	n := copy(s.inner[:], s.ipad[:])
	n += copy(s.inner[n:], salt)
	binary.BigEndian.PutUint32(s.inner[n:], i)
	ih := sha256.Sum256(s.inner[:n+4])
	copy(s.outer[:], s.opad[:])
	copy(s.outer[hmacBlock:], ih[:])
	oh := sha256.Sum256(s.outer[:])
	copy(dst, oh[:])
}

// Hash returns the scrypt proof-of-work hash of a header, in the byte
// order sha256d hashes are kept (compare with SV1Target.Meets).
func (s *ScryptHasher) Hash(h *BlockHeader) [32]byte {
	s.setKey(h)
	// B = PBKDF2(header, header, 1, 128): four 32-byte blocks.
	for i := uint32(0); i < 4; i++ {
		s.pbkdf2Block(s.b[i*32:], h[:], i+1)
	}
	for i := range s.x {
		s.x[i] = binary.LittleEndian.Uint32(s.b[i*4:])
	}
	s.roMix()
	for i, w := range s.x {
		binary.LittleEndian.PutUint32(s.b[i*4:], w)
	}
	// DK = PBKDF2(header, B', 1, 32).
	var out [32]byte
	s.pbkdf2Block(out[:], s.b[:], 1)
	return out
}

// roMix is scrypt's ROMix for r = 1 on s.x: fill V with N successive
// block mixes, then mix N times more with entries picked by the data
// (Integerify: the first word of the block's second half, mod N).
func (s *ScryptHasher) roMix() {
	for i := 0; i < scryptN; i++ {
		copy(s.v[i*scryptWords:(i+1)*scryptWords], s.x[:])
		blockMix(&s.x)
	}
	for i := 0; i < scryptN; i++ {
		j := int(s.x[16] & (scryptN - 1))
		v := (*[scryptWords]uint32)(s.v[j*scryptWords:])
		for k := range s.x {
			s.x[k] ^= v[k]
		}
		blockMix(&s.x)
	}
}

// blockMix is scryptBlockMix for r = 1: with B = B0 ‖ B1 (16 words each),
// Y0 = Salsa(B1 ⊕ B0), Y1 = Salsa(Y0 ⊕ B1), B' = Y0 ‖ Y1.
func blockMix(b *[scryptWords]uint32) {
	var x [16]uint32
	for i := range x {
		x[i] = b[16+i] ^ b[i]
	}
	salsa208(&x)
	copy(b[:16], x[:])
	for i := range x {
		x[i] ^= b[16+i]
	}
	salsa208(&x)
	copy(b[16:], x[:])
}

// salsa208 applies the Salsa20/8 core to x in place: four double rounds
// (a column round then a row round) and the feed-forward addition.
func salsa208(x *[16]uint32) {
	x0, x1, x2, x3, x4, x5, x6, x7 := x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]
	x8, x9, x10, x11, x12, x13, x14, x15 := x[8], x[9], x[10], x[11], x[12], x[13], x[14], x[15]
	for range 4 {
		// Columns: (0,4,8,12) (5,9,13,1) (10,14,2,6) (15,3,7,11).
		x4 ^= bits.RotateLeft32(x0+x12, 7)
		x8 ^= bits.RotateLeft32(x4+x0, 9)
		x12 ^= bits.RotateLeft32(x8+x4, 13)
		x0 ^= bits.RotateLeft32(x12+x8, 18)

		x9 ^= bits.RotateLeft32(x5+x1, 7)
		x13 ^= bits.RotateLeft32(x9+x5, 9)
		x1 ^= bits.RotateLeft32(x13+x9, 13)
		x5 ^= bits.RotateLeft32(x1+x13, 18)

		x14 ^= bits.RotateLeft32(x10+x6, 7)
		x2 ^= bits.RotateLeft32(x14+x10, 9)
		x6 ^= bits.RotateLeft32(x2+x14, 13)
		x10 ^= bits.RotateLeft32(x6+x2, 18)

		x3 ^= bits.RotateLeft32(x15+x11, 7)
		x7 ^= bits.RotateLeft32(x3+x15, 9)
		x11 ^= bits.RotateLeft32(x7+x3, 13)
		x15 ^= bits.RotateLeft32(x11+x7, 18)

		// Rows: (0,1,2,3) (5,6,7,4) (10,11,8,9) (15,12,13,14).
		x1 ^= bits.RotateLeft32(x0+x3, 7)
		x2 ^= bits.RotateLeft32(x1+x0, 9)
		x3 ^= bits.RotateLeft32(x2+x1, 13)
		x0 ^= bits.RotateLeft32(x3+x2, 18)

		x6 ^= bits.RotateLeft32(x5+x4, 7)
		x7 ^= bits.RotateLeft32(x6+x5, 9)
		x4 ^= bits.RotateLeft32(x7+x6, 13)
		x5 ^= bits.RotateLeft32(x4+x7, 18)

		x11 ^= bits.RotateLeft32(x10+x9, 7)
		x8 ^= bits.RotateLeft32(x11+x10, 9)
		x9 ^= bits.RotateLeft32(x8+x11, 13)
		x10 ^= bits.RotateLeft32(x9+x8, 18)

		x12 ^= bits.RotateLeft32(x15+x14, 7)
		x13 ^= bits.RotateLeft32(x12+x15, 9)
		x14 ^= bits.RotateLeft32(x13+x12, 13)
		x15 ^= bits.RotateLeft32(x14+x13, 18)
	}
	x[0] += x0
	x[1] += x1
	x[2] += x2
	x[3] += x3
	x[4] += x4
	x[5] += x5
	x[6] += x6
	x[7] += x7
	x[8] += x8
	x[9] += x9
	x[10] += x10
	x[11] += x11
	x[12] += x12
	x[13] += x13
	x[14] += x14
	x[15] += x15
}
