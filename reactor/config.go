package reactor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"forge.lthn.ai/core/go-proxy/upstream"
)

// Config is the whole go-proxy configuration: the RFC's config.json plus
// the keys go-proxy adds. Zero values mean the documented default; call
// Normalize (New does) before reading defaults from it.
type Config struct {
	// Mode is the CryptoNote splitting mode: "nicehash" (default, 256
	// miners per pool connection) or "simple" (one pool connection each).
	Mode string `json:"mode,omitempty"`
	// SV1Mode is the Bitcoin-family mode: "aggregate" (default) or
	// "passthrough" (registered accounts, one pool connection each).
	SV1Mode string `json:"sv1-mode,omitempty"`
	// Bind lists the listen endpoints. Default: 0.0.0.0:3333.
	Bind []BindConfig `json:"bind,omitempty"`
	// Pools is the ordered pool list (primary first) of every family.
	Pools []upstream.PoolConfig `json:"pools"`
	// TLS is the miner-facing certificate for binds with "tls": true.
	TLS TLSConfig `json:"tls"`
	// HTTP configures the monitoring and management API.
	HTTP HTTPConfig `json:"http"`
	// AccessPassword, when set, must match a miner's login password.
	AccessPassword string `json:"access-password,omitempty"`
	// CustomDiff is a difficulty handed to miners instead of the pool's
	// when lower (0 = off; 100 or more). A "+N" login suffix overrides it.
	CustomDiff uint64 `json:"custom-diff,omitempty"`
	// CustomDiffStats counts shares accepted locally at the custom
	// difficulty in the accepted/hashes statistics (xmrig-proxy's option).
	CustomDiffStats bool `json:"custom-diff-stats,omitempty"`
	// AlgoExt forwards the job's "algo" to miners that sent an algo list
	// and advertises the algo extension. Default true.
	AlgoExt *bool `json:"algo-ext,omitempty"`
	// Workers picks the login field that names a worker: "rig-id"
	// (default), "user", "password", "agent", "ip", or "false"/"none".
	Workers WorkersMode `json:"workers,omitempty"`
	// WorkersExpire evicts workers idle this long, in seconds. Default
	// 86400 (24 h).
	WorkersExpire int `json:"workers-expire,omitempty"`
	// WorkersMax caps the worker table (0 = 100000).
	WorkersMax int `json:"workers-max,omitempty"`
	// AccessLogFile and ShareLogFile are append-only logs ("" = off).
	AccessLogFile string `json:"access-log-file,omitempty"`
	ShareLogFile  string `json:"share-log-file,omitempty"`
	// ReuseTimeout keeps a simple-mode pool connection for reuse this many
	// seconds after its miner leaves (0 = close at once).
	ReuseTimeout int `json:"reuse-timeout,omitempty"`
	// Retries is the number of connect attempts per pool before the next
	// one (default 5); RetryPause the seconds between attempts (default 5).
	Retries    int `json:"retries,omitempty"`
	RetryPause int `json:"retry-pause,omitempty"`
	// Watch reloads the config file when it changes.
	Watch bool `json:"watch,omitempty"`
	// RateLimit limits new connections per IP.
	RateLimit RateLimit `json:"rate-limit"`
	// ProxyProtocolFrom lists the networks (CIDRs, or single addresses)
	// whose connections may send a PROXY protocol header on a bind with
	// "proxy-protocol": the balancers. A connection from anywhere else on
	// such a bind is closed at accept, so a forged header cannot choose the
	// address the per-IP limits see. Default (empty): loopback and the
	// private ranges (DefaultProxyProtocolFrom).
	ProxyProtocolFrom []string `json:"proxy-protocol-from,omitempty"`
	// MaxUpstreams caps pool connections process-wide (0 = unlimited);
	// once reached, logins that need a new one get "Proxy is full".
	MaxUpstreams int `json:"max-upstreams,omitempty"`
	// MaxConnections caps miner connections (0 = the open-files limit
	// minus a reserve for pool connections, logs and the API).
	MaxConnections int `json:"max-connections,omitempty"`
	// EventLoops is the number of gnet event loops (0 = GOMAXPROCS, at
	// most max-upstreams when that is set).
	EventLoops int `json:"event-loops,omitempty"`
	// Timeouts in seconds: login (10), idle (600, also WaitReady),
	// submit answer from the pool (10), pool silence with a request
	// waiting (20, then the pool connection is dropped), pool connect +
	// TLS handshake (20).
	LoginTimeout   int `json:"login-timeout,omitempty"`
	IdleTimeout    int `json:"idle-timeout,omitempty"`
	SubmitTimeout  int `json:"submit-timeout,omitempty"`
	PoolTimeout    int `json:"pool-timeout,omitempty"`
	ConnectTimeout int `json:"connect-timeout,omitempty"`
	// MaxOutbound is the bytes a miner may leave unread before it is
	// disconnected as a slow reader (default 65536).
	MaxOutbound int `json:"max-outbound,omitempty"`
	// SocketSendBuffer sets SO_SNDBUF on miner sockets, bounding the kernel
	// memory a miner that stops reading can hold (0 = kernel autotuning,
	// up to net.ipv4.tcp_wmem's maximum, 4 MiB by default).
	SocketSendBuffer int `json:"socket-send-buffer,omitempty"`
	// UserAgent is sent to pools (default "go-proxy/<version>").
	UserAgent string `json:"user-agent,omitempty"`
	// SV1PrefixBytes overrides the extranonce prefix width k (1..4).
	SV1PrefixBytes int `json:"sv1-prefix-bytes,omitempty"`
	// Registry is the SV1 passthrough account store.
	Registry RegistryConfig `json:"registry"`
	// LogLevel is "debug", "info" (default), "warn" or "error".
	LogLevel string `json:"log-level,omitempty"`
}

// BindConfig is one listen endpoint. In JSON it is an object or, as in
// xmrig-proxy, a "host:port" string.
type BindConfig struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	// TLS serves TLS on this port (certificate from the tls section).
	TLS bool `json:"tls,omitempty"`
	// ProxyProtocol requires a PROXY protocol v1 or v2 header first.
	ProxyProtocol bool `json:"proxy-protocol,omitempty"`
	// Family pins the dialect: "auto" (default), "cryptonote" or "sv1".
	Family string `json:"family,omitempty"`
}

// Address returns host:port.
func (b BindConfig) Address() string { return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)) }

// UnmarshalJSON accepts {"host","port",...} or "host:port".
func (b *BindConfig) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			return fmt.Errorf("bind %q: %v", s, err)
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			return fmt.Errorf("bind %q: bad port", s)
		}
		*b = BindConfig{Host: host, Port: n}
		return nil
	}
	type plain BindConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode((*plain)(b))
}

// TLSConfig is the miner-facing TLS setup.
type TLSConfig struct {
	Enabled *bool `json:"enabled,omitempty"`
	// CertFile and KeyFile are PEM files; when both are empty a self-signed
	// certificate is generated at start and its fingerprint logged.
	CertFile string `json:"cert,omitempty"`
	KeyFile  string `json:"cert_key,omitempty"`
	// Protocols lists allowed versions, e.g. "TLSv1.2 TLSv1.3" (default).
	Protocols string `json:"protocols,omitempty"`
	// Ciphers lists TLS 1.2 suites by Go or OpenSSL name, separated by
	// ':' or ' ' (TLS 1.3 suites are not configurable in Go).
	Ciphers string `json:"ciphers,omitempty"`
}

// HTTPConfig configures the HTTP API.
type HTTPConfig struct {
	Enabled bool   `json:"enabled,omitempty"`
	Host    string `json:"host,omitempty"` // default 127.0.0.1
	Port    int    `json:"port,omitempty"`
	// AccessToken requires "Authorization: Bearer <token>" ("" = none).
	AccessToken string `json:"access-token,omitempty"`
	// Restricted refuses every non-GET request. Default true.
	Restricted *bool `json:"restricted,omitempty"`
	// MetricsWorkersMax caps per-worker Prometheus series (0 = 1000).
	MetricsWorkersMax int `json:"metrics-workers-max,omitempty"`
	// RegisterPerMinute rate-limits POST /api/v1/users per IP (0 = 10).
	RegisterPerMinute int `json:"register-per-minute,omitempty"`
	// MaxConnections caps the API's open connections (0 = 64): beyond it
	// new ones are closed at accept. They are part of the process's
	// descriptor budget, so a flood of idle API connections cannot take
	// the descriptors miners need.
	MaxConnections int `json:"max-connections,omitempty"`
	// ReadHeaderTimeout bounds, in seconds, how long a new connection may
	// take to send its request headers (0 = 5); IdleTimeout how long a
	// kept-alive connection may wait for its next request (0 = 5).
	ReadHeaderTimeout int `json:"read-header-timeout,omitempty"`
	IdleTimeout       int `json:"idle-timeout,omitempty"`
}

// RateLimit is the per-IP connection limit: a token bucket of
// MaxConnectionsPerMinute tokens refilled evenly over a minute; an IP that
// empties it is banned for BanDuration seconds.
type RateLimit struct {
	MaxConnectionsPerMinute int `json:"max-connections-per-minute,omitempty"`
	BanDuration             int `json:"ban-duration,omitempty"`
}

// RegistryConfig locates the SV1 passthrough account store.
type RegistryConfig struct {
	Path string `json:"path,omitempty"` // default "go-proxy.db" when passthrough is used
	// Expire deletes accounts unused for this many days (0 = 90).
	Expire int `json:"expire-days,omitempty"`
	// Keep holds a passthrough pool connection this many seconds after its
	// miner leaves, for a reconnect with the same session (0 = 60).
	Keep int `json:"keep,omitempty"`
}

// WorkersMode is how miners are grouped into workers.
type WorkersMode string

// Workers modes.
const (
	WorkersByRigID    WorkersMode = "rig-id"
	WorkersByUser     WorkersMode = "user"
	WorkersByPassword WorkersMode = "password"
	WorkersByAgent    WorkersMode = "agent"
	WorkersByIP       WorkersMode = "ip"
	WorkersDisabled   WorkersMode = "false"
)

// UnmarshalJSON accepts the RFC names, xmrig's ("rig_id", "none"), and
// JSON true (rig-id) / false (disabled).
func (w *WorkersMode) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*w = WorkersByRigID
		return nil
	case "false", "null":
		*w = WorkersDisabled
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("workers must be a string or a boolean")
	}
	switch strings.ToLower(s) {
	case "rig-id", "rig_id", "rigid", "":
		*w = WorkersByRigID
	case "user":
		*w = WorkersByUser
	case "password", "pass":
		*w = WorkersByPassword
	case "agent":
		*w = WorkersByAgent
	case "ip":
		*w = WorkersByIP
	case "false", "none", "off":
		*w = WorkersDisabled
	default:
		return fmt.Errorf("workers: unknown mode %q", s)
	}
	return nil
}

// Defaults.
const (
	DefaultPort          = 3333
	defaultRetries       = 5
	defaultRetryPause    = 5
	defaultLoginTimeout  = 10
	defaultIdleTimeout   = 600
	defaultSubmitTimeout = 10
	defaultPoolTimeout   = 20
	defaultMaxOutbound   = 64 << 10
	defaultWorkersExpire = 86400
	defaultWorkersMax    = 100000

	defaultHTTPMaxConnections = 64
	defaultHTTPTimeout        = 5
)

// Normalize fills in defaults. It is idempotent.
func (c *Config) Normalize() {
	if c.Mode == "" {
		c.Mode = "nicehash"
	}
	if c.SV1Mode == "" {
		c.SV1Mode = "aggregate"
	}
	if len(c.Bind) == 0 {
		c.Bind = []BindConfig{{Host: "0.0.0.0", Port: DefaultPort}}
	}
	for i := range c.Bind {
		if c.Bind[i].Host == "" {
			c.Bind[i].Host = "0.0.0.0"
		}
		if c.Bind[i].Family == "" {
			c.Bind[i].Family = "auto"
		}
	}
	if c.AlgoExt == nil {
		t := true
		c.AlgoExt = &t
	}
	if c.Workers == "" {
		c.Workers = WorkersByRigID
	}
	setDefault(&c.WorkersExpire, defaultWorkersExpire)
	setDefault(&c.WorkersMax, defaultWorkersMax)
	setDefault(&c.Retries, defaultRetries)
	setDefault(&c.RetryPause, defaultRetryPause)
	setDefault(&c.LoginTimeout, defaultLoginTimeout)
	setDefault(&c.IdleTimeout, defaultIdleTimeout)
	setDefault(&c.SubmitTimeout, defaultSubmitTimeout)
	setDefault(&c.PoolTimeout, defaultPoolTimeout)
	setDefault(&c.ConnectTimeout, defaultPoolTimeout)
	setDefault(&c.MaxOutbound, defaultMaxOutbound)
	if c.UserAgent == "" {
		c.UserAgent = "go-proxy/" + Version
	}
	if c.HTTP.Host == "" {
		c.HTTP.Host = "127.0.0.1"
	}
	if c.HTTP.Restricted == nil {
		t := true
		c.HTTP.Restricted = &t
	}
	setDefault(&c.HTTP.MetricsWorkersMax, 1000)
	setDefault(&c.HTTP.RegisterPerMinute, 10)
	setDefault(&c.HTTP.MaxConnections, defaultHTTPMaxConnections)
	setDefault(&c.HTTP.ReadHeaderTimeout, defaultHTTPTimeout)
	setDefault(&c.HTTP.IdleTimeout, defaultHTTPTimeout)
	setDefault(&c.Registry.Expire, 90)
	setDefault(&c.Registry.Keep, 60)
	if c.Registry.Path == "" {
		c.Registry.Path = "go-proxy.db"
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if len(c.ProxyProtocolFrom) == 0 {
		c.ProxyProtocolFrom = append([]string(nil), DefaultProxyProtocolFrom...)
	}
}

// DefaultProxyProtocolFrom is where PROXY protocol headers are accepted
// from unless proxy-protocol-from says otherwise: loopback and the private
// ranges (RFC 1918, IPv6 unique local), where balancers usually sit.
var DefaultProxyProtocolFrom = []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}

// proxyPrefixes parses proxy-protocol-from: CIDRs or single addresses.
func proxyPrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			ip, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("proxy-protocol-from[%d]: %q is not a CIDR or an IP address", i, s)
			}
			pf = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
		}
		out = append(out, pf.Masked())
	}
	return out, nil
}

func setDefault(v *int, d int) {
	if *v == 0 {
		*v = d
	}
}

// Validate checks the configuration; the error names the offending key.
func (c *Config) Validate() error {
	switch c.Mode {
	case "nicehash", "simple":
	default:
		return fmt.Errorf("mode: must be \"nicehash\" or \"simple\", got %q", c.Mode)
	}
	switch c.SV1Mode {
	case "aggregate", "passthrough":
	default:
		return fmt.Errorf("sv1-mode: must be \"aggregate\" or \"passthrough\", got %q", c.SV1Mode)
	}
	seen := map[string]bool{}
	for i, b := range c.Bind {
		if b.Port < 1 || b.Port > 65535 {
			return fmt.Errorf("bind[%d].port: must be 1..65535, got %d", i, b.Port)
		}
		if net.ParseIP(b.Host) == nil && b.Host != "localhost" {
			return fmt.Errorf("bind[%d].host: %q is not an IP address", i, b.Host)
		}
		switch b.Family {
		case "auto", "cryptonote", "sv1":
		default:
			return fmt.Errorf("bind[%d].family: must be auto, cryptonote or sv1, got %q", i, b.Family)
		}
		if seen[b.Address()] {
			return fmt.Errorf("bind[%d]: %s listed twice", i, b.Address())
		}
		seen[b.Address()] = true
	}
	if len(c.Pools) == 0 && !(c.SV1Mode == "passthrough") {
		return errors.New("pools: at least one pool is required")
	}
	enabled := 0
	for i := range c.Pools {
		if err := c.Pools[i].Validate(); err != nil {
			return fmt.Errorf("pools[%d].%w", i, err)
		}
		if c.Pools[i].IsEnabled() {
			enabled++
		}
	}
	if enabled == 0 && len(c.Pools) > 0 {
		return errors.New("pools: no pool is enabled")
	}
	if c.CustomDiff != 0 && c.CustomDiff < 100 {
		return fmt.Errorf("custom-diff: must be 0 or at least 100, got %d", c.CustomDiff)
	}
	for name, v := range map[string]int{
		"retries": c.Retries, "retry-pause": c.RetryPause, "reuse-timeout": c.ReuseTimeout,
		"max-upstreams": c.MaxUpstreams, "max-connections": c.MaxConnections, "event-loops": c.EventLoops,
		"login-timeout": c.LoginTimeout, "idle-timeout": c.IdleTimeout, "submit-timeout": c.SubmitTimeout,
		"pool-timeout": c.PoolTimeout, "connect-timeout": c.ConnectTimeout, "max-outbound": c.MaxOutbound,
		"workers-expire": c.WorkersExpire, "workers-max": c.WorkersMax,
		"rate-limit.max-connections-per-minute": c.RateLimit.MaxConnectionsPerMinute,
		"rate-limit.ban-duration":               c.RateLimit.BanDuration,
		"http.port":                             c.HTTP.Port, "registry.expire-days": c.Registry.Expire,
		"registry.keep": c.Registry.Keep, "http.register-per-minute": c.HTTP.RegisterPerMinute,
		"http.metrics-workers-max": c.HTTP.MetricsWorkersMax, "http.max-connections": c.HTTP.MaxConnections,
		"http.read-header-timeout": c.HTTP.ReadHeaderTimeout, "http.idle-timeout": c.HTTP.IdleTimeout,
	} {
		if v < 0 {
			return fmt.Errorf("%s: must not be negative, got %d", name, v)
		}
	}
	if c.SocketSendBuffer != 0 && c.SocketSendBuffer < 4096 {
		return fmt.Errorf("socket-send-buffer: must be 0 (kernel default) or at least 4096, got %d", c.SocketSendBuffer)
	}
	if c.MaxOutbound < 4096 {
		return fmt.Errorf("max-outbound: must be at least 4096, got %d", c.MaxOutbound)
	}
	if c.SV1PrefixBytes < 0 || c.SV1PrefixBytes > 4 {
		return fmt.Errorf("sv1-prefix-bytes: must be 0 (automatic) or 1..4, got %d", c.SV1PrefixBytes)
	}
	if c.HTTP.Enabled && (c.HTTP.Port < 1 || c.HTTP.Port > 65535) {
		return fmt.Errorf("http.port: must be 1..65535 when http.enabled, got %d", c.HTTP.Port)
	}
	if c.Workers == WorkersByPassword && c.AccessPassword != "" {
		// Every miner's password is the access password: the worker table,
		// the API and the metrics would publish it as a worker name.
		return errors.New("workers: \"password\" cannot be used with access-password (the password would be published as the worker name)")
	}
	if c.SV1Mode == "passthrough" && c.HTTP.Enabled && c.HTTP.AccessToken == "" {
		// Account names are credentials: /1/workers, /1/miners and /metrics
		// show them, so they may only be served behind a token.
		return errors.New("http.access-token: required with sv1-mode passthrough (the API shows account names, which are mining credentials)")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("tls: cert and cert_key must be given together")
	}
	if _, _, err := tlsVersions(c.TLS.Protocols); err != nil {
		return fmt.Errorf("tls.protocols: %w", err)
	}
	if _, err := cipherSuites(c.TLS.Ciphers); err != nil {
		return fmt.Errorf("tls.ciphers: %w", err)
	}
	if _, err := proxyPrefixes(c.ProxyProtocolFrom); err != nil {
		return err
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log-level: must be debug, info, warn or error, got %q", c.LogLevel)
	}
	return nil
}

// ignoredKeys are xmrig-proxy settings go-proxy accepts and ignores, so an
// xmrig-proxy config.json loads with a warning instead of an error.
var ignoredKeys = map[string]bool{
	"api": true, "background": true, "colors": true, "title": true, "autosave": true,
	"dry-run": true, "log-file": true, "syslog": true, "verbose": true, "print-time": true,
	"donate-level": true, "donate-over-proxy": true, "dns": true, "debug": true,
	"login-file": true, "user-agent-suffix": true,
}

// ParseConfig decodes a JSON configuration, rejects unknown keys (naming
// them), fills defaults and validates. Known xmrig-proxy keys that
// go-proxy does not use are returned in ignored.
func ParseConfig(data []byte) (cfg *Config, ignored []string, err error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	for k := range top {
		if ignoredKeys[k] {
			ignored = append(ignored, k)
			delete(top, k)
		}
	}
	sort.Strings(ignored)
	clean, _ := json.Marshal(top)
	dec := json.NewDecoder(bytes.NewReader(clean))
	dec.DisallowUnknownFields()
	cfg = new(Config)
	if err := dec.Decode(cfg); err != nil {
		return nil, ignored, fmt.Errorf("config: %w", err)
	}
	cfg.Normalize()
	if err := cfg.Validate(); err != nil {
		return nil, ignored, fmt.Errorf("config: %w", err)
	}
	return cfg, ignored, nil
}

// LoadConfig reads and parses a configuration file (see ParseConfig).
func LoadConfig(path string) (*Config, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(data)
}

// Clone returns a deep copy, safe to modify.
func (c *Config) Clone() *Config {
	b, _ := json.Marshal(c)
	out := new(Config)
	_ = json.Unmarshal(b, out)
	return out
}

// Redacted returns a copy with secrets (pool passwords, access password,
// API token) replaced by "********", for display.
func (c *Config) Redacted() *Config {
	out := c.Clone()
	const mask = "********"
	for i := range out.Pools {
		if out.Pools[i].Pass != "" {
			out.Pools[i].Pass = mask
		}
	}
	if out.AccessPassword != "" {
		out.AccessPassword = mask
	}
	if out.HTTP.AccessToken != "" {
		out.HTTP.AccessToken = mask
	}
	return out
}

func (c *Config) loginTimeout() time.Duration  { return secs(c.LoginTimeout) }
func (c *Config) idleTimeout() time.Duration   { return secs(c.IdleTimeout) }
func (c *Config) submitTimeout() time.Duration { return secs(c.SubmitTimeout) }
func (c *Config) poolTimeout() time.Duration   { return secs(c.PoolTimeout) }
func secs(n int) time.Duration                 { return time.Duration(n) * time.Second }
