package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// loadArgs parses a command line and loads its configuration the way run
// does.
func loadArgs(t *testing.T, args ...string) (*reactor.Config, []string) {
	t.Helper()
	cl, err := parseCmdline(args)
	require.NoError(t, err, args)
	cfg, ignored, _, _, err := cl.load()
	require.NoError(t, err, args)
	return cfg, ignored
}

// loadErr returns the error a command line ends with (parse or load).
func loadErr(t *testing.T, args ...string) error {
	t.Helper()
	cl, err := parseCmdline(args)
	if err != nil {
		return err
	}
	_, _, _, _, err = cl.load()
	require.Error(t, err, args)
	return err
}

// Network options: each -o starts a failover pool; -u, -p, -k, --rig-id,
// --tls, --tls-fingerprint and -a after it belong to it; -a before any -o
// is every pool's default; -O splits at the last colon.
func TestCmdline_Pools_Good(t *testing.T) {
	t.Chdir(t.TempDir()) // no config.json here
	fp := strings.Repeat("ab", 32)
	cfg, ignored := loadArgs(t, "-a", "rx/0",
		"-o", "primary.example.com:3333", "-u", "W1", "-p", "x1", "-k", "--rig-id", "R1",
		"--url=stratum+ssl://backup.example.com:443", "--user", "W2", "--pass=x2", "--tls", "--tls-fingerprint", fp, "-a", "cn/r",
		"-ostratum+tcp://third.example.com:5555", "-O", "W3:pa:ss", "--keepalive=30", "--coin", "monero",
		"-r", "3", "-R", "7", "--user-agent", "farm/1")
	want := []upstream.PoolConfig{
		{URL: "primary.example.com:3333", User: "W1", Pass: "x1", RigID: "R1", Algo: "rx/0", Keepalive: upstream.DefaultKeepalive},
		{URL: "stratum+ssl://backup.example.com:443", User: "W2", Pass: "x2", TLS: true, TLSFingerprint: fp, Algo: "cn/r"},
		{URL: "stratum+tcp://third.example.com:5555", User: "W3:pa", Pass: "ss", Algo: "rx/0", Keepalive: upstream.Keepalive(30e9)},
	}
	require.Equal(t, want, cfg.Pools)
	require.Equal(t, 3, cfg.Retries)
	require.Equal(t, 7, cfg.RetryPause)
	require.Equal(t, "farm/1", cfg.UserAgent)
	require.Equal(t, []string{"pools[2].coin"}, ignored, "--coin is accepted and named as ignored")

	// Pool options may come before their -o (xmrig-proxy fills the pool
	// they started).
	cfg, _ = loadArgs(t, "-u", "W", "-o", "pool.example.com:3333")
	require.Equal(t, []upstream.PoolConfig{{URL: "pool.example.com:3333", User: "W"}}, cfg.Pools)
}

func TestCmdline_Pools_Bad(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "pool:3333", "-u", "W", "-o"}, "option -o (--url) needs a value"},
		{[]string{"-o", "pool:3333", "--user"}, "option --user needs a value"},
		{[]string{"-o", "pool:3333", "-r", "three"}, `option --retries: "three" is not a whole number`},
		{[]string{"-o", "pool:3333", "-u", "W", "-o", "second:1", "-p", "x", "--rig-id", "r", "-u"}, "needs a value"},
		{[]string{"-u", "W", "-p", "x"}, "pool options (pass, user) must follow the -o/--url they apply to"},
		{[]string{"-o", "pool:99999"}, "command line: pools[0].url: "},
		{[]string{"-o", "pool:3333", "--tls-fingerprint", "zz"}, "command line: pools[0].tls-fingerprint"},
		{[]string{"-O", "nocolon"}, "want USER:PASS"},
		{[]string{"--url"}, "needs a value"},
		{[]string{"--ulr", "pool:3333"}, "unknown option --ulr; did you mean --url?"},
		{[]string{"-z"}, "unknown option -z"},
		{[]string{"pool:3333"}, `unexpected argument "pool:3333"`},
		{[]string{"--no-workers=1"}, "option --no-workers takes no value"},
		{[]string{"-b", "127.0.0.1:3333"}, "pools: at least one pool is required (give one with -o POOL:PORT, or a file with -c)"},
		{nil, "no configuration: config.json not found; give -c FILE, or a pool on the command line"},
	} {
		require.ErrorContains(t, loadErr(t, tc.args...), tc.want, tc.args)
	}
}

// Proxy options map to their configuration keys; -b and --tls-bind repeat
// and replace the file's binds; [::]:port and :port are understood.
func TestCmdline_Proxy_Good(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, _ := loadArgs(t, "-o", "pool:3333", "-b", "0.0.0.0:3333", "--bind", "[::]:3334", "-b:3335", "--tls-bind", "127.0.0.1:3443",
		"-m", "simple", "--custom-diff", "5000", "--custom-diff-stats", "--reuse-timeout", "30", "--no-workers",
		"--access-password", "farm", "--no-algo-ext")
	require.Equal(t, []reactor.BindConfig{
		{Host: "0.0.0.0", Port: 3333, Family: "auto"}, {Host: "::", Port: 3334, Family: "auto"},
		{Host: "0.0.0.0", Port: 3335, Family: "auto"}, {Host: "127.0.0.1", Port: 3443, TLS: true, Family: "auto"},
	}, cfg.Bind)
	require.Equal(t, "simple", cfg.Mode)
	require.Equal(t, uint64(5000), cfg.CustomDiff)
	require.True(t, cfg.CustomDiffStats)
	require.Equal(t, 30, cfg.ReuseTimeout)
	require.Equal(t, reactor.WorkersDisabled, cfg.Workers)
	require.Equal(t, "farm", cfg.AccessPassword)
	require.False(t, *cfg.AlgoExt)
	cfg, _ = loadArgs(t, "-o", "pool:3333", "--workers", "user", "--mode=nicehash")
	require.Equal(t, reactor.WorkersByUser, cfg.Workers)
	require.Equal(t, "nicehash", cfg.Mode)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "p:1", "-b", "3333"}, "--bind \"3333\": want HOST:PORT"},
		{[]string{"-o", "p:1", "-b", "0.0.0.0:0"}, "the port must be 1..65535"},
		{[]string{"-o", "p:1", "-m", "extra_nonce"}, `mode: "extra_nonce" (solo mining`},
		{[]string{"-o", "p:1", "-m", "turbo"}, "command line: mode:"},
		{[]string{"-o", "p:1", "--custom-diff", "50"}, "custom-diff: must be 0 or at least 100"},
		{[]string{"-o", "p:1", "--workers", "bogus"}, `command line: workers: unknown mode "bogus"`},
	} {
		require.ErrorContains(t, loadErr(t, tc.args...), tc.want, tc.args)
	}
}

// API options: any --http-* option enables the API, as in xmrig-proxy.
func TestCmdline_API_Good(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, _ := loadArgs(t, "-o", "p:1", "--http-host", "0.0.0.0", "--http-port", "8081", "--http-access-token", "T",
		"--http-no-restricted", "--api-id", "proxy-1", "--api-worker-id", "edge")
	require.Equal(t, reactor.HTTPConfig{Enabled: true, Host: "0.0.0.0", Port: 8081, AccessToken: "T", Restricted: new(false),
		MetricsWorkersMax: 1000, RegisterPerMinute: 10, MaxConnections: 64, ReadHeaderTimeout: 5, IdleTimeout: 5}, cfg.HTTP)
	require.Equal(t, reactor.APIConfig{ID: "proxy-1", WorkerID: "edge"}, cfg.API)
	cfg, _ = loadArgs(t, "-o", "p:1", "--http-port", "8081")
	require.True(t, cfg.HTTP.Enabled)
	require.True(t, *cfg.HTTP.Restricted)
	require.ErrorContains(t, loadErr(t, "-o", "p:1", "--http-enabled"), "http.port: must be 1..65535 when http.enabled")
}

// TLS options set the miner-facing tls section; dhparam and TLS 1.3
// suites are accepted and named as ignored (Go has no knob for them).
func TestCmdline_TLS_Good(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, ignored := loadArgs(t, "-o", "p:1", "--tls-bind", "0.0.0.0:3443", "--tls-gen", "proxy.example.com",
		"--tls-protocols", "TLSv1.2 TLSv1.3", "--tls-ciphers", "ECDHE-RSA-AES128-GCM-SHA256",
		"--tls-ciphersuites", "TLS_AES_128_GCM_SHA256", "--tls-dhparam", "dh.pem")
	require.Equal(t, "proxy.example.com", cfg.TLS.Gen)
	require.Equal(t, "TLSv1.2 TLSv1.3", cfg.TLS.Protocols)
	require.Equal(t, "ECDHE-RSA-AES128-GCM-SHA256", cfg.TLS.Ciphers)
	require.Equal(t, []string{"tls.ciphersuites", "tls.dhparam"}, ignored)
	cfg, _ = loadArgs(t, "-o", "p:1", "--tls-cert", "c.pem", "--tls-cert-key", "k.pem")
	require.Equal(t, [2]string{"c.pem", "k.pem"}, [2]string{cfg.TLS.CertFile, cfg.TLS.KeyFile})
	require.ErrorContains(t, loadErr(t, "-o", "p:1", "--tls-cert", "c.pem"), "tls: cert and cert_key must be given together")
	require.ErrorContains(t, loadErr(t, "-o", "p:1", "--tls-ciphers", "RC4-MD5"), "tls.ciphers")
}

// Logging options: -l, -S, -A and --verbose take effect; --no-color and
// friends are named as ignored.
func TestCmdline_Logging_Good(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, ignored := loadArgs(t, "-o", "p:1", "-l", "main.log", "-S", "-A", "access.log", "--no-color", "--verbose", "--print-time", "30",
		"--title", "x", "--no-title")
	require.Equal(t, "main.log", cfg.LogFile)
	require.True(t, cfg.Syslog)
	require.Equal(t, "access.log", cfg.AccessLogFile)
	require.Equal(t, "debug", cfg.LogLevel)
	require.Equal(t, 30, cfg.PrintTime)
	require.Equal(t, []string{"colors", "title"}, ignored)
	cfg, _ = loadArgs(t, "-o", "p:1", "-Sl", "grouped.log")
	require.True(t, cfg.Syslog)
	require.Equal(t, "grouped.log", cfg.LogFile, "-Sl FILE: grouped short options, the last one takes the value")
	cfg, _ = loadArgs(t, "-o", "p:1", "-lattached.log")
	require.Equal(t, "attached.log", cfg.LogFile)
}

// Options that make no sense here are accepted and named once: donation,
// DNS, daemon, SOCKS5, debug switches.
func TestCmdline_Ignored_Good(t *testing.T) {
	t.Chdir(t.TempDir())
	_, ignored := loadArgs(t, "-o", "p:1", "--donate-level", "1", "--donate-over-proxy", "1", "-4", "--dns-ttl", "60", "--dns-ipv6",
		"--daemon", "--daemon-poll-interval", "500", "--daemon-zmq-port", "1", "--daemon-job-timeout", "5", "--self-select", "h:1",
		"--submit-to-origin", "--spend-secret-key", "k", "-x", "127.0.0.1:1080", "--debug", "--login-file", "f", "--data-dir", "/tmp",
		"--pool-coin", "monero")
	require.Equal(t, []string{"debug", "dns", "donate-level", "donate-over-proxy", "login-file",
		"pools[0].daemon", "pools[0].daemon-job-timeout", "pools[0].daemon-poll-interval", "pools[0].daemon-zmq-port",
		"pools[0].self-select", "pools[0].socks5", "pools[0].spend-secret-key", "pools[0].submit-to-origin",
		"--data-dir", "--pool-coin"}, ignored)
}

// On top of -c FILE the options win, key by key; -o replaces the file's
// pools. Go-style -config and --config= keep working.
func TestCmdline_ConfigFile_Good(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "proxy.json")
	require.NoError(t, os.WriteFile(path, []byte(`{
		// a commented file
		"pools": [{"url": "file-pool:3333", "user": "FILE"}],
		"http": {"enabled": true, "port": 8080, "access-token": "FILETOKEN"},
		"mode": "simple", "retries": 9,
	}`), 0o600))
	cfg, _ := loadArgs(t, "-c", path, "--http-port", "9090", "-m", "nicehash")
	require.Equal(t, 9090, cfg.HTTP.Port)
	require.Equal(t, "FILETOKEN", cfg.HTTP.AccessToken)
	require.Equal(t, "nicehash", cfg.Mode)
	require.Equal(t, 9, cfg.Retries)
	require.Equal(t, "file-pool:3333", cfg.Pools[0].URL)
	for _, args := range [][]string{{"-config", path}, {"--config=" + path}, {"-c" + path}, {"--config", path}} {
		cfg, _ = loadArgs(t, append(args, "-o", "cli-pool:1", "-u", "CLI")...)
		require.Equal(t, []upstream.PoolConfig{{URL: "cli-pool:1", User: "CLI"}}, cfg.Pools, args)
	}
	// Options given before -c win too (go-proxy applies every option on
	// top of the file, wherever it stands).
	cfg, _ = loadArgs(t, "-m", "nicehash", "-c", path)
	require.Equal(t, "nicehash", cfg.Mode)

	// Without -c and -o, ./config.json is read; with -o it is not.
	t.Chdir(dir)
	require.NoError(t, os.WriteFile("config.json", []byte(`{"pools":[{"url":"default-pool:1"}]}`), 0o600))
	cfg, _ = loadArgs(t, "-r", "4")
	require.Equal(t, "default-pool:1", cfg.Pools[0].URL)
	require.Equal(t, 4, cfg.Retries)
	cfg, _ = loadArgs(t, "-o", "cli-pool:1")
	require.Equal(t, "cli-pool:1", cfg.Pools[0].URL)
}

// The misc options: -V, -h, --dry-run (= --check-config); -B is refused.
func TestRun_Misc_Good(t *testing.T) {
	t.Chdir(t.TempDir())
	var out, errOut bytes.Buffer
	require.Equal(t, exitConfig, run([]string{"-o", "pool:3333", "-B"}, &out, &errOut))
	require.Contains(t, errOut.String(), "-B/--background is not supported")
	require.Contains(t, errOut.String(), "systemd")
	out.Reset()
	errOut.Reset()
	require.Equal(t, exitConfig, run([]string{"--background", "-o", "pool:3333"}, &out, &errOut))

	for _, flag := range []string{"--dry-run", "--check-config", "-check-config"} {
		out.Reset()
		errOut.Reset()
		code := run([]string{"-o", "pool.example.com:3333", "-u", "W", "-b", "0.0.0.0:3333", "--donate-level", "1", flag}, &out, &errOut)
		require.Equal(t, exitOK, code, errOut.String())
		require.Contains(t, out.String(), "command line: configuration OK (1 pools, 1 binds, mode nicehash)")
		require.Equal(t, 1, strings.Count(errOut.String(), "donate-level"), "named once")
	}
}
