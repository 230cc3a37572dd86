package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseOptions_Good(t *testing.T) {
	o, err := parseOptions(nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 1000, o.Miners)
	require.Equal(t, familyCN, o.Family)
	require.Equal(t, "nicehash", o.Mode)
	require.Equal(t, 5*time.Second, o.Jobs)
	require.Equal(t, 2000.0, o.Shares)
	require.Equal(t, 20*time.Second, o.Duration)
	require.Equal(t, 1, o.Runs)
	require.Nil(t, o.sourceIPs())
	require.Equal(t, 1, o.srcIPCount())

	o, err = parseOptions([]string{"-family", "sv1", "-miners", "12000", "-src-ips", "3", "-runs", "3"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "aggregate", o.Mode, "sv1 runs aggregate mode")
	require.Equal(t, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, o.sourceIPs())
	require.Equal(t, "go run ./bench -family sv1 -miners 12000 -src-ips 3 -runs 3", commandLine(o.Args))
	require.Greater(t, o.runTimeout(), o.Duration)
	require.Greater(t, o.rampTimeout(), time.Minute)
}

func TestParseOptions_Bad(t *testing.T) {
	for _, args := range [][]string{
		{"-miners", "0"}, {"-family", "btc"}, {"-mode", "aggregate"}, {"-family", "sv1", "-mode", "simple"},
		{"-jobs", "0s"}, {"-shares", "-1"}, {"-ramp", "-1"}, {"-duration", "0s"}, {"-reject", "1.5"},
		{"-loops", "-1"}, {"-runs", "0"}, {"-src-ips", "300"}, {"-max-connections", "-1"},
		{"-sv1-diff", "0"}, {"-sv1-workers", "0"}, {"-target", "x:1", "-proxy-bin", "/bin/true"},
		{"-target", "nohost"}, {"-target", "x:1", "-profile", "/tmp"}, {"-pid", "5"},
		{"-pool-addr", "noport"}, {"stray"}, {"-nosuchflag"},
	} {
		_, err := parseOptions(args, io.Discard)
		require.Error(t, err, "%v", args)
	}
}

// TestProxyConfig_Good checks the generated config is one go-proxy itself
// accepts (go-proxy --check-config), with the bench's settings.
func TestProxyConfig_Good(t *testing.T) {
	check := func(b []byte) string {
		path := filepath.Join(t.TempDir(), "config.json")
		require.NoError(t, os.WriteFile(path, b, 0o600))
		out, err := exec.Command(proxyBin, "--check-config", "-c", path).CombinedOutput()
		require.NoError(t, err, "%s\n%s", out, b)
		return string(out)
	}
	o := defaultOptions()
	o.Loops, o.MaxConnections = 3, 500
	b, err := proxyConfig(&o, proxyEndpoints{Bind: 40001, API: 40002}, "127.0.0.1:40003", "cryptonote")
	require.NoError(t, err)
	require.Contains(t, check(b), "configuration OK (1 pools, 1 binds, mode nicehash)")
	var cfg proxyConfigFile
	require.NoError(t, json.Unmarshal(b, &cfg))
	require.Equal(t, proxyConfigBind{Host: "127.0.0.1", Port: 40001}, cfg.Bind[0])
	require.Equal(t, "127.0.0.1:40003", cfg.Pools[0].URL)
	require.Equal(t, 3, cfg.EventLoops)
	require.Equal(t, 500, cfg.MaxConnections)
	require.Equal(t, proxyConfigHTTP{Enabled: true, Host: "127.0.0.1", Port: 40002}, cfg.HTTP)
	require.Equal(t, "warn", cfg.LogLevel)

	o.Family, o.Mode = familySV1, "aggregate"
	b, err = proxyConfig(&o, proxyEndpoints{Bind: 40001}, "127.0.0.1:40003", "sv1")
	require.NoError(t, err)
	check(b)
	require.NoError(t, json.Unmarshal(b, &cfg))
	require.Equal(t, "aggregate", cfg.SV1Mode)
	require.Equal(t, "sv1", cfg.Pools[0].Family)
	require.False(t, cfg.HTTP.Enabled)
}

func TestFindModuleRoot_Good(t *testing.T) {
	root, err := findModuleRoot(".")
	require.NoError(t, err)
	require.FileExists(t, root+"/cmd/go-proxy/main.go")
	_, err = findModuleRoot(t.TempDir())
	require.Error(t, err)
	require.Equal(t, "a/b", moduleLine("// x\nmodule \"a/b\"\n\ngo 1.26\n"))
	require.Equal(t, "", moduleLine("go 1.26\n"))
}

func TestLastLines_Good(t *testing.T) {
	require.Equal(t, "b\nc", lastLines("a\nb\nc\n", 2))
	require.Equal(t, "a", lastLines("a", 5))
}
