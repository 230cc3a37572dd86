package stratum

import (
	"testing"

	"golang.org/x/crypto/scrypt"
)

var sinkHash [32]byte

func BenchmarkScryptHasher_Hash(b *testing.B) {
	var h BlockHeader
	sc := new(ScryptHasher)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.SetNonce(uint32(i))
		sinkHash = sc.Hash(&h)
	}
}

// The reference library, for comparison: same hash, ~130 KB of garbage
// per call.
func BenchmarkScryptLibrary_Key(b *testing.B) {
	var h BlockHeader
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.SetNonce(uint32(i))
		k, _ := scrypt.Key(h[:], h[:], 1024, 1, 1, 32)
		sinkHash = [32]byte(k)
	}
}

// A whole share check (coinbase, merkle root, header, proof of work).
func BenchmarkSV1Hasher_ShareHashAlgo(b *testing.B) {
	job, e1, e2 := sv1BenchJob(b)
	for _, a := range []SV1Algo{SV1AlgoSHA256d, SV1AlgoScrypt} {
		b.Run(a.String(), func(b *testing.B) {
			var hs SV1Hasher
			sc := new(ScryptHasher)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				sinkHash, _ = hs.ShareHashAlgo(a, sc, job, e1, e2, job.NTime, uint32(i), 0, 0)
			}
		})
	}
}
