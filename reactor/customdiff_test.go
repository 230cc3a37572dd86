package reactor

import (
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/upstream"
)

// The RFC §22 custom difficulty tests, on ParseDiffSuffix and the global
// setting (DESIGN §2.6: the suffix is stripped, N ≥ 100).

func TestCustomDiff_Apply_Good(t *testing.T) {
	user, diff := ParseDiffSuffix([]byte("WALLET+50000"))
	require.Equal(t, "WALLET", string(user))
	require.Equal(t, uint64(50000), diff)
}

func TestCustomDiff_Apply_Bad(t *testing.T) {
	user, diff := ParseDiffSuffix([]byte("WALLET+abc"))
	require.Equal(t, "WALLET+abc", string(user))
	require.Zero(t, diff)
	for _, in := range []string{"+500", "WALLET+", "WALLET+12345678901234567890", "WALLET+5e3"} {
		user, diff := ParseDiffSuffix([]byte(in))
		require.Equal(t, in, string(user), in)
		require.Zero(t, diff, in)
	}
}

func TestCustomDiff_Apply_Ugly(t *testing.T) {
	// No suffix: the global custom-diff applies; a suffix overrides it.
	user, diff := ParseDiffSuffix([]byte("WALLET"))
	require.Equal(t, "WALLET", string(user))
	require.Zero(t, diff)
	ms := newMemShard(t, &Config{CustomDiff: 10000, Pools: []upstream.PoolConfig{{URL: "pool:3333", User: "W"}}})
	m, _ := ms.addMiner(t, "WALLET")
	require.Equal(t, uint64(10000), m.customDiff, "the login fell back to custom-diff")
	m, _ = ms.addMiner(t, "WALLET+500")
	require.Equal(t, uint64(500), m.customDiff, "the suffix wins")
	// Below xmrig-proxy's floor of 100 the suffix is removed but sets nothing.
	user, diff = ParseDiffSuffix([]byte("WALLET+50"))
	require.Equal(t, "WALLET", string(user))
	require.Zero(t, diff)
	// Only the last "+" counts.
	user, diff = ParseDiffSuffix([]byte("a+b+2000"))
	require.Equal(t, "a+b", string(user))
	require.Equal(t, uint64(2000), diff)
}
