package reactor

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// registry.url selects PostgreSQL; registry.path (SQLite) then gets no
// default, and the two cannot be given together.
func TestParseConfig_RegistryURL_Good(t *testing.T) {
	const url = "postgres://gpx:pg-s3cret@db.example.com:5432/proxy?sslmode=disable"
	cfg, _, err := ParseConfig([]byte(`{"sv1-mode":"passthrough","registry":{"url":"` + url + `"}}`))
	require.NoError(t, err)
	require.Equal(t, url, cfg.Registry.URL)
	require.Empty(t, cfg.Registry.Path, "no SQLite default beside a URL")

	cfg, _, err = ParseConfig([]byte(`{"sv1-mode":"passthrough"}`))
	require.NoError(t, err)
	require.Equal(t, "go-proxy.db", cfg.Registry.Path)
	require.Empty(t, cfg.Registry.URL)

	_, _, err = ParseConfig([]byte(`{"sv1-mode":"passthrough","registry":{"url":"postgresql://db/proxy"}}`))
	require.NoError(t, err)
}

func TestParseConfig_RegistryURL_Bad(t *testing.T) {
	for body, want := range map[string]string{
		`{"sv1-mode":"passthrough","registry":{"path":"a.db","url":"postgres://u:pg-s3cret@db/x"}}`: "registry: path and url are mutually exclusive",
		`{"sv1-mode":"passthrough","registry":{"url":"mysql://u:pg-s3cret@db/x"}}`:                  "registry.url: must start with postgres:// or postgresql://",
		`{"sv1-mode":"passthrough","registry":{"url":"postgres:///x?password=pg-s3cret"}}`:          "registry.url: must name a host",
		`{"sv1-mode":"passthrough","registry":{"url":"pg-s3cret"}}`:                                 "registry.url:",
	} {
		_, _, err := ParseConfig([]byte(body))
		require.Error(t, err, body)
		require.Contains(t, err.Error(), want, body)
		require.NotContains(t, err.Error(), "pg-s3cret", "errors never quote the URL")
	}
}

// Redacted (what GET /1/config shows) masks the password in the URL and
// keeps the rest readable.
func TestConfig_Redacted_RegistryURL(t *testing.T) {
	cfg, _, err := ParseConfig([]byte(`{"sv1-mode":"passthrough","registry":{"url":"postgres://gpx:pg-s3cret@db.example.com:5432/proxy?sslmode=disable&password=pg-s3cret"}}`))
	require.NoError(t, err)
	red := cfg.Redacted()
	require.Equal(t, "postgres://gpx:********@db.example.com:5432/proxy?sslmode=disable&password=********", red.Registry.URL)
	b, err := json.Marshal(red)
	require.NoError(t, err)
	require.NotContains(t, string(b), "pg-s3cret")
	require.Contains(t, cfg.Registry.URL, "pg-s3cret", "the original is untouched")
}
