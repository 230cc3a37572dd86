//go:build !race

package reactor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// With the access and share logs installed as hooks, the share path still
// allocates nothing: a submit forwarded, the pool's answer routed back and
// an ACCEPT line formatted into the log buffer. (Skipped under -race.)
func TestAllocs_SubmitRoundTripWithLogs(t *testing.T) {
	ms := newMemShard(t, nil)
	dir := t.TempDir()
	access, err := NewAccessLog(filepath.Join(dir, "access.log"))
	require.NoError(t, err)
	defer access.Close()
	shares, err := NewShareLog(filepath.Join(dir, "shares.log"))
	require.NoError(t, err)
	defer shares.Close()
	ms.s.p.hooks = CombineHooks(access.Hooks(), shares.Hooks())

	m, sink := ms.addMiner(t, "WALLET")
	allocs := testing.AllocsPerRun(2000, ms.shareRound(t, m))
	require.Zero(t, allocs)
	require.Contains(t, string(sink.last), `"status":"OK"`)
	require.NoError(t, shares.Flush())
	require.Len(t, readLines(t, shares.Path()), 2000+1, "every share logged (AllocsPerRun warms up once)")
	require.NoError(t, access.Flush())
	require.Len(t, readLines(t, access.Path()), 1, "the login")
}
