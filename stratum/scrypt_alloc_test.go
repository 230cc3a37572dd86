//go:build !race

package stratum

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A scrypt share check allocates nothing once the hashers exist (the
// library's scrypt.Key allocates ~130 KB per call). Skipped under -race.
func TestAllocs_ShareHashAlgoScrypt(t *testing.T) {
	job, e1, e2 := sv1BenchJob(t)
	var hs SV1Hasher
	sc := new(ScryptHasher)
	hs.ShareHash(job, e1, e2, job.NTime, 0, 0, 0) // warm the coinbase buffer
	nonce := uint32(0)
	n := testing.AllocsPerRun(50, func() {
		nonce++
		h, ok := hs.ShareHashAlgo(SV1AlgoScrypt, sc, job, e1, e2, job.NTime, nonce, 0, 0)
		if !ok || SV1AlgoScrypt.HashDifficulty(&h) <= 0 {
			t.Fatal("bad hash")
		}
	})
	require.Zero(t, n)
	tgt, _ := SV1AlgoSHA256d.TargetFromDifficulty(1) // once per difficulty change
	n = testing.AllocsPerRun(1000, func() {
		nonce++
		h, _ := hs.ShareHashAlgo(SV1AlgoSHA256d, nil, job, e1, e2, job.NTime, nonce, 0, 0)
		_ = tgt.Meets(&h)
	})
	require.Zero(t, n)
}
