package stratum

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/big"
)

// Bitcoin-family proof of work: double SHA-256 of an 80-byte header whose
// merkle root commits to a coinbase the miner completes with extranonce1
// and extranonce2. Hashes are kept in internal (hashing) byte order, the
// order sha256 produces; block explorers display them reversed.

// DoubleSHA256 returns SHA-256(SHA-256(b)). It does not allocate.
func DoubleSHA256(b []byte) [32]byte {
	h := sha256.Sum256(b)
	return sha256.Sum256(h[:])
}

// hashPair returns DoubleSHA256(a || b), one merkle tree step.
func hashPair(a, b *[32]byte) [32]byte {
	var buf [64]byte
	copy(buf[:32], a[:])
	copy(buf[32:], b[:])
	return DoubleSHA256(buf[:])
}

// MerkleRootFromBranch folds a stratum merkle branch over the coinbase
// hash: root = H(...H(H(coinbase || branch[0]) || branch[1])...). An empty
// branch gives the coinbase hash itself. It does not allocate.
func MerkleRootFromBranch(coinbaseHash [32]byte, branch [][32]byte) [32]byte {
	root := coinbaseHash
	for i := range branch {
		root = hashPair(&root, &branch[i])
	}
	return root
}

// BlockMerkleRoot computes a block's merkle root from all its transaction
// hashes (coinbase first, internal byte order), duplicating the last hash of
// odd levels as Bitcoin does. It allocates; it is for tests and mock pools.
func BlockMerkleRoot(txHashes [][32]byte) [32]byte {
	if len(txHashes) == 0 {
		return [32]byte{}
	}
	level := append([][32]byte(nil), txHashes...)
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			next = append(next, hashPair(&level[i], &level[i+1]))
		}
		level = next
	}
	return level[0]
}

// CoinbaseMerkleBranch returns the stratum merkle branch of a block whose
// transactions after the coinbase are txHashes (internal byte order): the
// siblings of the coinbase on its way to the root. It allocates; mock pools
// use it to build mining.notify.
func CoinbaseMerkleBranch(txHashes [][32]byte) [][32]byte {
	level := make([][32]byte, 0, len(txHashes)+2)
	level = append(level, [32]byte{}) // the coinbase, unknown here
	level = append(level, txHashes...)
	var branch [][32]byte
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		branch = append(branch, level[1])
		next := level[:1]
		for i := 2; i < len(level); i += 2 {
			next = append(next, hashPair(&level[i], &level[i+1]))
		}
		level = next
	}
	return branch
}

// SV1RollVersion applies BIP310 version rolling:
// nVersion = (jobVersion & ^mask) | (versionBits & mask).
func SV1RollVersion(jobVersion, versionBits, mask uint32) uint32 {
	return jobVersion&^mask | versionBits&mask
}

// BlockHeader is an 80-byte Bitcoin block header in wire order: version,
// prevhash, merkle root, time, bits, nonce, integers little-endian.
type BlockHeader [80]byte

// NewBlockHeader assembles a header. prevHash and merkleRoot are in header
// (internal) byte order; the integers are their values (stratum sends them
// as big-endian hex, the header stores them little-endian).
func NewBlockHeader(version uint32, prevHash, merkleRoot *[32]byte, ntime, nbits, nonce uint32) BlockHeader {
	var h BlockHeader
	binary.LittleEndian.PutUint32(h[0:], version)
	copy(h[4:36], prevHash[:])
	copy(h[36:68], merkleRoot[:])
	binary.LittleEndian.PutUint32(h[68:], ntime)
	binary.LittleEndian.PutUint32(h[72:], nbits)
	binary.LittleEndian.PutUint32(h[76:], nonce)
	return h
}

// SetNonce writes the nonce field (bytes 76-79).
func (h *BlockHeader) SetNonce(nonce uint32) { binary.LittleEndian.PutUint32(h[76:], nonce) }

// SetNTime writes the time field (bytes 68-71).
func (h *BlockHeader) SetNTime(ntime uint32) { binary.LittleEndian.PutUint32(h[68:], ntime) }

// SetVersion writes the version field (bytes 0-3).
func (h *BlockHeader) SetVersion(version uint32) { binary.LittleEndian.PutUint32(h[0:], version) }

// Hash returns the header's double SHA-256 in internal byte order.
func (h *BlockHeader) Hash() [32]byte { return DoubleSHA256(h[:]) }

// Search tries nonces start, start+1, ... (count of them, wrapping at 2^32)
// and returns the first whose hash meets t, leaving it in h. A test miner at
// difficulty 1/65536 expects a hit every ~65536 nonces.
func (h *BlockHeader) Search(t *SV1Target, start, count uint32) (nonce uint32, hash [32]byte, ok bool) {
	for i := uint32(0); i < count; i++ {
		nonce = start + i
		h.SetNonce(nonce)
		hash = h.Hash()
		if t.Meets(&hash) {
			return nonce, hash, true
		}
	}
	return 0, hash, false
}

// SV1Hasher holds the scratch memory of share checks: the coinbase being
// assembled. Keep one per event loop; it is not safe for concurrent use. The
// zero value is ready; its buffer grows once to the largest coinbase seen
// (at most MaxSV1Coinbase bytes), after which checks never allocate.
type SV1Hasher struct {
	buf []byte
}

// CoinbaseHash returns the double SHA-256 of coinb1 || extranonce1 ||
// extranonce2 || coinb2 (the coinbase txid in internal byte order).
// extranonce1 and extranonce2 are binary.
func (s *SV1Hasher) CoinbaseHash(j *SV1JobBinary, extranonce1, extranonce2 []byte) [32]byte {
	n := len(j.Coinb1) + len(extranonce1) + len(extranonce2) + len(j.Coinb2)
	if cap(s.buf) < n {
		s.buf = make([]byte, 0, max(n, 512))
	}
	b := append(s.buf[:0], j.Coinb1...)
	b = append(b, extranonce1...)
	b = append(b, extranonce2...)
	b = append(b, j.Coinb2...)
	return DoubleSHA256(b)
}

// MerkleRoot returns the merkle root of the job's block with the given
// extranonces, in header byte order.
func (s *SV1Hasher) MerkleRoot(j *SV1JobBinary, extranonce1, extranonce2 []byte) [32]byte {
	return MerkleRootFromBranch(s.CoinbaseHash(j, extranonce1, extranonce2), j.Branch)
}

// Header returns the block header a miner hashes for this job, with the
// given extranonces, ntime, nonce and rolled version (see SV1RollVersion;
// pass j.Version when the miner does not roll). Test miners build it once
// per extranonce2 and then only call SetNonce and Hash.
func (s *SV1Hasher) Header(j *SV1JobBinary, extranonce1, extranonce2 []byte, version, ntime, nonce uint32) BlockHeader {
	root := s.MerkleRoot(j, extranonce1, extranonce2)
	return NewBlockHeader(version, &j.PrevHash, &root, ntime, j.NBits, nonce)
}

// ShareHash is the whole share check short of the target comparison: it
// rebuilds the coinbase, the merkle root and the header of a submitted share
// and returns the header hash (internal byte order). extranonce1 is the
// miner's full extranonce1 (the pool's plus the proxy's prefix), binary;
// extranonce2 the submitted one, binary. ntime, nonce and versionBits are
// the submitted values (SV1Submit.Validate decodes them); versionMask is the
// miner's negotiated mask, 0 when it does not roll. Compare the result with
// SV1Target.Meets or SV1HashDifficulty. It does not allocate once the
// hasher is warm.
func (s *SV1Hasher) ShareHash(j *SV1JobBinary, extranonce1, extranonce2 []byte, ntime, nonce, versionBits, versionMask uint32) [32]byte {
	h := s.Header(j, extranonce1, extranonce2, SV1RollVersion(j.Version, versionBits, versionMask), ntime, nonce)
	return h.Hash()
}

// SV1HashesPerDifficulty is the hashes one difficulty-1 share represents
// by pool convention (2^32; exactly 2^48/0xFFFF). Hashrate in H/s is
// Σ(share difficulty) × SV1HashesPerDifficulty / seconds.
const SV1HashesPerDifficulty = 4294967296.0

// diff1 is the difficulty-1 target 0x00000000FFFF0000...0000 = 0xFFFF·2^208.
var diff1Float = math.Ldexp(0xFFFF, 208)

// hashFloat reads a 32-byte hash as a little-endian 256-bit integer.
func hashFloat(h *[32]byte) float64 {
	var v float64
	for i := 31; i >= 0; i-- {
		v = v*256 + float64(h[i])
	}
	return v
}

// SV1HashDifficulty returns the difficulty a header hash meets: the
// difficulty-1 target divided by the hash read as a little-endian 256-bit
// number (float64 precision). A zero hash gives +Inf.
func SV1HashDifficulty(hash *[32]byte) float64 {
	v := hashFloat(hash)
	if v == 0 {
		return math.Inf(1)
	}
	return diff1Float / v
}

// SV1Target is a 256-bit share target, big-endian. A share meets it when
// its header hash, read as a little-endian number, is <= the target.
// Build one per difficulty change (SV1TargetFromDifficulty); Meets does not
// allocate. It is a value; safe for concurrent reads.
type SV1Target [32]byte

// SV1TargetFromDifficulty returns floor(diff1 / diff), computed exactly
// with math/big so fractional difficulties (1/65536 gives
// 0x0000FFFF00...) work; a target above 2^256-1 is clamped. It reports false
// for a difficulty that is not finite and > 0.
func SV1TargetFromDifficulty(diff float64) (SV1Target, bool) {
	var t SV1Target
	if !(diff > 0) || math.IsInf(diff, 0) {
		return t, false
	}
	frac, exp := math.Frexp(diff) // diff = frac·2^exp, frac in [0.5, 1)
	mant := uint64(math.Ldexp(frac, 53))
	exp -= 53 // diff = mant·2^exp exactly
	num := new(big.Int).Lsh(big.NewInt(0xFFFF), 208)
	den := new(big.Int).SetUint64(mant)
	if exp < 0 {
		num.Lsh(num, uint(-exp))
	} else {
		den.Lsh(den, uint(exp))
	}
	q := num.Quo(num, den)
	if q.BitLen() > 256 {
		for i := range t {
			t[i] = 0xff
		}
		return t, true
	}
	q.FillBytes(t[:])
	return t, true
}

// SV1TargetFromBits expands a compact nBits value (the block target).
// A negative or overflowing encoding gives the zero target.
func SV1TargetFromBits(nbits uint32) SV1Target {
	var t SV1Target
	exp := int(nbits >> 24)
	mant := nbits & 0x007fffff
	if nbits&0x00800000 != 0 || mant == 0 {
		return t
	}
	var m [3]byte
	m[0], m[1], m[2] = byte(mant>>16), byte(mant>>8), byte(mant)
	// The value is mant·256^(exp-3): its last byte sits at index 32-(exp-3)-1.
	for i := 0; i < 3; i++ {
		pos := 32 - exp + i // position of m[i] in the big-endian array
		if pos < 0 {
			if m[i] != 0 {
				return SV1Target{}
			}
			continue
		}
		if pos < 32 {
			t[pos] = m[i]
		}
	}
	return t
}

// Meets reports whether hash (internal byte order, a little-endian number)
// is <= t.
func (t *SV1Target) Meets(hash *[32]byte) bool {
	for w := 0; w < 4; w++ {
		tv := binary.BigEndian.Uint64(t[w*8:])
		hv := binary.LittleEndian.Uint64(hash[24-w*8:])
		if hv != tv {
			return hv < tv
		}
	}
	return true
}

// Difficulty returns diff1 / t (float64 precision); a zero target gives +Inf.
func (t *SV1Target) Difficulty() float64 {
	var v float64
	for _, b := range t {
		v = v*256 + float64(b)
	}
	if v == 0 {
		return math.Inf(1)
	}
	return diff1Float / v
}
