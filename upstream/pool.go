package upstream

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Family is the stratum dialect a pool speaks.
type Family string

// Families.
const (
	CryptoNote Family = "cryptonote"
	SV1        Family = "sv1"
)

// PoolConfig is one pool entry of the configuration.
type PoolConfig struct {
	// Name names the pool in routes (a target's failover chain lists pool
	// names); default: its URL. Names are unique within a configuration.
	Name string `json:"name,omitempty"`
	// URL is "host:port", "stratum+tcp://host:port", or
	// "stratum+ssl://host:port" / "stratum+tls://host:port" (TLS).
	URL  string `json:"url"`
	User string `json:"user"`
	Pass string `json:"pass"`
	// RigID is sent as "rigid" in the CryptoNote login.
	RigID string `json:"rig-id,omitempty"`
	// Algo, when set, is announced in the login's algo list.
	Algo string `json:"algo,omitempty"`
	// Family is "cryptonote" (default) or "sv1".
	Family Family `json:"family,omitempty"`
	// TLS forces TLS even for a URL without an ssl/tls scheme.
	TLS bool `json:"tls,omitempty"`
	// TLSFingerprint pins the pool's leaf certificate: the SHA-256 of its
	// DER bytes in hex (colons allowed). "" = no pin (the system roots
	// still verify the chain unless the pin is set).
	TLSFingerprint string `json:"tls-fingerprint,omitempty"`
	// Keepalive sends keepalived to the pool after this much idle time:
	// JSON true = 60 s, a number = seconds, false/0 = off.
	Keepalive Keepalive `json:"keepalive,omitempty"`
	// Enabled pools take part in failover; a missing key means true.
	Enabled *bool `json:"enabled,omitempty"`
	// RedirectHosts are the hosts besides its own that a client.reconnect
	// from this pool may send the connection to, with this entry's user
	// and password: names the operator vouches for as the same pool
	// operator. An entry is a host name or IP address, "*.example.com"
	// (any name under example.com, not example.com itself), or "*" (any
	// host: trust the pool completely). See AllowsRedirect.
	RedirectHosts []string `json:"redirect-hosts,omitempty"`
}

// maxRedirectHosts bounds the redirect-hosts list of one pool.
const maxRedirectHosts = 64

// AllowsRedirect reports whether a client.reconnect from this pool may
// send the connection to host: the host of the pool's own URL (on any
// port) or one its redirect-hosts allow. Names are compared without case
// and without a trailing dot, IP addresses by value; nothing is resolved,
// so a name and an address of the same machine are different hosts.
func (p *PoolConfig) AllowsRedirect(host string) bool {
	h := normHost(host)
	if h == "" {
		return false
	}
	if ep, err := ParseURL(p.URL); err == nil && normHost(ep.Host) == h {
		return true
	}
	_, ipErr := netip.ParseAddr(h)
	isName := ipErr != nil // wildcards match names, never addresses
	for _, pat := range p.RedirectHosts {
		pat = normHost(pat)
		switch suffix, wild := strings.CutPrefix(pat, "*."); {
		case pat == "*":
			return true
		case wild:
			if isName && strings.HasSuffix(h, "."+suffix) {
				return true
			}
		case pat == h:
			return true
		}
	}
	return false
}

// normHost is a host in comparable form: lower case, no brackets or
// trailing dot, an IP address in its canonical text ("" when empty).
func normHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), "."))
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().String()
	}
	return h
}

// validRedirectHost checks one redirect-hosts entry: "*", an IP address,
// a host name, or "*." and a name of at least two labels.
func validRedirectHost(s string) bool {
	if s == "*" {
		return true
	}
	if _, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return true
	}
	name, wild := strings.CutPrefix(s, "*.")
	name = strings.TrimSuffix(name, ".")
	if len(name) == 0 || len(name) > 253 || (wild && !strings.Contains(name, ".")) {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Key is the name routes use for the pool: Name, or URL when it has none.
func (p *PoolConfig) Key() string {
	if p.Name != "" {
		return p.Name
	}
	return p.URL
}

// maxNameLen bounds a pool name (it is a metric label and a log field).
const maxNameLen = 64

// validName reports whether s is a usable pool or route name: 1 to
// maxNameLen printable ASCII characters, no space or quote.
func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// ValidName reports whether s may name a pool, a route or a target: 1 to
// 64 printable ASCII characters without space, quote or backslash.
func ValidName(s string) bool { return validName(s) }

// IsEnabled reports whether the pool takes part in failover.
func (p *PoolConfig) IsEnabled() bool { return p.Enabled == nil || *p.Enabled }

// FamilyOrDefault returns the pool's family, CryptoNote when unset.
func (p *PoolConfig) FamilyOrDefault() Family {
	if p.Family == "" {
		return CryptoNote
	}
	return p.Family
}

// Keepalive is a pool keepalive interval that unmarshals from a JSON bool
// (true = 60 s) or a number of seconds.
type Keepalive time.Duration

// DefaultKeepalive is the interval of "keepalive": true.
const DefaultKeepalive = Keepalive(60 * time.Second)

// UnmarshalJSON accepts true, false, null or a non-negative number of seconds.
func (k *Keepalive) UnmarshalJSON(b []byte) error {
	switch s := string(b); s {
	case "true":
		*k = DefaultKeepalive
		return nil
	case "false", "null":
		*k = 0
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil || secs < 0 || secs > 86400 {
		return fmt.Errorf("keepalive must be true, false or seconds (0..86400), got %s", b)
	}
	*k = Keepalive(time.Duration(secs * float64(time.Second)))
	return nil
}

// MarshalJSON writes the interval in seconds (false when off).
func (k Keepalive) MarshalJSON() ([]byte, error) {
	if k == 0 {
		return []byte("false"), nil
	}
	return []byte(strconv.FormatFloat(time.Duration(k).Seconds(), 'f', -1, 64)), nil
}

// Endpoint is a parsed pool address.
type Endpoint struct {
	Host string // without brackets for IPv6
	Port int
	TLS  bool
}

// Address returns "host:port" (IPv6 hosts bracketed).
func (e Endpoint) Address() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// ErrBadURL is wrapped by every pool URL parse error.
var ErrBadURL = errors.New("upstream: bad pool url")

// ParseURL parses a pool URL: "host:port", "stratum+tcp://host:port",
// "stratum+ssl://host:port" or "stratum+tls://host:port". A trailing path
// is not allowed.
func ParseURL(raw string) (Endpoint, error) {
	var e Endpoint
	rest := strings.TrimSpace(raw)
	if i := strings.Index(rest, "://"); i >= 0 {
		switch strings.ToLower(rest[:i]) {
		case "stratum+tcp", "tcp", "stratum":
		case "stratum+ssl", "stratum+tls", "ssl", "tls":
			e.TLS = true
		default:
			return e, fmt.Errorf("%w %q: unknown scheme %q", ErrBadURL, raw, rest[:i])
		}
		rest = rest[i+3:]
	}
	rest = strings.TrimSuffix(rest, "/")
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		return e, fmt.Errorf("%w %q: %v", ErrBadURL, raw, err)
	}
	if host == "" || strings.ContainsAny(host, "/ \t@") {
		return e, fmt.Errorf("%w %q: bad host", ErrBadURL, raw)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return e, fmt.Errorf("%w %q: bad port", ErrBadURL, raw)
	}
	e.Host, e.Port = host, n
	return e, nil
}

// Endpoint parses the pool's URL and applies its tls flag.
func (p *PoolConfig) Endpoint() (Endpoint, error) {
	e, err := ParseURL(p.URL)
	if err != nil {
		return e, err
	}
	e.TLS = e.TLS || p.TLS || p.TLSFingerprint != ""
	return e, nil
}

// Fingerprint returns the decoded SHA-256 pin, or nil when none is set.
func (p *PoolConfig) Fingerprint() ([]byte, error) {
	if p.TLSFingerprint == "" {
		return nil, nil
	}
	s := strings.ToLower(strings.ReplaceAll(p.TLSFingerprint, ":", ""))
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("tls-fingerprint must be 64 hex characters (SHA-256), got %q", p.TLSFingerprint)
	}
	return b, nil
}

// Validate checks one pool entry; the error names the offending key.
func (p *PoolConfig) Validate() error {
	if p.URL == "" {
		return errors.New("url is empty")
	}
	if p.Name != "" && !validName(p.Name) {
		return fmt.Errorf("name: %q must be 1 to %d printable characters without space, quote or backslash", p.Name, maxNameLen)
	}
	if _, err := p.Endpoint(); err != nil {
		return fmt.Errorf("url: %w", err)
	}
	switch p.Family {
	case "", CryptoNote, SV1:
	default:
		return fmt.Errorf("family must be %q or %q, got %q", CryptoNote, SV1, p.Family)
	}
	if _, err := p.Fingerprint(); err != nil {
		return err
	}
	if len(p.User) > 512 || len(p.Pass) > 512 || len(p.RigID) > 64 || len(p.Algo) > 32 {
		return errors.New("user, pass, rig-id or algo too long")
	}
	if len(p.RedirectHosts) > maxRedirectHosts {
		return fmt.Errorf("redirect-hosts: at most %d entries, got %d", maxRedirectHosts, len(p.RedirectHosts))
	}
	for i, h := range p.RedirectHosts {
		if !validRedirectHost(h) {
			return fmt.Errorf("redirect-hosts[%d]: %q is not a host name, an IP address, \"*.\" and a domain, or \"*\"", i, h)
		}
	}
	return nil
}
