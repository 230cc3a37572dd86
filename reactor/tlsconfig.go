package reactor

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"time"

	"forge.lthn.ai/core/go-proxy/upstream"
)

// tlsVersions parses a protocols string such as "TLSv1.2 TLSv1.3" into the
// lowest and highest enabled versions. TLS 1.0 and 1.1 are left out: Go no
// longer offers them safely and no current miner needs them. A list that
// names nothing else is an error; otherwise they are skipped (and reported
// as ignored by ParseConfigFile, see obsoleteTLSVersions), so
// xmrig-proxy's "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3" loads.
func tlsVersions(s string) (lo, hi uint16, err error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == ':' })
	if len(fields) == 0 {
		return tls.VersionTLS12, tls.VersionTLS13, nil
	}
	for _, f := range fields {
		var v uint16
		switch strings.ToLower(f) {
		case "tlsv1.2", "tls1.2", "1.2":
			v = tls.VersionTLS12
		case "tlsv1.3", "tls1.3", "1.3":
			v = tls.VersionTLS13
		case "tlsv1", "tlsv1.0", "tlsv1.1", "tls1.0", "tls1.1":
			continue
		default:
			return 0, 0, fmt.Errorf("unknown protocol %q", f)
		}
		if lo == 0 || v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	if lo == 0 {
		return 0, 0, fmt.Errorf("%s: TLSv1 and TLSv1.1 are not supported (use TLSv1.2 or TLSv1.3)", s)
	}
	return lo, hi, nil
}

// obsoleteTLSVersions returns the TLS 1.0/1.1 names in a protocols string,
// which tlsVersions skips.
func obsoleteTLSVersions(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == ':' }) {
		switch strings.ToLower(f) {
		case "tlsv1", "tlsv1.0", "tlsv1.1", "tls1.0", "tls1.1":
			out = append(out, f)
		}
	}
	return out
}

// cipherSuites parses a TLS 1.2 cipher list by Go name
// (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) or OpenSSL name
// (ECDHE-RSA-AES128-GCM-SHA256), separated by ':', ',' or spaces. Only
// Go's secure suites are accepted. An empty string means Go's defaults.
func cipherSuites(s string) ([]uint16, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == ':' })
	if len(fields) == 0 {
		return nil, nil
	}
	byName := map[string]uint16{}
	for _, cs := range tls.CipherSuites() {
		byName[cs.Name] = cs.ID
		byName[opensslName(cs.Name)] = cs.ID
	}
	var out []uint16
	for _, f := range fields {
		id, ok := byName[f]
		if !ok {
			return nil, fmt.Errorf("unknown or insecure cipher %q", f)
		}
		out = append(out, id)
	}
	return out, nil
}

// opensslName converts a Go suite name to OpenSSL's spelling, e.g.
// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 → ECDHE-RSA-AES128-GCM-SHA256.
func opensslName(goName string) string {
	n := strings.TrimPrefix(goName, "TLS_")
	n = strings.Replace(n, "_WITH_", "_", 1)
	n = strings.ReplaceAll(n, "AES_128", "AES128")
	n = strings.ReplaceAll(n, "AES_256", "AES256")
	n = strings.ReplaceAll(n, "CHACHA20_POLY1305_SHA256", "CHACHA20_POLY1305")
	return strings.ReplaceAll(n, "_", "-")
}

// serverTLS builds the miner-facing tls.Config. Without certificate files
// it generates a self-signed ECDSA certificate and returns its SHA-256
// fingerprint so it can be logged (miners pin it with --tls-fingerprint).
func serverTLS(c *TLSConfig) (cfg *tls.Config, fingerprint string, generated bool, err error) {
	lo, hi, err := tlsVersions(c.Protocols)
	if err != nil {
		return nil, "", false, err
	}
	suites, err := cipherSuites(c.Ciphers)
	if err != nil {
		return nil, "", false, err
	}
	var cert tls.Certificate
	if c.CertFile != "" {
		cert, err = tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, "", false, fmt.Errorf("load certificate: %w", err)
		}
	} else {
		cert, err = selfSigned(c.Gen)
		if err != nil {
			return nil, "", false, err
		}
		generated = true
	}
	if len(cert.Certificate) > 0 {
		fingerprint = upstream.Fingerprint(cert.Certificate[0])
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   lo,
		MaxVersion:   hi,
		CipherSuites: suites,
	}, fingerprint, generated, nil
}

// selfSigned makes a one-year ECDSA P-256 certificate for name (default
// "go-proxy").
func selfSigned(name string) (tls.Certificate, error) {
	if name == "" {
		name = "go-proxy"
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
