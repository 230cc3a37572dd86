package reactor

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const onePool = `"pools":[{"url":"pool.example.com:3333","user":"W"}]`

// xmrig-proxy's parser takes // and /* */ comments and trailing commas;
// so does go-proxy's, and comment markers inside strings stay text.
func TestParseConfig_Comments_Good(t *testing.T) {
	cfg, _, err := ParseConfig([]byte(`// leading comment
{
  /* block
     comment */
  "pools": [
    {"url": "pool.example.com:3333", "user": "W", "pass": "a//b/*c*/",}, // trailing comma in the object
  ],                                                                   // and in the array
  "mode": "simple", /* between keys */
  "access-password": "p\"//q",
}
// trailing comment`))
	require.NoError(t, err)
	require.Equal(t, "simple", cfg.Mode)
	require.Equal(t, "a//b/*c*/", cfg.Pools[0].Pass, "comment markers inside strings are text")
	require.Equal(t, `p"//q`, cfg.AccessPassword)
	// A byte-order mark and CRLF line ends are fine too.
	_, _, err = ParseConfig([]byte("\xef\xbb\xbf{\r\n" + onePool + ",\r\n}\r\n"))
	require.NoError(t, err)
}

// null means "not set" for every key, as in xmrig-proxy's own file.
func TestParseConfig_Null_Good(t *testing.T) {
	cfg, ignored, err := ParseConfig([]byte(`{` + onePool + `,"workers":null,"bind":null,"tls":null,"custom-diff":null,"coin":null,"api":{"id":null}}`))
	require.Error(t, err, "coin is not a top-level key")
	cfg, ignored, err = ParseConfig([]byte(`{"pools":[{"url":"p:1","coin":null,"socks5":null}],"workers":null,"bind":null,"tls":null,"custom-diff":null,"api":{"id":null}}`))
	require.NoError(t, err)
	require.Equal(t, WorkersByRigID, cfg.Workers, "null workers is the default, not off")
	require.Equal(t, DefaultPort, cfg.Bind[0].Port)
	require.Empty(t, ignored, "an xmrig-only key set to null asks for nothing")
}

// Every syntax error gives the line and column of the offending character.
func TestParseConfig_Syntax_Bad(t *testing.T) {
	for _, tc := range []struct {
		text      string
		line, col int
		msg       string
	}{
		{"", 1, 1, "empty"},
		{"   \n  ", 2, 3, "empty"},
		{"{\n  \"mode\": \"simple\"\n  \"retries\": 3\n}", 3, 3, "a comma may be missing"},
		{"{\n  \"mode\": simple\n}", 2, 11, `unexpected word "simple"`},
		{"{\n  mode: 1\n}", 2, 3, "a key in double quotes"},
		{"{\"pools\": [1, 2,, 3]}", 1, 17, "a value was expected"},
		{"{\"a\": \"unterminated\n}", 1, 7, "not closed before the end of the line"},
		{"{\"a\": \"bad \\q escape\"}", 1, 7, "bad string"},
		{"{\"a\": 01}", 1, 7, "not a number"},
		{"{\"a\": 1} {}", 1, 10, "after the end of the document"},
		{"{\"a\": 1 /* never closed", 1, 9, "never closed"},
		{"{\"a\": [1, 2", 1, 7, "never closed"},
		{"{\"a\" 1}", 1, 6, "':' was expected"},
		{"{\"é\": 1,\n \"b\": ]}", 2, 7, "a value was expected"},
		{strings.Repeat("[", 100) + strings.Repeat("]", 100), 1, 66, "levels deep"},
	} {
		_, _, err := ParseConfig([]byte(tc.text))
		var ce *ConfigError
		require.True(t, errors.As(err, &ce), "%q: %v", tc.text, err)
		require.Equal(t, [2]int{tc.line, tc.col}, [2]int{ce.Line, ce.Column}, "%q: %v", tc.text, err)
		require.Contains(t, err.Error(), tc.msg, tc.text)
		require.Contains(t, err.Error(), "syntax error", tc.text)
	}
}

// Unknown keys and wrong types name the key's full path and where it is;
// a misspelt key gets the nearest known one.
func TestParseConfig_Keys_Bad(t *testing.T) {
	for _, tc := range []struct {
		text, path, msg string
		line            int
	}{
		{"{" + onePool + ",\n\"http\": {\"acess-token\": \"x\"}}", "http.acess-token", `unknown key; did you mean "access-token"?`, 2},
		{`{"pools":[{"url":"p:1"},{"url":"q:2","coinn":"monero"}]}`, "pools[1].coinn", `did you mean "coin"?`, 1},
		{"{" + onePool + `,"bind":["0.0.0.0:3333",{"host":"::","port":"3334"}]}`, "bind[1].port", `must be a whole number, got a string ("3334")`, 1},
		{"{" + onePool + `,"bind":[{"host":"::","prot":3334}]}`, "bind[0].prot", `did you mean "port"?`, 1},
		{"{" + onePool + `,"retries":"3"}`, "retries", "must be a whole number", 1},
		{"{" + onePool + `,"retries":2.5}`, "retries", "must be a whole number in range, got 2.5", 1},
		{"{" + onePool + `,"retries":1e2}`, "retries", "without a fraction or exponent", 1},
		{"{" + onePool + `,"custom-diff":-5}`, "custom-diff", "must not be negative", 1},
		{"{" + onePool + `,"retries":99999999999999999999}`, "retries", "in range", 1},
		{"{" + onePool + `,"watch":"yes"}`, "watch", `must be true or false, got a string ("yes")`, 1},
		{"{" + onePool + `,"mode":["simple"]}`, "mode", "must be a string, got an array", 1},
		{"{" + onePool + `,"http":[]}`, "http", "must be an object, got an array", 1},
		{"{" + onePool + `,"bind":{"port":1}}`, "bind", "must be an array, got an object", 1},
		{`{"pools":[{"url":"p:1","keepalive":"yes"}]}`, "pools[0].keepalive", "must be true, false or seconds", 1},
		{"{" + onePool + `,"workers":"bogus"}`, "workers", `unknown mode "bogus"`, 1},
		{"{" + onePool + `,"workers":5}`, "workers", "must be a string or a boolean", 1},
		{"{" + onePool + `,"bind":["nonsense"]}`, "bind[0]", "missing port", 1},
		{"{" + onePool + `,"verbose":"loud"}`, "verbose", "true, false or a level", 1},
		{"{" + onePool + `,"tls":5}`, "tls", "an object, true/false or a host name", 1},
		{"{" + onePool + `,"no-such-key":1}`, "no-such-key", "unknown key", 1},
		{"{" + onePool + ",\n\n\"mode\":\"simple\",\"mode\":\"nicehash\"}", "mode", "key given twice (first on line 3)", 3},
		{"[" + onePool + "]", "", "", 1},
		{"{\n" + onePool + `,"Mode":"simple"}`, "Mode", `did you mean "mode"?`, 2},
		{"{" + onePool + `,"sv1_mode":"aggregate"}`, "sv1_mode", `did you mean "sv1-mode"?`, 1},
		{"{" + onePool + `,"xyz":1}`, "xyz", "unknown key", 1},
	} {
		_, _, err := ParseConfig([]byte(tc.text))
		var ce *ConfigError
		require.True(t, errors.As(err, &ce), "%s: %v", tc.text, err)
		require.Equal(t, tc.path, ce.Path, "%s: %v", tc.text, err)
		require.Contains(t, ce.Msg, tc.msg, tc.text)
		require.Equal(t, tc.line, ce.Line, "%s: %v", tc.text, err)
		require.Positive(t, ce.Column)
		if tc.path != "" {
			require.Contains(t, err.Error(), tc.path+": ")
		}
	}
	// A far-off word gets no suggestion.
	_, _, err := ParseConfig([]byte("{" + onePool + `,"xyz":1}`))
	require.NotContains(t, err.Error(), "did you mean")
}

// Validate's errors point at the value they are about, when the file has
// it.
func TestParseConfig_ValidateLine_Bad(t *testing.T) {
	text := "{\n  \"pools\": [\n    {\"url\": \"pool:3333\"},\n    {\"url\": \"pool:99999\"}\n  ]\n}"
	_, _, err := ParseConfig([]byte(text))
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "pools[1].url", ce.Path)
	require.Equal(t, [2]int{4, 13}, [2]int{ce.Line, ce.Column})
	_, _, err = ParseConfig([]byte(`{"pools":[{"url":"p:1"}],` + "\n" + `"bind":[{"host":"0.0.0.0","port":0}]}`))
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "bind[0].port", ce.Path)
	require.Equal(t, 2, ce.Line)
	// A rule about a key the file does not have has no line.
	_, _, err = ParseConfig([]byte(`{"mode":"simple"}`))
	require.ErrorAs(t, err, &ce)
	require.Zero(t, ce.Line)
	require.Equal(t, "config: pools: at least one pool is required", err.Error())
	// mode "extra_nonce" is xmrig-proxy's solo mode: refused, clearly.
	_, _, err = ParseConfig([]byte(`{` + onePool + `,"mode":"extra_nonce"}`))
	require.ErrorContains(t, err, `mode: "extra_nonce" (solo mining`)
	require.ErrorContains(t, err, "not supported by go-proxy")
}

// LoadConfig names the file in the compiler's file:line:column form.
func TestLoadConfig_FileLine_Bad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proxy.json")
	require.NoError(t, os.WriteFile(path, []byte("{\n  \"pools\": [{\"url\": \"p:1\"}],\n  \"colour\": false\n}"), 0o600))
	_, _, err := LoadConfig(path)
	require.EqualError(t, err, path+`:3:3: colour: unknown key; did you mean "colors"?`)
	_, _, err = LoadConfig(filepath.Join(t.TempDir(), "missing.json"))
	require.ErrorContains(t, err, "no such file")
}

// Every key xmrig-proxy 6.26 reads loads: go-proxy's own keys take
// effect, the others are listed as ignored (by path, once each).
func TestParseConfig_XmrigProxy_Good(t *testing.T) {
	data, err := os.ReadFile("../testdata/xmrig-proxy/stock.json")
	require.NoError(t, err)
	cfg, ignored, err := ParseConfig(data)
	require.NoError(t, err)
	require.Equal(t, []string{"background", "colors", "dns", "donate-level",
		"pools[0].sni", "pools[0].daemon", "pools[0].submit-to-origin"}, ignored)
	require.Equal(t, []BindConfig{{Host: "0.0.0.0", Port: 3333, Family: "auto"}, {Host: "::", Port: 3333, Family: "auto"}}, cfg.Bind)
	require.Equal(t, WorkersByRigID, cfg.Workers)
	require.Equal(t, 2, cfg.Retries)
	require.True(t, cfg.Watch)

	data, err = os.ReadFile("../testdata/xmrig-proxy/every-key.json")
	require.NoError(t, err)
	text := strings.NewReplacer("BIND_PORT", "3333", "TLS_PORT", "3443", "HTTP_PORT", "8080", "POOL_URL", "pool.example.com:3333",
		"ACCESS_LOG", "/tmp/access.log", "MAIN_LOG", "/tmp/main.log").Replace(string(data))
	cfg, ignored, err = ParseConfig([]byte(text))
	require.NoError(t, err)
	require.Equal(t, []string{"autosave", "background", "colors", "debug", "dns", "donate-level", "donate-over-proxy", "dry-run",
		"pools[0].coin", "pools[0].sni", "pools[0].daemon", "pools[0].daemon-poll-interval", "pools[0].daemon-job-timeout",
		"pools[0].daemon-zmq-port", "pools[0].submit-to-origin", "pools[0].nicehash", "title",
		"tls.ciphersuites"}, ignored)
	// What go-proxy implements took effect.
	require.Equal(t, APIConfig{ID: "proxy-eu-1", WorkerID: "edge-${GOPROXY_TEST_SITE}"}, cfg.API)
	require.Equal(t, "/tmp/main.log", cfg.LogFile)
	require.Equal(t, "debug", cfg.LogLevel, "verbose without log-level")
	require.Equal(t, 60, cfg.PrintTime)
	require.Equal(t, "proxy.example.com", cfg.TLS.Gen)
	require.Equal(t, "go-proxy-test", cfg.UserAgent)
	require.Equal(t, uint64(5000), cfg.CustomDiff)
	require.True(t, cfg.CustomDiffStats)
	require.False(t, *cfg.AlgoExt)
	require.Equal(t, "farm-secret", cfg.AccessPassword)
	require.Equal(t, []BindConfig{{Host: "127.0.0.1", Port: 3333, Family: "auto"}, {Host: "127.0.0.1", Port: 3443, TLS: true, Family: "auto"}}, cfg.Bind)
	require.Equal(t, "proxy-rig", cfg.Pools[0].RigID)
	require.Equal(t, "rx/0", cfg.Pools[0].Algo)
	require.False(t, cfg.Pools[1].IsEnabled())
	require.False(t, *cfg.HTTP.Restricted)
}

// xmrig-proxy's other spellings: tls as true/false or a host name,
// "cert-key" for cert_key, "[::]" hosts, workers names, old TLS versions.
func TestParseConfig_XmrigForms_Good(t *testing.T) {
	cfg, _, err := ParseConfig([]byte(`{` + onePool + `,"tls":"proxy.example.com","bind":[{"host":"[::]","port":3333},"[::1]:3334"],"workers":"ip"}`))
	require.NoError(t, err)
	require.Equal(t, "proxy.example.com", cfg.TLS.Gen)
	require.True(t, *cfg.TLS.Enabled)
	require.Equal(t, "::", cfg.Bind[0].Host)
	require.Equal(t, "::1", cfg.Bind[1].Host)
	require.Equal(t, WorkersByIP, cfg.Workers)
	cfg, _, err = ParseConfig([]byte(`{` + onePool + `,"tls":false}`))
	require.NoError(t, err)
	require.False(t, *cfg.TLS.Enabled)
	cfg, ignored, err := ParseConfig([]byte(`{` + onePool + `,"tls":{"cert":"c.pem","cert-key":"k.pem","protocols":"TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"}}`))
	require.NoError(t, err)
	require.Equal(t, "k.pem", cfg.TLS.KeyFile)
	require.Equal(t, []string{"tls.protocols TLSv1, TLSv1.1 (Go offers TLSv1.2 and TLSv1.3 only)"}, ignored)
	_, ignored, err = ParseConfig([]byte(`{` + onePool + `,"tls":{"cert":"c.pem","cert_key":"k.pem","cert-key":"other.pem"}}`))
	require.NoError(t, err)
	require.Equal(t, []string{"tls.cert-key (alias of cert_key, which is set)"}, ignored)
	_, _, err = ParseConfig([]byte(`{` + onePool + `,"tls":{"protocols":"TLSv1 TLSv1.1"}}`))
	require.ErrorContains(t, err, "tls.protocols")
	require.ErrorContains(t, err, "not supported")
}

// Command-line options override the file key by key: objects merge,
// arrays (pools, bind) are replaced, and their errors say "command line".
func TestParseConfigFile_Overrides_Good(t *testing.T) {
	file := []byte(`{"pools":[{"url":"file:1","user":"F"}],"http":{"enabled":true,"port":8080,"access-token":"T"},"mode":"simple","retries":7}`)
	cfg, _, err := ParseConfigFile("f.json", file, []byte(`{"http":{"port":9090},"retries":2}`))
	require.NoError(t, err)
	require.Equal(t, 9090, cfg.HTTP.Port)
	require.Equal(t, "T", cfg.HTTP.AccessToken, "the file's other http keys stay")
	require.Equal(t, "simple", cfg.Mode)
	require.Equal(t, 2, cfg.Retries)
	require.Equal(t, "file:1", cfg.Pools[0].URL)
	cfg, _, err = ParseConfigFile("f.json", file, []byte(`{"pools":[{"url":"cli:1"},{"url":"cli:2"}]}`))
	require.NoError(t, err)
	require.Len(t, cfg.Pools, 2)
	require.Equal(t, "cli:1", cfg.Pools[0].URL)
	// No file at all.
	cfg, _, err = ParseConfigFile("", nil, []byte(`{"pools":[{"url":"cli:1","user":"W"}]}`))
	require.NoError(t, err)
	require.Equal(t, "W", cfg.Pools[0].User)

	_, _, err = ParseConfigFile("f.json", file, []byte(`{"pools":[{"url":"cli:99999"}]}`))
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.True(t, ce.CommandLine)
	require.Equal(t, "pools[0].url", ce.Path)
	require.True(t, strings.HasPrefix(err.Error(), "command line: pools[0].url: "), err.Error())
	_, _, err = ParseConfigFile("f.json", file, []byte(`{"retries":"x"}`))
	require.ErrorContains(t, err, "command line: retries:")
	// The file's own errors still point into the file.
	_, _, err = ParseConfigFile("f.json", []byte("{\n\"colours\":1}"), []byte(`{"pools":[{"url":"cli:1"}]}`))
	require.ErrorContains(t, err, "f.json:2:1: colours: unknown key")
}

// A hostile PUT /1/config body cannot crash or exhaust the parser.
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		`{"pools":[{"url":"p:1"}]}`, "// c\n{\"a\":[1,2,],}", `{"bind":["[::]:1",{"host":"::","port":2}]}`,
		`{"tls":"x","workers":true,"verbose":3}`, "/*", `"\u00e9"`, `[[[[`, `{"a":-0.5e+10}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := ParseConfig(data)
		if err == nil {
			require.NotNil(t, cfg)
			return
		}
		require.NotEmpty(t, err.Error())
	})
}

// tls.gen (--tls-gen) names the generated certificate.
func TestServerTLS_Gen_Good(t *testing.T) {
	for gen, want := range map[string]string{"proxy.example.com": "proxy.example.com", "": "go-proxy"} {
		tc, _, generated, err := serverTLS(&TLSConfig{Gen: gen})
		require.NoError(t, err)
		require.True(t, generated)
		leaf, err := x509.ParseCertificate(tc.Certificates[0].Certificate[0])
		require.NoError(t, err)
		require.Equal(t, []string{want}, leaf.DNSNames)
		require.Equal(t, want, leaf.Subject.CommonName)
	}
}
