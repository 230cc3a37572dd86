package reactor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"forge.lthn.ai/core/go-proxy/registry"
	"forge.lthn.ai/core/go-proxy/upstream"
	"forge.lthn.ai/core/go-proxy/vardiff"
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
	// Routes split miners over pools by rules and hashrate weights (see
	// RouteConfig). Without routes every miner of a family uses all the
	// enabled pools of its family, in order; so do the miners no route
	// takes.
	Routes []RouteConfig `json:"routes,omitempty"`
	// Rebalance is how often, in seconds, a route moves miners between its
	// targets to keep their weights (default 60; a route may set its own).
	Rebalance int `json:"rebalance,omitempty"`
	// TLS is the miner-facing certificate for binds with "tls": true.
	TLS TLSConfig `json:"tls"`
	// HTTP configures the monitoring and management API.
	HTTP HTTPConfig `json:"http"`
	// AccessPassword, when set, must match a miner's login password.
	AccessPassword string `json:"access-password,omitempty"`
	// CustomDiff is a difficulty handed to miners instead of the pool's
	// when lower (0 = off; 100 or more). A "+N" login suffix overrides it.
	CustomDiff uint64 `json:"custom-diff,omitempty"`
	// Vardiff gives each miner a difficulty of its own, so that its shares
	// arrive every target-seconds (see vardiff.Config and vardiff.go);
	// bind[].vardiff overrides it for the miners of one port.
	Vardiff vardiff.Config `json:"vardiff"`
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
	// PoolStableSeconds is how long a pool session must be healthy
	// (logged in, sending work, answering in time) to count as a success
	// that clears its pool's failures (default 60). Failures before that —
	// a drop, a stall, a protocol error, a refused login — count toward
	// retries.
	PoolStableSeconds int `json:"pool-stable-seconds,omitempty"`
	// PoolProbeSeconds is how often, while a backup pool is in use, the
	// pools before it are probed with a connection of their own; one that
	// stays healthy for pool-stable-seconds gets the miners back (default
	// 60; 0 = never: stay on the backup until it fails).
	PoolProbeSeconds *int `json:"pool-probe-seconds,omitempty"`
	// Watch reloads the config file when it changes.
	Watch bool `json:"watch,omitempty"`
	// RateLimit limits new connections per IP.
	RateLimit RateLimit `json:"rate-limit"`
	// SubmitRateLimit limits the shares each miner may send.
	SubmitRateLimit SubmitRateLimit `json:"submit-rate-limit"`
	// ProxyProtocolFrom lists the networks (CIDRs, or single addresses)
	// whose connections may send a PROXY protocol header on a bind with
	// "proxy-protocol": the balancers. A connection from anywhere else on
	// such a bind is closed at accept, so a forged header cannot choose the
	// address the per-IP limits see. Default (empty): loopback and the
	// private ranges (DefaultProxyProtocolFrom).
	ProxyProtocolFrom []string `json:"proxy-protocol-from,omitempty"`
	// MaxUpstreams caps pool connections process-wide; once reached,
	// logins that need a new one get "Proxy is full". 0 (default) is
	// automatic, derived from the connection cap and the modes (see
	// autoUpstreams); -1 is no cap but the descriptor budget.
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
	// GCPercent is the Go garbage collector's target for the whole process
	// (gcpercent.go): the heap may grow by this percentage of the live heap
	// before the next collection. Default 10 (Go's own default is 100); -1
	// leaves the runtime's setting alone. A GOGC environment variable
	// always wins.
	GCPercent int `json:"gc-percent,omitempty"`
	// UserAgent is sent to pools (default "go-proxy/<version>").
	UserAgent string `json:"user-agent,omitempty"`
	// SV1PrefixBytes overrides the extranonce prefix width k (1..4).
	SV1PrefixBytes int `json:"sv1-prefix-bytes,omitempty"`
	// Registry is the SV1 passthrough account store.
	Registry RegistryConfig `json:"registry"`
	// LogLevel is "debug", "info" (default), "warn" or "error".
	LogLevel string `json:"log-level,omitempty"`
	// LogFile also writes the process log to this file, appending
	// (reopened on SIGHUP, like the access and share logs).
	LogFile string `json:"log-file,omitempty"`
	// Syslog also sends the process log to the local syslog daemon
	// (/dev/log).
	Syslog bool `json:"syslog,omitempty"`
	// Verbose, xmrig-proxy's switch (true or a level), logs at debug level
	// when log-level is not given.
	Verbose Verbosity `json:"verbose,omitempty"`
	// PrintTime logs a status line (hashrate, miners, shares) every this
	// many seconds; 0 = never, at most 3600.
	PrintTime int `json:"print-time,omitempty"`
	// API names this proxy in /1/summary (xmrig-proxy's "api" section).
	API APIConfig `json:"api"`
}

// APIConfig is how /1/summary identifies the proxy.
type APIConfig struct {
	// ID is the summary's "id" (default: derived from the host name and
	// the first bind, stable across restarts).
	ID string `json:"id,omitempty"`
	// WorkerID is the summary's "worker_id" (default: the host name);
	// ${VAR} and $VAR are expanded from the environment.
	WorkerID string `json:"worker-id,omitempty"`
}

// Verbosity is xmrig-proxy's "verbose": true, false or a level (0 = off).
type Verbosity int

// UnmarshalJSON accepts true (1), false (0) or a level 0..10.
func (v *Verbosity) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*v = 1
		return nil
	case "false", "null":
		*v = 0
		return nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 || n > 10 {
		return fmt.Errorf("verbose: must be true, false or a level 0..10, got %s", b)
	}
	*v = Verbosity(n)
	return nil
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
	// Vardiff overrides keys of the top-level vardiff section for the
	// miners of this port (absent keys inherit it).
	Vardiff *vardiff.Override `json:"vardiff,omitempty"`
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
	// Gen is the host name of the generated self-signed certificate
	// (default "go-proxy"), as xmrig-proxy's --tls-gen.
	Gen string `json:"gen,omitempty"`
}

// UnmarshalJSON accepts the section as an object or, as xmrig-proxy does,
// as true/false (enabled, certificate generated) or a string (the host
// name to generate a certificate for).
func (t *TLSConfig) UnmarshalJSON(b []byte) error {
	switch s := string(b); {
	case s == "null":
		return nil
	case s == "true" || s == "false":
		on := s == "true"
		*t = TLSConfig{Enabled: &on}
		return nil
	case strings.HasPrefix(s, `"`):
		var name string
		if err := json.Unmarshal(b, &name); err != nil {
			return err
		}
		on := true
		*t = TLSConfig{Enabled: &on, Gen: name}
		return nil
	}
	type plain TLSConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode((*plain)(t)); err != nil {
		return fmt.Errorf("tls: must be an object, true/false or a host name: %w", err)
	}
	return nil
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
	// RegisterToken, when set, is a second bearer token that is valid for
	// POST /api/v1/users (registering an SV1 passthrough account) and for
	// nothing else, so users who register never hold AccessToken. It is a
	// secret: masked in Redacted, never logged.
	RegisterToken string `json:"register-token,omitempty"`
	// OpenRegistration lets POST /api/v1/users through without any token
	// (still limited per IP by RegisterPerMinute); nothing else opens.
	OpenRegistration bool `json:"open-registration,omitempty"`
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

// SubmitRateLimit is the per-miner share limit: a bucket of Burst shares
// (default 100) refilled with PerSecond shares (default 50) every second.
// A submit beyond it is answered with an error and not handled; a miner
// refused CloseAfter times (default 1000) within a minute is disconnected.
type SubmitRateLimit struct {
	PerSecond  int `json:"shares-per-second,omitempty"`
	Burst      int `json:"burst,omitempty"`
	CloseAfter int `json:"close-after,omitempty"`
}

func (l *SubmitRateLimit) validate() error {
	for _, k := range [...]struct {
		name string
		v    int
	}{{"shares-per-second", l.PerSecond}, {"burst", l.Burst}, {"close-after", l.CloseAfter}} {
		if k.v < 0 {
			return fmt.Errorf("submit-rate-limit.%s: must not be negative, got %d", k.name, k.v)
		}
	}
	return nil
}

// RegistryConfig locates the SV1 passthrough account store: an embedded
// SQLite file (Path, the default) or a PostgreSQL database shared by
// several instances (URL). Path and URL are mutually exclusive.
type RegistryConfig struct {
	Path string `json:"path,omitempty"` // default "go-proxy.db" when passthrough is used and URL is empty
	// URL selects PostgreSQL: "postgres://user:password@host:5432/db?sslmode=disable"
	// (or postgresql://). It holds a password: Redacted masks it.
	URL string `json:"url,omitempty"`
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
	defaultPoolStable    = 60
	defaultPoolProbe     = 60
	// Share rate limit per miner.
	defaultSharesPerSecond = 50
	defaultShareBurst      = 100
	defaultFloodCloseAfter = 1000

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
		if h := c.Bind[i].Host; len(h) > 2 && h[0] == '[' && h[len(h)-1] == ']' {
			c.Bind[i].Host = h[1 : len(h)-1] // "[::]", as xmrig-proxy allows
		}
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
	setDefault(&c.GCPercent, defaultGCPercent)
	setDefault(&c.WorkersMax, defaultWorkersMax)
	setDefault(&c.Retries, defaultRetries)
	setDefault(&c.Rebalance, defaultRebalance)
	setDefault(&c.RetryPause, defaultRetryPause)
	setDefault(&c.PoolStableSeconds, defaultPoolStable)
	if c.PoolProbeSeconds == nil {
		n := defaultPoolProbe
		c.PoolProbeSeconds = &n
	}
	setDefault(&c.LoginTimeout, defaultLoginTimeout)
	setDefault(&c.IdleTimeout, defaultIdleTimeout)
	setDefault(&c.SubmitTimeout, defaultSubmitTimeout)
	setDefault(&c.PoolTimeout, defaultPoolTimeout)
	setDefault(&c.ConnectTimeout, defaultPoolTimeout)
	setDefault(&c.MaxOutbound, defaultMaxOutbound)
	setDefault(&c.SubmitRateLimit.PerSecond, defaultSharesPerSecond)
	setDefault(&c.SubmitRateLimit.Burst, defaultShareBurst)
	setDefault(&c.SubmitRateLimit.CloseAfter, defaultFloodCloseAfter)
	c.Vardiff.Normalize()
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
	if c.Registry.Path == "" && c.Registry.URL == "" {
		c.Registry.Path = "go-proxy.db"
	}
	if c.LogLevel == "" && c.Verbose > 0 {
		c.LogLevel = "debug"
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	c.PrintTime = min(c.PrintTime, 3600)
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
	case "extra_nonce":
		return errors.New(`mode: "extra_nonce" (solo mining on a daemon's block templates) is not supported by go-proxy; use "nicehash" or "simple" with a pool`)
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
	if err := c.validateRoutes(); err != nil {
		return err
	}
	if c.CustomDiff != 0 && c.CustomDiff < 100 {
		return fmt.Errorf("custom-diff: must be 0 or at least 100, got %d", c.CustomDiff)
	}
	for name, v := range map[string]int{
		"retries": c.Retries, "retry-pause": c.RetryPause, "reuse-timeout": c.ReuseTimeout,
		"pool-stable-seconds": c.PoolStableSeconds, "pool-probe-seconds": c.probeSeconds(),
		"max-connections": c.MaxConnections, "event-loops": c.EventLoops,
		"login-timeout": c.LoginTimeout, "idle-timeout": c.IdleTimeout, "submit-timeout": c.SubmitTimeout,
		"pool-timeout": c.PoolTimeout, "connect-timeout": c.ConnectTimeout, "max-outbound": c.MaxOutbound,
		"workers-expire": c.WorkersExpire, "workers-max": c.WorkersMax,
		"rate-limit.max-connections-per-minute": c.RateLimit.MaxConnectionsPerMinute,
		"rate-limit.ban-duration":               c.RateLimit.BanDuration,
		"http.port":                             c.HTTP.Port, "registry.expire-days": c.Registry.Expire,
		"registry.keep": c.Registry.Keep, "http.register-per-minute": c.HTTP.RegisterPerMinute,
		"http.metrics-workers-max": c.HTTP.MetricsWorkersMax, "print-time": c.PrintTime,
		"http.max-connections":     c.HTTP.MaxConnections,
		"http.read-header-timeout": c.HTTP.ReadHeaderTimeout, "http.idle-timeout": c.HTTP.IdleTimeout,
	} {
		if v < 0 {
			return fmt.Errorf("%s: must not be negative, got %d", name, v)
		}
	}
	if c.MaxUpstreams < UnlimitedUpstreams {
		return fmt.Errorf("max-upstreams: must be -1 (unlimited), 0 (automatic) or a cap, got %d", c.MaxUpstreams)
	}
	if err := c.SubmitRateLimit.validate(); err != nil {
		return err
	}
	if err := c.validateVardiff(); err != nil {
		return err
	}
	if c.GCPercent < -1 || c.GCPercent > 1000 {
		return fmt.Errorf("gc-percent: must be -1 (the runtime's setting) or 1..1000, got %d", c.GCPercent)
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
	if c.Registry.URL != "" {
		if c.Registry.Path != "" {
			return errors.New("registry: path and url are mutually exclusive (path = embedded SQLite, url = PostgreSQL)")
		}
		if err := registry.ValidatePostgresURL(c.Registry.URL); err != nil {
			var fe *registry.FieldError
			if errors.As(err, &fe) {
				return fmt.Errorf("registry.url: %s", fe.Reason)
			}
			return errors.New("registry.url: invalid")
		}
	}
	if c.HTTP.RegisterToken != "" && c.HTTP.RegisterToken == c.HTTP.AccessToken {
		// Handing it to registering users would hand them the admin token.
		return errors.New("http.register-token: must differ from http.access-token")
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

// ParseConfig decodes a configuration (see ParseConfigFile) that did not
// come from a file, e.g. a PUT /1/config body.
func ParseConfig(data []byte) (cfg *Config, ignored []string, err error) {
	return ParseConfigFile("", data, nil)
}

// MaxConfigBytes is the largest configuration go-proxy reads (4 MiB, some
// thousand times a large real one): a bigger file (a log written to the
// wrong path, /dev/zero) is refused before it is read whole, and the
// running configuration stays.
const MaxConfigBytes = 4 << 20

// LoadConfig reads and parses a configuration file (see ParseConfigFile); a
// file over MaxConfigBytes is refused.
func LoadConfig(path string) (*Config, []string, error) {
	data, err := readConfigFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	return ParseConfigFile(path, data, nil)
}

// ParseConfigFile decodes a configuration: JSON with xmrig-proxy's
// relaxations (// and /* */ comments, trailing commas; null means "not
// set"), every key checked against Config, defaults filled, Validate run.
// name is the file's path for error messages ("" for none). overrides,
// when not nil, is a JSON object applied on top of data (command-line
// options; see mergeOverrides); data may be nil when there is no file.
//
// Errors are *ConfigError naming the key's full path ("pools[0].url") and
// its line and column; unknown keys get the nearest known one as a
// suggestion. Keys xmrig-proxy 6.26 reads that go-proxy does not use are
// accepted and returned in ignored, as paths ("pools[0].coin").
func ParseConfigFile(name string, data, overrides []byte) (cfg *Config, ignored []string, err error) {
	if len(data) > MaxConfigBytes || len(overrides) > MaxConfigBytes {
		return nil, nil, fmt.Errorf("config: larger than %d bytes (4 MiB)", MaxConfigBytes)
	}
	doc := &jsonNode{kind: nodeObject, pos: -1}
	if data != nil {
		if doc, err = parseJSONC(data); err != nil {
			err.(*ConfigError).File = name
			return nil, nil, err
		}
	}
	if overrides != nil {
		over, err := parseJSONC(overrides)
		if err != nil {
			return nil, nil, fmt.Errorf("command line: %w", err)
		}
		over.markCommandLine()
		if doc.kind == nodeObject {
			if err := mergeOverrides(doc, over); err != nil {
				return nil, nil, err
			}
		}
	}
	ck := &configChecker{src: data, file: name}
	if err := ck.check("", doc, reflect.TypeFor[Config]()); err != nil {
		return nil, ck.ignored, err
	}
	if doc.kind != nodeObject { // null
		return nil, nil, &ConfigError{File: name, Msg: "the configuration must be a JSON object, got null"}
	}
	dec := json.NewDecoder(bytes.NewReader(doc.appendJSON(nil)))
	dec.DisallowUnknownFields()
	cfg = new(Config)
	if err := dec.Decode(cfg); err != nil {
		return nil, ck.ignored, &ConfigError{File: name, Msg: err.Error()}
	}
	ignored = ck.ignored
	if old := obsoleteTLSVersions(cfg.TLS.Protocols); len(old) > 0 {
		ignored = append(ignored, "tls.protocols "+strings.Join(old, ", ")+" (Go offers TLSv1.2 and TLSv1.3 only)")
	}
	cfg.Normalize()
	if err := cfg.Validate(); err != nil {
		return nil, ignored, ck.explain(doc, err)
	}
	return cfg, ignored, nil
}

// explain turns a Validate error into a ConfigError pointing at the value
// it is about, when the document has it.
func (c *configChecker) explain(doc *jsonNode, err error) error {
	msg := err.Error()
	path := pathOf(msg)
	n := locate(doc, path)
	if path == "" || n == nil {
		return &ConfigError{File: c.file, Msg: msg}
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(msg, path), ":")
	return c.errAt(n, n.pos, path, strings.TrimSpace(rest))
}

// readConfigFile reads path, never more than MaxConfigBytes+1 bytes.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxConfigBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes (4 MiB); not read", path, MaxConfigBytes)
	}
	return data, nil
}

// Clone returns a deep copy, safe to modify.
func (c *Config) Clone() *Config {
	b, _ := json.Marshal(c)
	out := new(Config)
	_ = json.Unmarshal(b, out)
	return out
}

// Redacted returns a copy with secrets (pool passwords, access password,
// API token, registration token, the password in registry.url) replaced
// by "********", for display.
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
	if out.Registry.URL != "" {
		out.Registry.URL = registry.RedactURL(out.Registry.URL)
	}
	if out.HTTP.RegisterToken != "" {
		out.HTTP.RegisterToken = mask
	}
	return out
}

func (c *Config) loginTimeout() time.Duration  { return secs(c.LoginTimeout) }
func (c *Config) idleTimeout() time.Duration   { return secs(c.IdleTimeout) }
func (c *Config) submitTimeout() time.Duration { return secs(c.SubmitTimeout) }
func (c *Config) poolTimeout() time.Duration   { return secs(c.PoolTimeout) }
func secs(n int) time.Duration                 { return time.Duration(n) * time.Second }

// probeSeconds is pool-probe-seconds (the default before Normalize).
func (c *Config) probeSeconds() int {
	if c.PoolProbeSeconds == nil {
		return defaultPoolProbe
	}
	return *c.PoolProbeSeconds
}

// failoverPolicy is how every pool session treats its pool list.
func (c *Config) failoverPolicy() upstream.FailoverPolicy {
	return upstream.FailoverPolicy{
		Retries: c.Retries, Pause: secs(c.RetryPause),
		Stable: secs(c.PoolStableSeconds), ProbeEvery: secs(c.probeSeconds()),
	}
}
