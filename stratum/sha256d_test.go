package stratum

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"
)

// Real Bitcoin main-chain vectors. Hashes are written as block explorers
// display them (reversed); revHex turns them into internal byte order.
//
//   - Genesis block: header bytes and hash as in Bitcoin Core's chainparams,
//     copied from stickies-v/py-bitcoinkernel tests (GENESIS_BLOCK_HEX,
//     GENESIS_HASH_HEX, GENESIS_TXID_HEX), also used by many header parsers.
//   - Block 125552: the worked example of the Bitcoin wiki page "Block
//     hashing algorithm" (https://en.bitcoin.it/wiki/Block_hashing_algorithm),
//     reproduced at https://www.herongyang.com/Bitcoin/Block-Data-Block-Hash-Calculation-Algorithm.html.
//   - Block 100000: header fields, its four transactions and their txids from
//     btcsuite/btcutil block_test.go (Block100000, TestBlock wantTxHashes);
//     the raw coinbase transaction hex as in libsv/go-bt-based tests and the
//     blockchain.com/mempool.space raw tx 8c14f0db...; difficulty
//     14484.1623612254 from the bitcoind getblock answer quoted in several
//     RPC test fixtures.
const (
	genesisHeaderHex = "0100000000000000000000000000000000000000000000000000000000000000" +
		"000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa" +
		"4b1e5e4a29ab5f49ffff001d1dac2b7c"
	genesisHash = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
	genesisTxID = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
	// The genesis coinbase transaction (the block's only transaction).
	genesisCoinbaseHex = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff" +
		"4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e2062" +
		"72696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a0100000043" +
		"4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e5" +
		"1ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000"

	block125552HeaderHex = "01000000" +
		"81cd02ab7e569e8bcd9317e2fe99f2de44d49ab2b8851ba4a308000000000000" +
		"e320b6c2fffc8d750423db8b1eb942ae710e951ed797f7affc8892b0f1fc122b" +
		"c7f5d74d" + "f2b9441a" + "42a14695"
	block125552Hash = "00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d"

	b100kPrevHash   = "000000000002d01c1fccc21636b607dfd930d31d01c3a62104612a1719011250"
	b100kMerkleRoot = "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766"
	b100kTime       = 1293623863 // 2010-12-29 11:57:43 UTC
	b100kBits       = 0x1b04864c
	b100kNonce      = 0x10572b0f // 274148111
	b100kHash       = "000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506"
	b100kDifficulty = 14484.1623612254
	b100kCoinbase   = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff" +
		"08044c86041b020602ffffffff0100f2052a010000004341041b0e8c2567c12536aa13357b79a073dc4444acb8" +
		"3c4ec7a0e2f99dd7457516c5817242da796924ca4e99947d087fedf9ce467cb9f7c6287078f801df276fdf84ac00000000"
)

// b100kTxIDs are block 100000's transactions, coinbase first.
var b100kTxIDs = []string{
	"8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
	"fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
	"6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
	"e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d",
}

// revHex decodes a displayed hash into internal byte order.
func revHex(t testing.TB, s string) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	require.Len(t, b, 32)
	var h [32]byte
	for i := range b {
		h[31-i] = b[i]
	}
	return h
}

// display renders a hash in internal byte order as explorers show it.
func display(h [32]byte) string {
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		h[i], h[j] = h[j], h[i]
	}
	return hex.EncodeToString(h[:])
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestSHA256d_DoubleSHA256_Good(t *testing.T) {
	// Independent of the implementation: two rounds of crypto/sha256.
	data := []byte("hello")
	first := sha256.Sum256(data)
	require.Equal(t, sha256.Sum256(first[:]), DoubleSHA256(data))
	// The genesis coinbase hashes to its txid, which is its merkle root.
	require.Equal(t, genesisTxID, display(DoubleSHA256(mustHex(t, genesisCoinbaseHex))))
	require.Equal(t, b100kTxIDs[0], display(DoubleSHA256(mustHex(t, b100kCoinbase))))
}

func TestSHA256d_GenesisHeader_Good(t *testing.T) {
	prev := [32]byte{}
	root := revHex(t, genesisTxID)
	h := NewBlockHeader(1, &prev, &root, 1231006505, 0x1d00ffff, 2083236893)
	require.Equal(t, genesisHeaderHex, hex.EncodeToString(h[:]))
	require.Equal(t, genesisHash, display(h.Hash()))
	// The genesis block meets its own target, difficulty 1.
	bt := SV1TargetFromBits(0x1d00ffff)
	hash := h.Hash()
	require.True(t, bt.Meets(&hash))
	require.Equal(t, 1.0, bt.Difficulty())
	require.GreaterOrEqual(t, SV1HashDifficulty(&hash), 1.0)
}

func TestSHA256d_Block125552_Good(t *testing.T) {
	var h BlockHeader
	copy(h[:], mustHex(t, block125552HeaderHex))
	require.Equal(t, block125552Hash, display(h.Hash()))
	// The same header from the fields the wiki lists.
	prev := revHex(t, "00000000000008a3a41b85b8b29ad444def299fee21793cd8b9e567eab02cd81")
	root := revHex(t, "2b12fcf1b09288fcaff797d71e950e71ae42b91e8bdb2304758dfcffc2b620e3")
	require.Equal(t, h, NewBlockHeader(1, &prev, &root, 1305998791, 0x1a44b9f2, 2504433986))
	hash := h.Hash()
	bt := SV1TargetFromBits(0x1a44b9f2)
	require.True(t, bt.Meets(&hash))
}

func TestSHA256d_Block100000_Good(t *testing.T) {
	var txs [][32]byte
	for _, id := range b100kTxIDs {
		txs = append(txs, revHex(t, id))
	}
	require.Equal(t, b100kMerkleRoot, display(BlockMerkleRoot(txs)))
	// The coinbase branch folds back to the same root.
	branch := CoinbaseMerkleBranch(txs[1:])
	require.Len(t, branch, 2)
	require.Equal(t, txs[1], branch[0])
	require.Equal(t, b100kMerkleRoot, display(MerkleRootFromBranch(txs[0], branch)))
	// branch[1] is H(tx2 || tx3); etherex/btc-swap's tests prove tx 1 of
	// block 100000 with siblings [tx0, 0x8e3089...ae49] (displayed order).
	require.Equal(t, "8e30899078ca1813be036a073bbf80b86cdddde1c96e9e9c99e9e3782df4ae49", display(branch[1]))

	prev := revHex(t, b100kPrevHash)
	root := BlockMerkleRoot(txs)
	h := NewBlockHeader(1, &prev, &root, b100kTime, b100kBits, b100kNonce)
	hash := h.Hash()
	require.Equal(t, b100kHash, display(hash))
	bt := SV1TargetFromBits(b100kBits)
	require.True(t, bt.Meets(&hash))
	require.InDelta(t, b100kDifficulty, bt.Difficulty(), 1e-9)
	require.GreaterOrEqual(t, SV1HashDifficulty(&hash), b100kDifficulty)
}

func TestSHA256d_MerkleBranch_Ugly(t *testing.T) {
	// Odd levels duplicate their last hash; the branch must agree with the
	// full tree for every size.
	for n := 1; n <= 9; n++ {
		txs := make([][32]byte, n)
		for i := range txs {
			txs[i] = sha256.Sum256([]byte{byte(i)})
		}
		require.Equal(t, BlockMerkleRoot(txs), MerkleRootFromBranch(txs[0], CoinbaseMerkleBranch(txs[1:])), "n=%d", n)
	}
	require.Empty(t, CoinbaseMerkleBranch(nil))
	require.Equal(t, [32]byte{}, BlockMerkleRoot(nil))
}

func TestSHA256d_TargetFromDifficulty_Good(t *testing.T) {
	tg, ok := SV1TargetFromDifficulty(1)
	require.True(t, ok)
	require.Equal(t, "00000000ffff"+zeros(52), hex.EncodeToString(tg[:]))
	require.Equal(t, SV1TargetFromBits(0x1d00ffff), tg)

	tg, ok = SV1TargetFromDifficulty(1.0 / 65536)
	require.True(t, ok)
	require.Equal(t, "0000ffff"+zeros(56), hex.EncodeToString(tg[:]))
	require.Equal(t, 1.0/65536, tg.Difficulty())

	tg, ok = SV1TargetFromDifficulty(65536)
	require.True(t, ok)
	require.Equal(t, "000000000000ffff"+zeros(48), hex.EncodeToString(tg[:]))

	// A non-power-of-two difficulty is floor(diff1/diff), exactly.
	tg, ok = SV1TargetFromDifficulty(3)
	require.True(t, ok)
	want := new(big.Int).Quo(new(big.Int).Lsh(big.NewInt(0xFFFF), 208), big.NewInt(3))
	require.Equal(t, want, new(big.Int).SetBytes(tg[:]))

	// Block 100000's difficulty gives (almost exactly) its own target.
	tg, ok = SV1TargetFromDifficulty(b100kDifficulty)
	require.True(t, ok)
	require.InDelta(t, b100kDifficulty, tg.Difficulty(), 1e-6)
}

func TestSHA256d_TargetFromDifficulty_Bad(t *testing.T) {
	for _, d := range []float64{0, -1, math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, ok := SV1TargetFromDifficulty(d)
		require.False(t, ok, "%v", d)
	}
}

func TestSHA256d_TargetFromDifficulty_Ugly(t *testing.T) {
	// Tiny difficulties clamp to the largest target; huge ones approach 0.
	tg, ok := SV1TargetFromDifficulty(1e-300)
	require.True(t, ok)
	for _, b := range tg {
		require.Equal(t, byte(0xff), b)
	}
	tg, ok = SV1TargetFromDifficulty(MaxSV1Difficulty)
	require.True(t, ok)
	require.Equal(t, "000000000000000000000000ffff"+zeros(36), hex.EncodeToString(tg[:]))
	tg, ok = SV1TargetFromDifficulty(math.MaxFloat64)
	require.True(t, ok)
	require.Equal(t, SV1Target{}, tg)
}

func TestSHA256d_Meets_Ugly(t *testing.T) {
	tg, _ := SV1TargetFromDifficulty(1)
	// A hash equal to the target meets it; one more does not.
	var hash [32]byte
	for i := range tg {
		hash[31-i] = tg[i]
	}
	require.True(t, tg.Meets(&hash))
	hash[0] = 1 // least significant byte
	require.False(t, tg.Meets(&hash))
	hash[0] = 0
	hash[26] = 0xfe // below the target's 0xffff at bytes 26-27 (LE)
	require.True(t, tg.Meets(&hash))
	var zero [32]byte
	require.True(t, tg.Meets(&zero))
	require.True(t, math.IsInf(SV1HashDifficulty(&zero), 1))
	var empty SV1Target
	require.True(t, math.IsInf(empty.Difficulty(), 1))
	require.True(t, empty.Meets(&zero))
	require.False(t, empty.Meets(&hash))
}

func TestSHA256d_TargetFromBits_Ugly(t *testing.T) {
	require.Equal(t, SV1Target{}, SV1TargetFromBits(0x1d80ffff), "negative")
	require.Equal(t, SV1Target{}, SV1TargetFromBits(0x23ffffff), "overflow")
	require.Equal(t, SV1Target{}, SV1TargetFromBits(0x1d000000), "zero mantissa")
	tg := SV1TargetFromBits(0x02123456) // exponent below 3 shifts right
	require.Equal(t, zeros(60)+"1234", hex.EncodeToString(tg[:]))
	tg = SV1TargetFromBits(0x207fffff) // regtest's limit
	require.Equal(t, "7fffff"+zeros(58), hex.EncodeToString(tg[:]))
}

func TestSHA256d_RollVersion_Good(t *testing.T) {
	// BIP310: nVersion = (job_version & ~mask) | (version_bits & mask).
	require.Equal(t, uint32(0x20000000), SV1RollVersion(0x20000000, 0, SV1DefaultVersionMask))
	require.Equal(t, uint32(0x3fffe000), SV1RollVersion(0x20000000, 0xffffffff, SV1DefaultVersionMask))
	require.Equal(t, uint32(0x20a00000), SV1RollVersion(0x20000000, 0x00a00000, SV1DefaultVersionMask))
	require.Equal(t, uint32(0x20000000), SV1RollVersion(0x20000000, 0x00a00000, 0), "no mask, no rolling")
}

func TestSHA256d_HeaderSearch_Good(t *testing.T) {
	// A test miner at difficulty 1/65536 finds shares quickly, and every one
	// it reports meets the target.
	prev := revHex(t, b100kPrevHash)
	root := revHex(t, b100kMerkleRoot)
	h := NewBlockHeader(1, &prev, &root, b100kTime, b100kBits, 0)
	tg, _ := SV1TargetFromDifficulty(1.0 / 65536)
	nonce, hash, ok := h.Search(&tg, 0, 1<<22)
	require.True(t, ok)
	require.True(t, tg.Meets(&hash))
	require.Equal(t, hash, h.Hash(), "header left at the found nonce")
	require.Equal(t, nonce, uint32(h[76])|uint32(h[77])<<8|uint32(h[78])<<16|uint32(h[79])<<24)
	require.GreaterOrEqual(t, SV1HashDifficulty(&hash), 1.0/65536)
	// The real nonce is found from just before it.
	tb := SV1TargetFromBits(b100kBits)
	nonce, _, ok = h.Search(&tb, b100kNonce-3, 10)
	require.True(t, ok)
	require.Equal(t, uint32(b100kNonce), nonce)
	_, _, ok = h.Search(&tb, 0, 100)
	require.False(t, ok)
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}
