package reactor

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/stratum"
	"forge.lthn.ai/core/go-proxy/upstream"
)

func TestParseConfig_Validate_Good(t *testing.T) {
	cfg, ignored, err := ParseConfig([]byte(`{"pools":[{"url":"pool:3333","user":"W"}],"donate-level":1,"workers":"password"}`))
	require.NoError(t, err)
	require.Equal(t, []string{"donate-level"}, ignored)
	require.Equal(t, WorkersByPassword, cfg.Workers)
	require.Equal(t, 60, cfg.PoolStableSeconds)
	require.Equal(t, 60, *cfg.PoolProbeSeconds)
	// 0 turns probing off (and survives a clone); the stability period
	// has no "off".
	cfg, _, err = ParseConfig([]byte(`{"pools":[{"url":"pool:3333","redirect-hosts":["*.pool.example","10.0.0.1"]}],"pool-probe-seconds":0,"pool-stable-seconds":5}`))
	require.NoError(t, err)
	require.Zero(t, *cfg.Clone().PoolProbeSeconds)
	require.Equal(t, 5, cfg.PoolStableSeconds)
	require.Equal(t, []string{"*.pool.example", "10.0.0.1"}, cfg.Pools[0].RedirectHosts)
	// Passthrough needs no pools in the file, and a token only with the API on.
	_, _, err = ParseConfig([]byte(`{"sv1-mode":"passthrough"}`))
	require.NoError(t, err)
	_, _, err = ParseConfig([]byte(`{"sv1-mode":"passthrough","http":{"enabled":true,"port":8080,"access-token":"T"}}`))
	require.NoError(t, err)
}

// Every rule names the key it is about.
func TestParseConfig_Validate_Bad(t *testing.T) {
	const pool = `"pools":[{"url":"pool:3333","user":"W"}]`
	for body, key := range map[string]string{
		`{` + pool + `,"workers":"password","access-password":"s3cret"}`:        "workers",
		`{"sv1-mode":"passthrough","http":{"enabled":true,"port":8080}}`:        "http.access-token",
		`{` + pool + `,"http":{"register-per-minute":-1}}`:                      "http.register-per-minute",
		`{` + pool + `,"http":{"metrics-workers-max":-5}}`:                      "http.metrics-workers-max",
		`{` + pool + `,"retries":-1}`:                                           "retries",
		`{` + pool + `,"sv1-prefix-bytes":5}`:                                   "sv1-prefix-bytes",
		`{` + pool + `,"socket-send-buffer":100}`:                               "socket-send-buffer",
		`{` + pool + `,"sv1-mode":"relay"}`:                                     "sv1-mode",
		`{` + pool + `,"bind":[{"host":"0.0.0.0","port":3333,"family":"btc"}]}`: "bind[0].family",
		`{` + pool + `,"log-level":"loud"}`:                                     "log-level",
		`{` + pool + `,"tls":{"cert":"a.pem"}}`:                                 "tls",
		`{"pools":[{"url":"pool:3333","enabled":false}]}`:                       "pools",
		`{` + pool + `,"http":{"access-token":"T","register-token":"T"}}`:       "http.register-token",
	} {
		_, _, err := ParseConfig([]byte(body))
		require.Error(t, err, body)
		require.Contains(t, err.Error(), key, body)
	}
}

// The failover and redirect keys name themselves too.
func TestParseConfig_FailoverKeys_Bad(t *testing.T) {
	for body, key := range map[string]string{
		`{"pools":[{"url":"pool:3333"}],"pool-stable-seconds":-1}`:                  "pool-stable-seconds",
		`{"pools":[{"url":"pool:3333"}],"pool-probe-seconds":-5}`:                   "pool-probe-seconds",
		`{"pools":[{"url":"pool:3333","redirect-hosts":["a.example","bad host"]}]}`: "pools[0].redirect-hosts[1]",
	} {
		_, _, err := ParseConfig([]byte(body))
		require.ErrorContains(t, err, key, body)
	}
}

// A masked pool password can only be restored from a running pool with the
// same url and user; otherwise the reload is refused instead of sending the
// mask to the pool as a password.
func TestReload_MaskedPassword_Bad(t *testing.T) {
	old, _, err := ParseConfig([]byte(`{"pools":[{"url":"pool:3333","user":"W","pass":"real"}]}`))
	require.NoError(t, err)
	next := old.Clone()
	next.Pools[0].Pass = secretMask
	require.NoError(t, restoreSecrets(next, old))
	require.Equal(t, "real", next.Pools[0].Pass)
	next = old.Clone()
	next.Pools[0].User, next.Pools[0].Pass = "OTHER", secretMask
	err = restoreSecrets(next, old)
	require.ErrorContains(t, err, "pools[0].pass")
}

// The registration token is a secret: masked for display, and a masked
// one sent back keeps the running token.
func TestConfig_RegisterToken_Good(t *testing.T) {
	cfg, _, err := ParseConfig([]byte(`{"sv1-mode":"passthrough","http":{"enabled":true,"port":8080,"access-token":"admin","register-token":"reg-secret","open-registration":true}}`))
	require.NoError(t, err)
	require.Equal(t, "reg-secret", cfg.HTTP.RegisterToken)
	require.True(t, cfg.HTTP.OpenRegistration)
	red := cfg.Redacted()
	require.Equal(t, secretMask, red.HTTP.RegisterToken)
	require.Equal(t, secretMask, red.HTTP.AccessToken)
	require.Equal(t, "reg-secret", cfg.HTTP.RegisterToken, "the original is untouched")
	require.NoError(t, restoreSecrets(red, cfg))
	require.Equal(t, "reg-secret", red.HTTP.RegisterToken)
	require.Empty(t, DiskOnlyChanges(cfg, cfg.Redacted()), "the API may set it")
}

// In simple mode every miner has its own pool connection: miners and pool
// sessions share one descriptor budget, and a login that would exceed it
// gets "Proxy is full" instead of the process running out of descriptors.
func TestSimpleMode_FDBudget_Bad(t *testing.T) {
	cfg := &Config{Mode: "simple", Pools: []upstream.PoolConfig{{URL: "pool:3333", User: "W"}}}
	ms := newMemShard(t, cfg)
	p := ms.s.p
	_, first := ms.addMiner(t, "WALLET") // takes the shard's first session
	require.NotContains(t, string(first.last), "Proxy is full")
	p.fdBudget = p.conns.Load() + p.upstreams.Load() + 1 // room for a connection, not for its pool session
	_, second := ms.addMiner(t, "WALLET")
	require.Contains(t, string(second.last), "Proxy is full", "the second pool session would exceed the budget")
	require.LessOrEqual(t, p.conns.Load()+p.upstreams.Load(), p.fdBudget)
	// At accept, too: a new connection over the budget is refused.
	require.False(t, p.admit(netip.MustParseAddr("10.0.0.9"), false))
}

// A pool's client.reconnect keeps the transport: a TLS pool (by scheme) is
// not redialled in plain text, credentials included.
func TestReconnect_KeepsTLS_Ugly(t *testing.T) {
	pin := strings.Repeat("ab", 32)
	ms := newMemShard(t, &Config{Pools: []upstream.PoolConfig{{URL: "stratum+ssl://pool:3333", User: "W", TLSFingerprint: pin, RedirectHosts: []string{"other.example"}}}})
	ms.mp.conn.reconnectRequested([]byte("other.example"), 4444, 0)
	require.NotNil(t, ms.mp.redirect)
	ep, err := ms.mp.redirect.to.Endpoint()
	require.NoError(t, err)
	require.True(t, ep.TLS)
	require.Equal(t, "other.example:4444", ep.Address())
	require.Equal(t, pin, ms.mp.redirect.to.TLSFingerprint, "the pin goes with the redirect")
}

// Shares lost with a closed pool connection are answered "Bad gateway" and
// are not counted as pool timeouts.
func TestFailSubmit_Timeouts_Good(t *testing.T) {
	ms := newMemShard(t, nil)
	m, sink := ms.addMiner(t, "WALLET")
	require.True(t, m.handleLine(ms.submitLine(m, 1)))
	ms.mp.conn.closed()
	require.Contains(t, string(sink.last), stratum.MsgBadGateway)
	require.Zero(t, ms.s.fc[FamilyCryptoNote].Timeouts)
}
