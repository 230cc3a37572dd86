package stratum

import (
	"encoding/hex"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/scrypt"
)

// libScrypt is the reference: golang.org/x/crypto/scrypt with Litecoin's
// parameters.
func libScrypt(t testing.TB, h *BlockHeader) [32]byte {
	t.Helper()
	k, err := scrypt.Key(h[:], h[:], 1024, 1, 1, 32)
	require.NoError(t, err)
	return [32]byte(k)
}

// Litecoin's genesis block (chainparams: CreateGenesisBlock(1317972665,
// 2084524493, 0x1e0ffff0, 1, ...), block hash 12a765e3...bfe2, merkle
// root 97ddfbba...ced9).
func TestScrypt_LitecoinGenesis_Good(t *testing.T) {
	prev := [32]byte{}
	root := revHex(t, "97ddfbbae6be97fd6cdf3e7ca13232a3afff2353e29badfab7f73011edd4ced9")
	h := NewBlockHeader(1, &prev, &root, 1317972665, 0x1e0ffff0, 2084524493)
	require.Equal(t, "010000000000000000000000000000000000000000000000000000000000000000000000"+
		"d9ced4ed1130f7b7faad9be25323ffafa33232a17c3edf6cfd97bee6bafbdd97b9aa8e4ef0ff0f1ecd513f7c",
		hex.EncodeToString(h[:]))
	require.Equal(t, "12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2", display(h.Hash()),
		"the block id is sha256d")
	var sc ScryptHasher
	pow := sc.Hash(&h)
	require.Equal(t, libScrypt(t, &h), pow)
	bt := SV1TargetFromBits(0x1e0ffff0)
	require.True(t, bt.Meets(&pow), "the proof of work is scrypt and meets the block's target")
	sha := h.Hash()
	require.False(t, bt.Meets(&sha), "the sha256d hash does not")
}

// Litecoin block 2,000,000: header fields and block hash from the chain,
// proof-of-work hash 00000000000000c2c6ae849d...92cb as published with a
// scrypt_1024_1_1_256 test of another implementation.
func TestScrypt_LitecoinBlock2000000_Good(t *testing.T) {
	prev := revHex(t, "17ffe3fc57db0dbb599c15f14024074ad705d14b29ff99587474f1439decfbc4")
	root := revHex(t, "d5df7ed3506345ab3ca4544ea92bf21a8bf73f0bd96df5ba2ba8bace89ac2e3d")
	h := NewBlockHeader(0x20000000, &prev, &root, 1613205643, 0x1a01a4a0, 191081737)
	require.Equal(t, "3a4d8e7c77a85554fc8bd30d4e42d56eb71010e769ea9737f16241ba79bed9c5", display(h.Hash()))
	var sc ScryptHasher
	pow := sc.Hash(&h)
	require.Equal(t, "00000000000000c2c6ae849d8042bd746c986461b520f4ca3391070bb19592cb", display(pow))
	require.Equal(t, libScrypt(t, &h), pow)

	bt := SV1TargetFromBits(0x1a01a4a0)
	require.True(t, bt.Meets(&pow))
	// Network difficulty is in Bitcoin's unit (the chain reports
	// 10210761.98514116 for this block); share difficulty is ×65536.
	require.InDelta(t, 10210761.98514116, bt.Difficulty(), 1e-6)
	require.InDelta(t, bt.Difficulty()*65536, SV1AlgoScrypt.TargetDifficulty(&bt), 1e-3)
	require.Greater(t, SV1AlgoScrypt.HashDifficulty(&pow), SV1AlgoScrypt.TargetDifficulty(&bt))
}

// The implementation against the library on random headers, including
// the same hasher reused (its memory must not leak between hashes).
func TestScrypt_MatchesLibrary_Good(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var sc ScryptHasher
	n := 200
	if testing.Short() {
		n = 20
	}
	for range n {
		var h BlockHeader
		for i := range h {
			h[i] = byte(r.Uint32())
		}
		require.Equal(t, libScrypt(t, &h), sc.Hash(&h), "%x", h[:])
	}
	var zero, ones BlockHeader
	for i := range ones {
		ones[i] = 0xff
	}
	require.Equal(t, libScrypt(t, &zero), sc.Hash(&zero))
	require.Equal(t, libScrypt(t, &ones), sc.Hash(&ones))
}

func FuzzScrypt(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 80))
	var sc ScryptHasher
	f.Fuzz(func(t *testing.T, b []byte) {
		var h BlockHeader
		copy(h[:], b)
		if sc.Hash(&h) != libScrypt(t, &h) {
			t.Fatalf("differs from the library for %x", h[:])
		}
	})
}

func TestSV1Algo_Parse_Good(t *testing.T) {
	for name, want := range map[string]SV1Algo{
		"": SV1AlgoSHA256d, "sha256d": SV1AlgoSHA256d, "SHA256": SV1AlgoSHA256d, "sha-256": SV1AlgoSHA256d,
		"btc": SV1AlgoSHA256d, "Bitcoin": SV1AlgoSHA256d, "scrypt": SV1AlgoScrypt, "SCRYPT": SV1AlgoScrypt,
		"x11": SV1AlgoOther, "kawpow": SV1AlgoOther, "scrypt-n": SV1AlgoOther,
	} {
		require.Equal(t, want, ParseSV1Algo(name), name)
	}
	require.True(t, SV1AlgoSHA256d.Hashable())
	require.True(t, SV1AlgoScrypt.Hashable())
	require.False(t, SV1AlgoOther.Hashable())
	require.Equal(t, "scrypt", SV1AlgoScrypt.String())
	require.Equal(t, "sha256d", SV1AlgoSHA256d.String())
	require.Equal(t, "other", SV1AlgoOther.String())
}

func TestSV1Algo_Difficulty_Good(t *testing.T) {
	// Scrypt difficulty 1 is the target 0x0000FFFF·2^224.
	s1, ok := SV1AlgoScrypt.TargetFromDifficulty(1)
	require.True(t, ok)
	require.Equal(t, "0000ffff"+zeros(56), hex.EncodeToString(s1[:]))
	// Scrypt 65536 is sha256d's 1; sha256d's own conversions are unchanged.
	s64k, _ := SV1AlgoScrypt.TargetFromDifficulty(65536)
	b1, _ := SV1TargetFromDifficulty(1)
	require.Equal(t, b1, s64k)
	d1, _ := SV1AlgoSHA256d.TargetFromDifficulty(1)
	require.Equal(t, b1, d1)
	o1, _ := SV1AlgoOther.TargetFromDifficulty(1)
	require.Equal(t, b1, o1, "unknown algorithms keep sha256d's unit, as the pool sends it")

	// Hashes per difficulty-1 share.
	require.Equal(t, 4294967296.0, SV1AlgoSHA256d.HashesPerDifficulty())
	require.Equal(t, 65536.0, SV1AlgoScrypt.HashesPerDifficulty())

	// Round trips, fractional difficulties included.
	for _, d := range []float64{1.0 / 65536, 0.001, 0.5, 1, 3, 1024, 65536, 1e6, 1.45e6, 2.5e9} {
		for _, a := range []SV1Algo{SV1AlgoSHA256d, SV1AlgoScrypt} {
			tgt, ok := a.TargetFromDifficulty(d)
			require.True(t, ok)
			require.InEpsilon(t, d, a.TargetDifficulty(&tgt), 1e-9, "%v %v", a, d)
			// A hash equal to the target meets it and has its difficulty.
			var h [32]byte
			for i := range h {
				h[i] = tgt[31-i]
			}
			require.True(t, tgt.Meets(&h))
			require.InEpsilon(t, d, a.HashDifficulty(&h), 1e-9)
		}
	}
	_, ok = SV1AlgoScrypt.TargetFromDifficulty(0)
	require.False(t, ok)
	_, ok = SV1AlgoScrypt.TargetFromDifficulty(math.NaN())
	require.False(t, ok)
	_, ok = SV1AlgoScrypt.TargetFromDifficulty(math.Inf(1))
	require.False(t, ok)
}

// A whole scrypt share through the SV1 path: find a nonce meeting a low
// scrypt difficulty on block 100000's job, then check it as the proxy
// would.
func TestSV1Hasher_ShareHashAlgo_Good(t *testing.T) {
	job, e1, e2 := sv1BenchJob(t)
	var hs SV1Hasher
	var sc ScryptHasher
	const diff = 1.0 / (1 << 14) // scrypt: one header in ~4 meets it
	tgt, ok := SV1AlgoScrypt.TargetFromDifficulty(diff)
	require.True(t, ok)
	h := hs.Header(job, e1, e2, job.Version, job.NTime, 0)
	var nonce uint32
	found := false
	for nonce = 0; nonce < 200; nonce++ {
		h.SetNonce(nonce)
		pow := sc.Hash(&h)
		if tgt.Meets(&pow) {
			found = true
			break
		}
	}
	require.True(t, found)

	got, ok := hs.ShareHashAlgo(SV1AlgoScrypt, &sc, job, e1, e2, job.NTime, nonce, 0, 0)
	require.True(t, ok)
	require.Equal(t, libScrypt(t, &h), got)
	require.True(t, tgt.Meets(&got))
	require.GreaterOrEqual(t, SV1AlgoScrypt.HashDifficulty(&got), diff)

	sha, ok := hs.ShareHashAlgo(SV1AlgoSHA256d, nil, job, e1, e2, job.NTime, nonce, 0, 0)
	require.True(t, ok)
	require.Equal(t, hs.ShareHash(job, e1, e2, job.NTime, nonce, 0, 0), sha)
	require.NotEqual(t, got, sha)

	// Version rolling goes into the scrypt header too.
	rolled, _ := hs.ShareHashAlgo(SV1AlgoScrypt, &sc, job, e1, e2, job.NTime, nonce, 0x1fffe000, 0x1fffe000)
	hr := hs.Header(job, e1, e2, SV1RollVersion(job.Version, 0x1fffe000, 0x1fffe000), job.NTime, nonce)
	require.Equal(t, sc.Hash(&hr), rolled)

	_, ok = hs.ShareHashAlgo(SV1AlgoScrypt, nil, job, e1, e2, job.NTime, nonce, 0, 0)
	require.False(t, ok, "scrypt needs the loop's scrypt memory")
	_, ok = hs.ShareHashAlgo(SV1AlgoOther, &sc, job, e1, e2, job.NTime, nonce, 0, 0)
	require.False(t, ok)
}
