package swarm

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/stratum"
)

func blobWithByte42(b byte) string {
	j := stratum.Job{Blob: strings.Repeat("07", 76)}
	return j.BlobWithFixedByte(b)
}

func TestNonce_FixedByte_Good(t *testing.T) {
	blob := blobWithByte42(0xab)
	fixed, ok := fixedByteOf(blob)
	require.True(t, ok)
	require.Equal(t, byte(0xab), fixed)

	seen := make(map[string]bool)
	for c := uint32(0); c < 70000; c++ {
		n := string(appendNonce(nil, fixed, true, c))
		require.Len(t, n, 8)
		require.True(t, stratum.IsHex(n))
		require.Equal(t, byte(0xab), stratum.NonceFixedByte([]byte(n)), n)
		require.Equal(t, "ab", n[6:8])
		require.False(t, seen[n], "nonce %s repeated", n)
		seen[n] = true
	}
	require.Equal(t, "020001ab", string(appendNonce(nil, 0xab, true, 0x010002)))
	require.Equal(t, "ffffffab", string(appendNonce(nil, 0xab, true, 0xffffff)))
	require.True(t, nonceExhausted(true, 1<<24))
	require.False(t, nonceExhausted(true, 1<<24-1))
}

func TestNonce_NoNiceHash_Ugly(t *testing.T) {
	_, ok := fixedByteOf("0707")
	require.False(t, ok)
	_, ok = fixedByteOf(strings.Repeat("zz", 50))
	require.False(t, ok)
	require.Equal(t, "04030201", string(appendNonce(nil, 0xff, false, 0x01020304)))
}

func TestResult_Difficulty_Good(t *testing.T) {
	for _, diff := range []uint64{0, 1, 2, 1000, 10000, 123456789, math.MaxUint32, math.MaxUint64 / 2, math.MaxUint64} {
		for salt := uint64(0); salt < 50; salt++ {
			r := appendResult(nil, diff, salt)
			require.Len(t, r, 64)
			require.True(t, stratum.IsHex(r))
			got := stratum.ResultDifficulty(r)
			require.GreaterOrEqual(t, got, max(diff, 1), "diff %d salt %d", diff, salt)
			if diff >= 4 && diff < math.MaxUint64/2 {
				require.LessOrEqual(t, got, diff+diff/4+1+diff/100)
			}
		}
	}
}
