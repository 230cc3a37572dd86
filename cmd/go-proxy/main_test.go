package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

func TestRun_CheckConfig_Good(t *testing.T) {
	path := writeConfig(t, `{"mode":"nicehash","pools":[{"url":"pool.example.com:3333","user":"W","pass":"x"}],"donate-level":0}`)
	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run([]string{"--check-config", "-c", path}, &out, &errOut))
	require.Contains(t, out.String(), "configuration OK")
	require.Contains(t, errOut.String(), "donate-level", "xmrig-proxy keys are ignored with a warning")
	require.Equal(t, 1, strings.Count(errOut.String(), "level=WARN"), "one warning names them all")
}

func TestRun_CheckConfig_Bad(t *testing.T) {
	for body, key := range map[string]string{
		`{"pools":[]}`: "pools",
		`{"pools":[{"url":"pool:3333"}],"mode":"turbo"}`:                       "mode",
		`{"pools":[{"url":"pool:99999"}]}`:                                     "pools[0].url",
		`{"pools":[{"url":"pool:3333"}],"bind":[{"host":"0.0.0.0","port":0}]}`: "bind[0].port",
		`{"pools":[{"url":"pool:3333"}],"no-such-key":1}`:                      "no-such-key",
		`{"pools":[{"url":"pool:3333"}],"custom-diff":50}`:                     "custom-diff",
		`{"pools":[{"url":"pool:3333","tls-fingerprint":"zz"}]}`:               "tls-fingerprint",
		`not json`: "config",
	} {
		var out, errOut bytes.Buffer
		code := run([]string{"--check-config", "-c", writeConfig(t, body)}, &out, &errOut)
		require.Equal(t, exitConfig, code, body)
		require.Contains(t, errOut.String(), key, body)
	}
	// A valid configuration padded past 4 MiB is refused unread.
	big := `{"pools":[{"url":"pool:3333"}]}`
	var out, errOut bytes.Buffer
	code := run([]string{"--check-config", "-c", writeConfig(t, big+strings.Repeat(" ", 4<<20))}, &out, &errOut)
	require.Equal(t, exitConfig, code)
	require.Contains(t, errOut.String(), "4 MiB")
	require.Equal(t, exitConfig, run([]string{"-c", filepath.Join(t.TempDir(), "missing.json")}, &out, &errOut))
	require.Equal(t, exitConfig, run([]string{"--bogus-flag"}, &out, &errOut))
}

// -h and --help print the usage on stdout and exit 0, like version.
func TestRun_Help_Good(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		var out, errOut bytes.Buffer
		require.Equal(t, exitOK, run([]string{arg}, &out, &errOut), arg)
		require.Contains(t, out.String(), "usage: go-proxy", arg)
		require.Contains(t, out.String(), "--check-config", arg)
		require.Contains(t, out.String(), "-o, --url=URL", arg)
		require.Empty(t, errOut.String())
	}
}

func TestRun_Version_Good(t *testing.T) {
	for _, arg := range []string{"version", "-V", "--version"} {
		var out bytes.Buffer
		require.Equal(t, exitOK, run([]string{arg}, &out, &out), arg)
		require.True(t, strings.HasPrefix(out.String(), "go-proxy "), arg)
	}
}

func TestRun_Demo_Good(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"demo", "-miners", "20", "-shares", "40", "-sv1-miners", "5", "-sv1-shares", "10", "-duration", "3s", "-every", "1s"}, &out, &errOut)
	require.Equal(t, exitOK, code, errOut.String())
	text := out.String()
	require.Contains(t, text, "miners 20/20 ready", text)
	require.Contains(t, text, "go-proxy demo: stopped")
	require.Regexp(t, `HTTP API: http://127\.0\.0\.1:\d+/1/summary`, text)
	require.NotContains(t, text, " 0 accepted |", "shares flowed: "+text)
	// Both families on one port; the SV1 pool verified every share.
	require.Contains(t, text, "SV1: miners 5/5 authorized", text)
	require.Regexp(t, `pool verified [1-9]\d* ok, 0 bad, 0 duplicate, 0 overlapping`, text)
}

// Every bad demo flag is refused up front with exit 2 and an error naming
// it; none panics (-every 0 used to, in time.NewTicker).
func TestRun_Demo_Bad(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"-every", "0"}, "-every"},
		{[]string{"-every", "-1s"}, "-every"},
		{[]string{"-every", "1ns"}, "-every"},
		{[]string{"-jobs", "0"}, "-jobs"},
		{[]string{"-jobs", "-5s"}, "-jobs"},
		{[]string{"-duration", "-1s"}, "-duration"},
		{[]string{"-miners", "0"}, "-miners"},
		{[]string{"-miners", "-3"}, "-miners"},
		{[]string{"-sv1-miners", "-1"}, "-sv1-miners"},
		{[]string{"-shares", "-1"}, "-shares"},
		{[]string{"-shares", "NaN"}, "-shares"},
		{[]string{"-shares", "+Inf"}, "-shares"},
		{[]string{"-sv1-shares", "NaN"}, "-sv1-shares"},
		{[]string{"-miners", "100000000"}, "-miners 100000000"},
		{[]string{"stray"}, `unexpected argument "stray"`},
	} {
		var out, errOut bytes.Buffer
		code := run(append([]string{"demo"}, c.args...), &out, &errOut)
		require.Equal(t, exitConfig, code, "%v: %s", c.args, errOut.String())
		require.Contains(t, errOut.String(), c.flag, c.args)
		require.Empty(t, out.String(), "nothing started: %v", c.args)
	}
}

// The demo holds both ends of every miner connection: with 20,000 open
// files it takes about 9,850 miners, and says so beyond that instead of
// letting the proxy's engine run out of descriptors.
func TestDemoFlags_OpenFiles_Ugly(t *testing.T) {
	ok := demoFlags{miners: 9800, sv1Miners: 20, shares: 1, sv1Shares: 1, every: time.Second, jobs: time.Second}
	require.NoError(t, ok.validate(20000, 2))
	most := demoMaxMiners(20000, 2)
	require.LessOrEqual(t, demoFiles(most, 2), 20000)
	require.Greater(t, demoFiles(most+1, 2), 20000)
	require.InDelta(t, 9850, most, 50)
	big := ok
	big.miners = 9900
	err := big.validate(20000, 2)
	require.ErrorContains(t, err, "-miners 9900 and -sv1-miners 20")
	require.ErrorContains(t, err, "open-files limit is 20000")
	require.ErrorContains(t, err, "at most")
	require.Zero(t, demoMaxMiners(100, 2), "a limit too small for anything")
}
