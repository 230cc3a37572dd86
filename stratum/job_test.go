package stratum

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The RFC places the fixed byte at hex 78-79 (byte 39); DESIGN §2.1 moves
// it to byte 42 (hex 84-85), where XMRig and xmrig-proxy keep it.

func TestJob_BlobWithFixedByte_Good(t *testing.T) {
	j := Job{Blob: strings.Repeat("0", 160)}
	got := j.BlobWithFixedByte(0x2A)
	require.Equal(t, "2a", got[84:86])
	require.Len(t, got, 160)
	require.Equal(t, strings.Repeat("0", 84), got[:84])
	require.Equal(t, strings.Repeat("0", 74), got[86:])
}

func TestJob_BlobWithFixedByte_Bad(t *testing.T) {
	short := strings.Repeat("0", 78)
	j := Job{Blob: short}
	require.Equal(t, short, j.BlobWithFixedByte(0x2A))
	// 85 hex chars cannot hold byte 42 either.
	j.Blob = strings.Repeat("0", 85)
	require.Equal(t, j.Blob, j.BlobWithFixedByte(0x01))
}

func TestJob_BlobWithFixedByte_Ugly(t *testing.T) {
	j := Job{Blob: strings.Repeat("0", 86)}
	got := j.BlobWithFixedByte(0xFF)
	require.Equal(t, "ff", got[84:86], "lowercase, not FF")
	require.Len(t, got, 86)
}

func TestJob_IsValid_Good(t *testing.T) {
	j := testJob()
	require.True(t, j.IsValid())
	j.Target = "b88d0600b88d0600"
	require.True(t, j.IsValid(), "64-bit targets are valid")
}

func TestJob_IsValid_Bad(t *testing.T) {
	for name, mutate := range map[string]func(*Job){
		"empty blob":      func(j *Job) { j.Blob = "" },
		"odd blob":        func(j *Job) { j.Blob += "0" },
		"non-hex blob":    func(j *Job) { j.Blob = "zz" + j.Blob[2:] },
		"empty job id":    func(j *Job) { j.JobID = "" },
		"quote in job id": func(j *Job) { j.JobID = `a"b` },
		"short target":    func(j *Job) { j.Target = "b88d06" },
		"hex target 12":   func(j *Job) { j.Target = "b88d0600b88d" },
		"bad algo":        func(j *Job) { j.Algo = "rx 0" },
		"bad seed hash":   func(j *Job) { j.SeedHash = "00" },
		"huge blob":       func(j *Job) { j.Blob = strings.Repeat("00", MaxBlobHex) },
		// Targets that decode but mean nothing: difficulty 0 (every hash
		// is a share) or far beyond any network.
		"zero target":        func(j *Job) { j.Target = "00000000" },
		"zero 64-bit target": func(j *Job) { j.Target = "0000000000000000" },
		"64-bit target of 1": func(j *Job) { j.Target = "0100000000000000" },
	} {
		j := testJob()
		mutate(&j)
		require.False(t, j.IsValid(), name)
	}
}

func TestJob_IsValid_Ugly(t *testing.T) {
	j := testJob()
	j.Blob = strings.ToUpper(j.Blob)
	j.Target = "B88D0600"
	require.True(t, j.IsValid(), "pools may send upper-case hex")
	// The edges: difficulty 1 (test pools) and MaxJobDifficulty.
	j.Target = "ffffffff"
	require.True(t, j.IsValid(), "difficulty 1")
	j.Target = "0008000000000000" // 2^11: difficulty 2^53 - 1
	require.Equal(t, uint64(MaxJobDifficulty-1), j.Difficulty())
	require.True(t, j.IsValid(), "just under 2^53")
	j.Target = "ff07000000000000" // 2^11 - 1: just over 2^53
	require.False(t, j.IsValid(), "beyond 2^53")
}

func testJob() Job {
	return Job{
		Blob:     strings.Repeat("0707", 38),
		JobID:    "4BiGm3/RgGQzgkTI",
		Target:   "b88d0600",
		Algo:     "rx/0",
		Height:   3100000,
		SeedHash: strings.Repeat("ab", 32),
	}
}
