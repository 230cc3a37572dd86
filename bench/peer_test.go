package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// xmrigProxyArgs is the README's template for xmrig-proxy.
const xmrigProxyArgs = `-o {pool} -u x -b {bind} --http-host 127.0.0.1 --http-port {api_port} -m {mode} --no-color`

func TestPeerTemplate_Expand_Good(t *testing.T) {
	tm, err := parsePeerTemplate(xmrigProxyArgs)
	require.NoError(t, err)
	require.True(t, tm.uses(phAPIPort))
	require.False(t, tm.uses(phWorkdir))
	v := peerValues{Pool: "127.0.0.1:4000", Port: 4001, APIPort: 4002, Loops: 2, Mode: "nicehash", Workdir: "/tmp/run1-peer"}
	require.Equal(t, []string{"-o", "127.0.0.1:4000", "-u", "x", "-b", "127.0.0.1:4001", "--http-host", "127.0.0.1",
		"--http-port", "4002", "-m", "nicehash", "--no-color"}, tm.expand(v))

	// Every placeholder, placeholders inside words, quoting, {{.
	tm, err = parsePeerTemplate(`--pool={pool_host}:{pool_port} -b {host}:{port} 'two words' "{loops} loops" --data-dir={workdir} --json '{{"x":1}' ''`)
	require.NoError(t, err)
	require.Equal(t, []string{"--pool=127.0.0.1:4000", "-b", "127.0.0.1:4001", "two words", "2 loops",
		"--data-dir=/tmp/run1-peer", "--json", `{"x":1}`, ""}, tm.expand(v))
	require.False(t, tm.uses(phAPIPort))

	// A template is expanded afresh for every run.
	v.Port = 5001
	require.Equal(t, "127.0.0.1:5001", tm.expand(v)[2])
}

func TestPeerTemplate_Bad(t *testing.T) {
	for tmpl, want := range map[string]string{
		"":                          "empty",
		"   ":                       "empty",
		"-o {pool}":                 "{port} or {bind}",
		"-b {bind}":                 "{pool} or {pool_port}",
		"-o {pool} -b {bind} {api}": "unknown placeholder {api}",
		"-o {pool} -b {bind} {":     "unterminated placeholder",
		"-o {pool} -b {bind} {}":    "unknown placeholder {}",
		"-o {pool} -b '{bind}":      "unterminated ' quote",
		`-o "{pool} -b {bind}`:      `unterminated " quote`,
		"-o {POOL} -b {bind}":       "unknown placeholder {POOL}",
	} {
		_, err := parsePeerTemplate(tmpl)
		require.ErrorContains(t, err, want, "%q", tmpl)
	}
}

func TestSplitWords_Ugly(t *testing.T) {
	w, err := splitWords("  a\tb\n'c d'e\"f g\"  ")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c def g"}, w)
	w, err = splitWords(`'it"s'`)
	require.NoError(t, err)
	require.Equal(t, []string{`it"s`}, w)
}

func TestParseOptions_Peer_Good(t *testing.T) {
	o, err := parseOptions([]string{"-peer-bin", "/bin/true", "-peer-args", xmrigProxyArgs, "-runs", "4"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, orderABBA, o.PeerOrder, "ABBA by default")
	require.True(t, o.peerTmpl.uses(phBind))
	require.Equal(t, "go run ./bench -peer-bin /bin/true -peer-args '"+xmrigProxyArgs+"' -runs 4", commandLine(o.Args))

	o, err = parseOptions([]string{"-peer-bin", "/bin/true", "-peer-args", "{port} {pool}", "-peer-order", "ab"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, orderAB, o.PeerOrder)
}

func TestParseOptions_Peer_Bad(t *testing.T) {
	for args, want := range map[*[]string]string{
		{"-peer-args", "{port} {pool}"}:                                                   "-peer-args needs -peer-bin",
		{"-peer-bin", "/bin/true"}:                                                        "-peer-bin needs -peer-args",
		{"-peer-bin", "/bin/true", "-peer-args", "{pool}"}:                                "-peer-args: the template must place",
		{"-peer-bin", "/bin/true", "-peer-args", "{port} {pool}", "-target", "x:1"}:       "exclude each other",
		{"-peer-bin", "/bin/true", "-peer-args", "{port} {pool}", "-peer-order", "ba"}:    "-peer-order",
		{"-peer-bin", "/bin/true", "-peer-args", "{port} {pool} {nope}", "-runs", "2"}:    "unknown placeholder {nope}",
		{"-peer-bin", "/bin/true", "-peer-args", "{port} {pool} 'x", "-miners", "10"}:     "unterminated",
		{"-peer-bin", "/bin/true", "-peer-args", "{port} {pool}", "-peer-order", "abab"}:  "abba or ab",
		{"-peer-bin", "/bin/true", "-peer-args", "{bind} {pool_port}", "-peer-order", ""}: "-peer-order",
	} {
		_, err := parseOptions(*args, io.Discard)
		require.ErrorContains(t, err, want, "%v", *args)
	}
}

func TestShellQuote_Good(t *testing.T) {
	require.Equal(t, "-miners", shellQuote("-miners"))
	require.Equal(t, "/tmp/a-b_c.1:2", shellQuote("/tmp/a-b_c.1:2"))
	require.Equal(t, "''", shellQuote(""))
	require.Equal(t, "'a b'", shellQuote("a b"))
	require.Equal(t, `'it'\''s'`, shellQuote("it's"))
	require.Equal(t, "'{port}'", shellQuote("{port}"))
}
