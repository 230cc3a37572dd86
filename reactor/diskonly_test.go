package reactor

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/upstream"
)

// The disk-only keys today: file paths, binds, the API's listener, the
// account store's location and the miner-facing certificate files. A key
// added to Config is disk-only until apiKeys lists it; this list changes
// only on purpose.
func TestConfigKeys_DiskOnly_Good(t *testing.T) {
	var disk []string
	for k, api := range ConfigKeys() {
		if !api {
			disk = append(disk, k)
		}
	}
	sort.Strings(disk)
	require.Equal(t, []string{
		"access-log-file",
		"bind[].family", "bind[].host", "bind[].port", "bind[].proxy-protocol", "bind[].tls",
		"http.enabled", "http.host", "http.port",
		"log-file",
		"pools[].redirect-hosts",
		"proxy-protocol-from",
		"registry.path", "registry.url",
		"share-log-file", "syslog",
		"tls.cert", "tls.cert_key", "tls.gen",
	}, disk)
}

// apiKeys names only keys that exist, and never one that looks like a
// place on the host (a pool url is the API's to change: that is what
// xmrig-proxy's API is for).
func TestConfigKeys_DiskOnly_Bad(t *testing.T) {
	keys := ConfigKeys()
	// Reviewed: names that contain such a word but are no place on the host.
	notPlaces := map[string]bool{"pools[].url": true, "socket-send-buffer": true,
		"routes[].match.port": true} // which bind port a miner came in on: a matcher, no listener
	for k := range apiKeys {
		_, ok := keys[k]
		require.True(t, ok, "apiKeys lists %q, which Config does not have", k)
	}
	for k, api := range keys {
		last := k[strings.LastIndex(k, ".")+1:]
		for _, word := range []string{"file", "path", "cert", "dir", "url", "host", "port", "bind", "dsn", "socket", "listen", "addr"} {
			if strings.Contains(last, word) && !notPlaces[k] {
				require.False(t, api, "%q looks like a place on the host but the API may change it", k)
			}
		}
	}
}

func TestDiskOnlyChanges_Good(t *testing.T) {
	running := &Config{
		Bind:          []BindConfig{{Host: "0.0.0.0", Port: 3333}, {Host: "0.0.0.0", Port: 3443, TLS: true}},
		Pools:         []upstream.PoolConfig{{URL: "pool:3333", User: "W", Pass: "secret"}},
		AccessLogFile: "/var/log/go-proxy/access.log",
		TLS:           TLSConfig{CertFile: "/etc/go-proxy/cert.pem", KeyFile: "/etc/go-proxy/key.pem"},
		HTTP:          HTTPConfig{Enabled: true, Port: 8080, AccessToken: "tok"},
	}
	running.Normalize()

	// Everything else may change; masked secrets count as unchanged.
	next := running.Redacted()
	next.Pools = append(next.Pools, upstream.PoolConfig{URL: "backup:3333", User: "W2", Pass: "x"})
	next.Pools[0].URL = "other:3333"
	next.CustomDiff, next.LogLevel, next.TLS.Protocols = 5000, "debug", "TLSv1.3"
	next.HTTP.AccessToken = "new-token"
	require.Empty(t, DiskOnlyChanges(running, next))
	require.Empty(t, DiskOnlyChanges(running, running))

	// Defaults compare as normalized: an unnormalized copy is the same.
	plain := &Config{Pools: running.Pools}
	plainNorm := plain.Clone()
	plainNorm.Normalize()
	require.Empty(t, DiskOnlyChanges(plainNorm, plain))
}

func TestDiskOnlyChanges_Bad(t *testing.T) {
	running := &Config{
		Bind:          []BindConfig{{Host: "0.0.0.0", Port: 3333}, {Host: "0.0.0.0", Port: 3443, TLS: true}},
		Pools:         []upstream.PoolConfig{{URL: "pool:3333"}},
		AccessLogFile: "/var/log/go-proxy/access.log",
		HTTP:          HTTPConfig{Enabled: true, Port: 8080, AccessToken: "tok"},
	}
	running.Normalize()
	for _, tc := range []struct {
		edit func(c *Config)
		want []string
	}{
		{func(c *Config) { c.AccessLogFile = "/home/proxy/.bashrc" }, []string{"access-log-file"}},
		{func(c *Config) { c.AccessLogFile = "" }, []string{"access-log-file"}},
		{func(c *Config) { c.ShareLogFile = "/tmp/x" }, []string{"share-log-file"}},
		{func(c *Config) { c.TLS.CertFile, c.TLS.KeyFile = "/etc/shadow", "/etc/shadow" }, []string{"tls.cert", "tls.cert_key"}},
		{func(c *Config) { c.Registry.Path = "/tmp/evil.db" }, []string{"registry.path"}},
		{func(c *Config) { c.Bind[1].Port = 22 }, []string{"bind[1].port"}},
		{func(c *Config) { c.Bind[0].ProxyProtocol = true }, []string{"bind[0].proxy-protocol"}},
		{func(c *Config) { c.Bind = c.Bind[:1] }, []string{"bind[1].family", "bind[1].host", "bind[1].port", "bind[1].tls"}},
		{func(c *Config) { c.Bind[0], c.Bind[1] = c.Bind[1], c.Bind[0] }, []string{"bind[0].port", "bind[0].tls", "bind[1].port", "bind[1].tls"}},
		{func(c *Config) { c.HTTP.Enabled = false }, []string{"http.enabled"}},
		{func(c *Config) { c.HTTP.Host, c.HTTP.Port = "0.0.0.0", 9090 }, []string{"http.host", "http.port"}},
		{func(c *Config) { c.AccessLogFile = secretMask }, []string{"access-log-file"}},
	} {
		next := running.Clone()
		tc.edit(next)
		require.Equal(t, tc.want, DiskOnlyChanges(running, next))
	}
}
