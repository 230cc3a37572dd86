package reactor

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writePair writes a self-signed certificate and its key as PEM files,
// valid from notBefore to notAfter.
func writePair(t *testing.T, dir, name string, notBefore, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certFile, keyFile
}

func preflightConfig(t *testing.T, text string) *Config {
	t.Helper()
	cfg, _, err := ParseConfig([]byte(text))
	require.NoError(t, err)
	return cfg
}

// A configuration whose files are all usable passes, and the check leaves
// nothing behind.
func TestPreflight_Good(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	cert, key := writePair(t, dir, "proxy", now.Add(-time.Hour), now.Add(24*time.Hour))
	existing := filepath.Join(dir, "main.log")
	require.NoError(t, os.WriteFile(existing, []byte("old line\n"), 0o600))
	cfg := preflightConfig(t, `{"sv1-mode":"passthrough","max-connections":100,
		"tls":{"cert":"`+cert+`","cert_key":"`+key+`"},
		"log-file":"`+existing+`","access-log-file":"`+filepath.Join(dir, "access.log")+`",
		"share-log-file":"`+filepath.Join(dir, "shares.log")+`","registry":{"path":"`+filepath.Join(dir, "accounts.db")+`"}}`)
	before, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.NoError(t, cfg.Preflight())
	after, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Equal(t, before, after, "no file created or left behind")
	b, _ := os.ReadFile(existing)
	require.Equal(t, "old line\n", string(b), "an existing log is not truncated")
}

// Each problem start would trip over is reported, naming its key; all of
// them at once.
func TestPreflight_Bad(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	certA, keyA := writePair(t, dir, "a", now.Add(-time.Hour), now.Add(time.Hour))
	_, keyB := writePair(t, dir, "b", now.Add(-time.Hour), now.Add(time.Hour))
	oldCert, oldKey := writePair(t, dir, "old", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	notDir := filepath.Join(dir, "plain-file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o600))
	for _, tc := range []struct{ text, want string }{
		{`{"pools":[{"url":"p:1"}],"tls":{"cert":"` + certA + `","cert_key":"` + keyB + `"}}`, "tls.cert / tls.cert_key: tls: private key does not match public key"},
		{`{"pools":[{"url":"p:1"}],"tls":{"cert":"` + filepath.Join(dir, "none.crt") + `","cert_key":"` + keyA + `"}}`, "tls.cert: open "},
		{`{"pools":[{"url":"p:1"}],"tls":{"cert":"` + certA + `","cert_key":"` + filepath.Join(dir, "none.key") + `"}}`, "tls.cert_key: open "},
		{`{"pools":[{"url":"p:1"}],"tls":{"cert":"` + oldCert + `","cert_key":"` + oldKey + `"}}`, "tls.cert: the certificate expired on"},
		{`{"pools":[{"url":"p:1"}],"tls":{"cert":"` + keyA + `","cert_key":"` + keyA + `"}}`, "tls.cert / tls.cert_key:"},
		{`{"pools":[{"url":"p:1"}],"log-file":"` + filepath.Join(dir, "missing", "x.log") + `"}`, "log-file: cannot create"},
		{`{"pools":[{"url":"p:1"}],"access-log-file":"` + filepath.Join(notDir, "x.log") + `"}`, "access-log-file: cannot create"},
		{`{"pools":[{"url":"p:1"}],"share-log-file":"` + dir + `"}`, "share-log-file: " + dir + " is a directory"},
		{`{"sv1-mode":"passthrough","registry":{"path":"` + filepath.Join(dir, "missing", "a.db") + `"}}`, "registry.path: cannot create"},
		{`{"pools":[{"url":"p:1"}],"max-connections":1000000000}`, "max-connections: 1000000000 is more than the open-files limit allows"},
	} {
		err := preflightConfig(t, tc.text).Preflight()
		require.ErrorContains(t, err, tc.want, tc.text)
	}
	// Several problems come back together.
	err := preflightConfig(t, `{"pools":[{"url":"p:1"}],"max-connections":1000000000,"log-file":"`+filepath.Join(dir, "missing", "x.log")+`"}`).Preflight()
	require.ErrorContains(t, err, "log-file:")
	require.ErrorContains(t, err, "max-connections:")
	// The registry is only checked where it is used.
	require.NoError(t, preflightConfig(t, `{"pools":[{"url":"p:1"}],"registry":{"path":"`+filepath.Join(dir, "missing", "a.db")+`"}}`).Preflight())
}
