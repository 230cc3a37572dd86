package reactor

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// A pool's text reaches the process log escaped, even through an
// embedder's JSON handler (which writes bidi controls raw by itself): a
// login refusal carrying bidi overrides, isolates and a line separator
// cannot reorder or split what a terminal shows.
func TestLog_PoolStrings_Ugly(t *testing.T) {
	// Control characters are refused by the parser (the message becomes
	// "error"); what is text passes: bidi controls, separators, quotes.
	const msg = "Invalid address \"\u202Etxt.exe\u2028\u2066\\"
	pool := startPool(t, mockpool.Config{})
	pool.SetBehavior(mockpool.Behavior{RejectLogin: msg})
	var out testutil.SyncBuffer
	log := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, addr := startProxy(t, baseConfig(pool.Addr()), WithLogger(log))
	m := testminer.DialCN(t, addr) // a miner makes the proxy dial the pool
	m.Send(`{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"WALLET","pass":"x"}}`)
	testutil.Eventually(t, func() bool { return strings.Contains(out.String(), "Invalid address") }, "the refusal logged")

	text := out.String()
	for _, r := range []string{"\u202E", "\u2028", "\u2066"} {
		require.NotContains(t, text, r)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		var rec map[string]any
		require.NoError(t, json.NewDecoder(bytes.NewReader([]byte(line))).Decode(&rec), line)
		for k, v := range rec {
			if s, ok := v.(string); ok && strings.Contains(s, "Invalid address") {
				require.Contains(t, s, `Invalid address "\u202etxt.exe\u2028\u2066\\`, k)
				found = true
			}
		}
	}
	require.True(t, found)
}
