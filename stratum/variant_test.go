package stratum

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"
)

func TestJobVariant_RoundTrip_Good(t *testing.T) {
	for v := 1; v <= MaxJobVariant; v++ {
		id := AppendJobVariant([]byte("a3f"), uint8(v))
		base, got, ok := SplitJobVariant(id)
		require.True(t, ok, "%s", id)
		require.Equal(t, "a3f", string(base))
		require.Equal(t, uint8(v), got)
	}
	require.Equal(t, "a3f~1", string(AppendJobVariant([]byte("a3f"), 1)))
	require.Equal(t, "a3f~ff", string(AppendJobVariant([]byte("a3f"), 255)))
	require.Equal(t, "a3f", string(AppendJobVariant([]byte("a3f"), 0)), "variant 0 is the pool's id")
	base, v, ok := SplitJobVariant([]byte("x~10"))
	require.True(t, ok)
	require.Equal(t, "x", string(base))
	require.Equal(t, uint8(16), v)
}

func TestJobVariant_Split_Bad(t *testing.T) {
	// Anything that is not exactly what AppendJobVariant writes is the
	// pool's own id: no suffix, a leading zero, zero, upper case, three
	// digits, nothing before the separator.
	for _, id := range []string{"", "~", "~1", "abc", "abc~", "abc~0", "abc~01", "abc~A", "abc~1g", "abc~100", "~ff", "a~-1", "a1"} {
		base, v, ok := SplitJobVariant([]byte(id))
		require.False(t, ok, id)
		require.Zero(t, v, id)
		require.Equal(t, id, string(base), id)
	}
}

func TestJobVariant_Fits_Ugly(t *testing.T) {
	require.True(t, JobVariantFits(strings.Repeat("a", MaxJobIDLen-3)))
	require.False(t, JobVariantFits(strings.Repeat("a", MaxJobIDLen-2)), "a variant of a 126-byte id would not be a valid submit")
	// The longest variant of the longest id that fits is a valid token.
	id := AppendJobVariant([]byte(strings.Repeat("a", MaxJobIDLen-3)), 255)
	require.True(t, IsToken(id, MaxJobIDLen))
}

func TestAppendJobObject_Variant_Good(t *testing.T) {
	j := rfcJob()
	got := string(AppendJobNotify(nil, &j, session, JobOptions{FixedByte: -1, Target: "e8030000", Variant: 2}))
	require.Contains(t, got, `"job_id":"JOBID~2","target":"e8030000"`)
	got = string(AppendJobNotify(nil, &j, session, JobOptions{FixedByte: -1}))
	require.Contains(t, got, `"job_id":"JOBID","target":"b88d0600"`, "no variant: the pool's id and target")
}

func TestAppendSV1NotifyVariant_Good(t *testing.T) {
	j := sv1TestJob()
	line := AppendSV1NotifyVariant(nil, &j, 0x1f, 0x504e86b9+3, false)
	want := `{"id":null,"method":"mining.notify","params":["bf~1f","` + j.PrevHash + `","` + j.Coinb1 + `","` + j.Coinb2 +
		`",["` + b100kBranch0 + `","` + b100kBranch1 + `"],"00000002","1c2ac4af","504e86bc",false]}`
	requireLine(t, want, line)
	// A miner reads it as a valid job: the variant's id, the later ntime,
	// everything else the pool's.
	var p fastjson.Parser
	var m SV1PoolMessage
	require.NoError(t, ParseSV1PoolMessage(&p, line, &m))
	require.True(t, m.HasJob)
	require.Equal(t, "bf~1f", m.Job.JobID)
	require.Equal(t, "504e86bc", m.Job.NTime)
	require.Equal(t, j.Coinb1, m.Job.Coinb1)
	// Variant 0 with the job's own ntime is the pool's line.
	require.Equal(t, string(AppendSV1Notify(nil, &j, true)), string(AppendSV1NotifyVariant(nil, &j, 0, 0x504e86b9, true)))
}
