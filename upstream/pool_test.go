package upstream

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseURL_Good(t *testing.T) {
	for raw, want := range map[string]Endpoint{
		"pool.example.com:3333":               {Host: "pool.example.com", Port: 3333},
		"stratum+tcp://pool.example.com:3333": {Host: "pool.example.com", Port: 3333},
		"stratum+ssl://pool.example.com:443":  {Host: "pool.example.com", Port: 443, TLS: true},
		"stratum+tls://10.0.0.1:5555/":        {Host: "10.0.0.1", Port: 5555, TLS: true},
		"stratum+tcp://[2001:db8::1]:3333":    {Host: "2001:db8::1", Port: 3333},
		"  STRATUM+SSL://pool.example.com:1 ": {Host: "pool.example.com", Port: 1, TLS: true},
	} {
		got, err := ParseURL(raw)
		require.NoError(t, err, raw)
		require.Equal(t, want, got, raw)
	}
	require.Equal(t, "[2001:db8::1]:3333", Endpoint{Host: "2001:db8::1", Port: 3333}.Address())
}

func TestParseURL_Bad(t *testing.T) {
	for _, raw := range []string{"", "pool", "pool:", ":3333", "pool:0", "pool:70000", "pool:x", "http://pool:80", "stratum+tcp://user@pool:1", "pool:1/path", "a b:1"} {
		_, err := ParseURL(raw)
		require.ErrorIs(t, err, ErrBadURL, raw)
	}
}

func TestPoolConfig_Validate_Ugly(t *testing.T) {
	p := PoolConfig{URL: "pool:1", TLSFingerprint: "AB:" + strings.Repeat("ab", 31)}
	require.NoError(t, p.Validate())
	ep, _ := p.Endpoint()
	require.True(t, ep.TLS, "a pin implies TLS")
	p.TLSFingerprint = "abcd"
	require.ErrorContains(t, p.Validate(), "tls-fingerprint")
	p = PoolConfig{URL: "pool:1", Family: "btc"}
	require.ErrorContains(t, p.Validate(), "family")
	p = PoolConfig{}
	require.ErrorContains(t, p.Validate(), "url")
	require.True(t, p.IsEnabled(), "enabled defaults to true")
	require.Equal(t, CryptoNote, p.FamilyOrDefault())
}

func TestKeepalive_UnmarshalJSON_Good(t *testing.T) {
	var p struct{ K Keepalive }
	require.NoError(t, json.Unmarshal([]byte(`{"K":true}`), &p))
	require.Equal(t, 60*time.Second, time.Duration(p.K))
	require.NoError(t, json.Unmarshal([]byte(`{"K":15}`), &p))
	require.Equal(t, 15*time.Second, time.Duration(p.K))
	require.NoError(t, json.Unmarshal([]byte(`{"K":false}`), &p))
	require.Zero(t, p.K)
	require.Error(t, json.Unmarshal([]byte(`{"K":-1}`), &p))
	require.Error(t, json.Unmarshal([]byte(`{"K":"60"}`), &p))
	b, _ := json.Marshal(Keepalive(30 * time.Second))
	require.Equal(t, "30", string(b))
}

func TestPoolConfig_AllowsRedirect_Good(t *testing.T) {
	p := PoolConfig{URL: "stratum+ssl://EU.Pool.Example:443", RedirectHosts: []string{"us.pool.example", "*.backup.example", "10.0.0.1", "[2001:db8::1]"}}
	for _, host := range []string{
		"eu.pool.example", "EU.POOL.EXAMPLE.", // its own host, any case, on any port
		"us.pool.example", "a.backup.example", "x.y.backup.example",
		"10.0.0.1", "2001:db8:0::1", "[2001:db8::1]",
	} {
		require.True(t, p.AllowsRedirect(host), host)
	}
	require.True(t, (&PoolConfig{URL: "pool:1", RedirectHosts: []string{"*"}}).AllowsRedirect("anywhere.example"))
	require.True(t, (&PoolConfig{URL: "10.0.0.1:3333"}).AllowsRedirect("::ffff:10.0.0.1"), "addresses compare by value")
}

func TestPoolConfig_AllowsRedirect_Bad(t *testing.T) {
	p := PoolConfig{URL: "eu.pool.example:3333", RedirectHosts: []string{"*.backup.example"}}
	for _, host := range []string{
		"", "evil.example", "pool.example", "eu.pool.example.evil.example",
		"backup.example",        // the wildcard is for names under it only
		"evilbackup.example",    // not a label boundary
		"10.0.0.1", "127.0.0.1", // nothing is resolved
	} {
		require.False(t, p.AllowsRedirect(host), host)
	}
	require.False(t, (&PoolConfig{URL: "pool.example:3333", RedirectHosts: []string{"*.0.0.1"}}).AllowsRedirect("10.0.0.1"), "wildcards never match addresses")
}

func TestPoolConfig_RedirectHosts_Bad(t *testing.T) {
	for _, h := range []string{"", "a b", "*.com", "**.x.example", "x.*.example", "pool.example:3333", "-a.example", "a..example", strings.Repeat("a", 64) + ".example"} {
		p := PoolConfig{URL: "pool:1", RedirectHosts: []string{h}}
		require.ErrorContains(t, p.Validate(), "redirect-hosts[0]", h)
	}
	p := PoolConfig{URL: "pool:1", RedirectHosts: make([]string, maxRedirectHosts+1)}
	require.ErrorContains(t, p.Validate(), "redirect-hosts")
	p = PoolConfig{URL: "pool:1", RedirectHosts: []string{"*", "pool.example", "*.pool.example", "10.0.0.1", "[::1]", "Pool-1.example."}}
	require.NoError(t, p.Validate())
}

func TestPoolConfig_Name_Good(t *testing.T) {
	p := PoolConfig{URL: "pool.example.com:3333"}
	require.Equal(t, "pool.example.com:3333", p.Key(), "a pool without a name is known by its url")
	p.Name = "a-1.main"
	require.Equal(t, "a-1.main", p.Key())
	require.NoError(t, p.Validate())
}

func TestPoolConfig_Name_Bad(t *testing.T) {
	for _, name := range []string{"has space", `q"uote`, `back\slash`, "tab\t", "\x00", "é", strings.Repeat("n", 65)} {
		p := PoolConfig{URL: "pool.example.com:3333", Name: name}
		err := p.Validate()
		require.Error(t, err, "%q", name)
		require.True(t, strings.HasPrefix(err.Error(), "name: "), err.Error())
	}
}
