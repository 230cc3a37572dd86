package sv1pool

import (
	"encoding/binary"
	"math/rand/v2"
)

// Block template constants: what a Bitcoin pool sends in 2024-2025.
const (
	blockVersion = 0x20000000 // BIP9 version bits, nothing signalled
	blockNBits   = 0x17034219 // a mainnet-like compact target
	firstHeight  = 880_000
	subsidy      = 312_500_000 // 3.125 BTC in satoshis
	coinbaseTag  = "/sv1pool/"
	// prevHashZeroBytes is how many most significant bytes (the last ones in
	// internal byte order) of a generated previous block hash are zero, as
	// proof of work makes them.
	prevHashZeroBytes = 9
)

// chainState is the pool's idea of the chain tip. Guarded by Pool.mu.
type chainState struct {
	height   uint32
	prevHash [32]byte // header (internal) byte order
	payout   [20]byte // witness program of the pool's P2WPKH payout
}

// newBlock moves to a new chain tip: the next height and a random previous
// block hash. The first call also picks the start height and the payout.
func (c *chainState) newBlock(rng *rand.Rand) {
	if c.height == 0 {
		c.height = firstHeight + uint32(rng.IntN(10_000))
		fillRandom(rng, c.payout[:])
	} else {
		c.height++
	}
	fillRandom(rng, c.prevHash[:32-prevHashZeroBytes])
	clear(c.prevHash[32-prevHashZeroBytes:])
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// buildCoinbase returns a coinbase transaction cut around its extranonce
// space of exLen bytes (extranonce1 ‖ extranonce2), so that
// coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2 is the whole transaction:
//
//	version 1, one input spending the null outpoint with the scriptSig
//	  03 <height, 3 bytes LE>         BIP34 height push
//	  <exLen> <extranonce1 ‖ extranonce2>  one push of the extranonce
//	  <len> "/sv1pool/"               the pool's tag
//	sequence ffffffff, outputs P2WPKH outputs sharing value satoshis
//	  (the first pays payout, the others variants of it), lock time 0.
//
// exLen is at most 32, so every push is a direct push and the scriptSig
// (at most 47 bytes) stays within the 2..100 bytes consensus allows.
// outputs is 1..252 (a one-byte count); many outputs make the long
// coinbases of PPLNS pools that pay their miners in the coinbase.
func buildCoinbase(height uint32, exLen int, value uint64, payout *[20]byte, outputs int) (coinb1, coinb2 []byte) {
	outputs = min(max(outputs, 1), maxPayoutOutputs)
	scriptLen := 4 + 1 + exLen + 1 + len(coinbaseTag)
	coinb1 = make([]byte, 0, 42+5)
	coinb1 = binary.LittleEndian.AppendUint32(coinb1, 1) // tx version
	coinb1 = append(coinb1, 1)                           // one input
	coinb1 = append(coinb1, make([]byte, 32)...)         // null prevout hash
	coinb1 = binary.LittleEndian.AppendUint32(coinb1, 0xffffffff)
	coinb1 = append(coinb1, byte(scriptLen))
	coinb1 = append(coinb1, 3, byte(height), byte(height>>8), byte(height>>16))
	coinb1 = append(coinb1, byte(exLen)) // push opcode of the extranonce

	coinb2 = make([]byte, 0, 1+len(coinbaseTag)+4+1+outputs*(8+1+22)+4)
	coinb2 = append(coinb2, byte(len(coinbaseTag)))
	coinb2 = append(coinb2, coinbaseTag...)
	coinb2 = binary.LittleEndian.AppendUint32(coinb2, 0xffffffff) // sequence
	coinb2 = append(coinb2, byte(outputs))
	each := value / uint64(outputs)
	for i := 0; i < outputs; i++ {
		v := each
		if i == 0 {
			v = value - each*uint64(outputs-1)
		}
		coinb2 = binary.LittleEndian.AppendUint64(coinb2, v)
		coinb2 = append(coinb2, 22, 0x00, 20) // scriptPubKey: OP_0 <20 bytes>
		to := *payout
		to[19] ^= byte(i)
		to[18] ^= byte(i >> 8)
		coinb2 = append(coinb2, to[:]...)
	}
	coinb2 = binary.LittleEndian.AppendUint32(coinb2, 0) // lock time
	return coinb1, coinb2
}
