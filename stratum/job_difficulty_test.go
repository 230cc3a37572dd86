package stratum

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJob_DifficultyFromTarget_Good(t *testing.T) {
	// DESIGN §2.2: "b88d0600" is difficulty 10000 (the RFC's 100000 is wrong).
	require.Equal(t, uint64(10000), DifficultyFromTarget("b88d0600"))
	j := Job{Target: "b88d0600"}
	require.Equal(t, uint64(10000), j.Difficulty())
	// A 64-bit target: (2^64-1)/10000 little-endian.
	require.Equal(t, uint64(10000), DifficultyFromTarget("cb10c7bab88d0600"))
}

func TestJob_DifficultyFromTarget_Bad(t *testing.T) {
	require.Equal(t, uint64(0), DifficultyFromTarget("00000000"), "no divide by zero")
	require.Equal(t, uint64(0), DifficultyFromTarget("0000000000000000"))
	require.Equal(t, uint64(0), DifficultyFromTarget("zzzzzzzz"))
	require.Equal(t, uint64(0), DifficultyFromTarget(""))
	require.Equal(t, uint64(0), DifficultyFromTarget("b88d06"))
}

func TestJob_DifficultyFromTarget_Ugly(t *testing.T) {
	require.Equal(t, uint64(1), DifficultyFromTarget("ffffffff"), "minimum")
	require.Equal(t, uint64(1), DifficultyFromTarget("ffffffffffffffff"))
	require.Equal(t, uint64(math.MaxUint32), DifficultyFromTarget("01000000"))
	require.Equal(t, uint64(10000), DifficultyFromTarget("B88D0600"), "upper case")
}

func TestTargetFromDifficulty_Good(t *testing.T) {
	require.Equal(t, "b88d0600", TargetFromDifficulty(10000))
	for _, d := range []uint64{100, 1000, 5000, 10000, 120000, 1 << 20, 1<<24 - 1, 1 << 24, 1 << 31, 1 << 40} {
		got := DifficultyFromTarget(TargetFromDifficulty(d))
		// Integer division loses a little precision; the round trip stays
		// within 0.1%.
		require.InEpsilon(t, float64(d), float64(got), 0.001, "diff %d", d)
	}
}

func TestTargetFromDifficulty_Ugly(t *testing.T) {
	require.Equal(t, "ffffffff", TargetFromDifficulty(0))
	require.Equal(t, "ffffffff", TargetFromDifficulty(1))
	require.Len(t, TargetFromDifficulty(1<<24-1), 8)
	require.Len(t, TargetFromDifficulty(1<<24), 16)
	require.Equal(t, "0100000000000000", TargetFromDifficulty(math.MaxUint64))
}

func TestResultDifficulty_Good(t *testing.T) {
	// Tail 0x00068db8bac710cb little-endian = (2^64-1)/10000.
	result := "0000000000000000000000000000000000000000000000000000000000000000"
	result = result[:48] + "cb10c7bab88d0600"
	require.Equal(t, uint64(10000), ResultDifficulty(result))
	require.Equal(t, uint64(10000), ResultDifficulty([]byte(result)))
}

func TestResultDifficulty_Bad(t *testing.T) {
	require.Equal(t, uint64(0), ResultDifficulty("abcd"))
	require.Equal(t, uint64(0), ResultDifficulty("zz"+string(make([]byte, 62))))
}

func TestResultDifficulty_Ugly(t *testing.T) {
	zero := "0000000000000000000000000000000000000000000000000000000000000000"
	require.Equal(t, uint64(math.MaxUint64), ResultDifficulty(zero), "zero tail is the best share possible")
	ones := "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	require.Equal(t, uint64(1), ResultDifficulty(ones))
}
