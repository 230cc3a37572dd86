package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"

	"forge.lthn.ai/core/go-proxy/reactor"
)

// This file reads go-proxy's command line, which is xmrig-proxy's: the
// same options with the same meaning (its README's commands work as they
// are), plus go-proxy's own -c/--config and --check-config. Options are
// turned into configuration keys, exactly the keys xmrig-proxy would set,
// and applied on top of the -c file (options win); pool options (-u, -p,
// -a, -k, --tls, ...) belong to the -o before them, and several -o make an
// ordered failover list. Parsing is getopt-style: --name=value or --name
// value, -o value or -ovalue, and no-argument short options may be
// grouped (-kS). Go-style single-dash long names (-config, -check-config)
// keep working.

// cmdline is a parsed command line.
type cmdline struct {
	config     string // -c FILE ("" = none given)
	check      bool   // --check-config / --dry-run
	help       bool
	version    bool
	background bool // -B: refused, see run
	// over holds the configuration keys the options set; pools and bind
	// are the command line's own lists (they replace the file's).
	over  map[string]any
	pools []map[string]any
	binds []map[string]any
	// algo and coin are -a/--coin given before any -o: the default of
	// every pool that does not name one (xmrig-proxy's rule).
	algo, coin string
	// notes are options accepted without effect, for the start-up warning.
	notes []string
}

// optSpec is one option.
type optSpec struct {
	long  string
	short byte // 0: none
	arg   bool // takes a value
	set   func(c *cmdline, name, val string) error
}

// cmdOptions is every option, xmrig-proxy 6.26's and go-proxy's.
var cmdOptions = []optSpec{
	// Network (pool options apply to the -o before them).
	{"url", 'o', true, func(c *cmdline, _, v string) error { c.newPool(v); return nil }},
	{"algo", 'a', true, func(c *cmdline, _, v string) error { c.poolDefault(&c.algo, "algo", v); return nil }},
	{"coin", 0, true, func(c *cmdline, _, v string) error { c.poolDefault(&c.coin, "coin", v); return nil }},
	{"user", 'u', true, poolString("user")},
	{"pass", 'p', true, poolString("pass")},
	{"userpass", 'O', true, func(c *cmdline, name, v string) error {
		i := strings.LastIndexByte(v, ':')
		if i < 0 {
			return fmt.Errorf("--%s: want USER:PASS, got %q", name, v)
		}
		c.pool()["user"], c.pool()["pass"] = v[:i], v[i+1:]
		return nil
	}},
	{"proxy", 'x', true, poolString("socks5")},
	{"keepalive", 'k', false, func(c *cmdline, _, _ string) error { c.pool()["keepalive"] = true; return nil }},
	{"rig-id", 0, true, poolString("rig-id")},
	{"tls", 0, false, poolBool("tls")},
	{"tls-fingerprint", 0, true, poolString("tls-fingerprint")},
	{"daemon", 0, false, poolBool("daemon")},
	{"daemon-zmq-port", 0, true, poolInt("daemon-zmq-port")},
	{"daemon-poll-interval", 0, true, poolInt("daemon-poll-interval")},
	{"daemon-job-timeout", 0, true, poolInt("daemon-job-timeout")},
	{"self-select", 0, true, poolString("self-select")},
	{"submit-to-origin", 0, false, poolBool("submit-to-origin")},
	{"spend-secret-key", 0, true, poolString("spend-secret-key")},
	{"pool-coin", 0, true, note},
	{"ipv4", '4', false, func(c *cmdline, _, _ string) error { c.section("dns")["ip_version"] = 4; return nil }},
	{"ipv6", '6', false, func(c *cmdline, _, _ string) error { c.section("dns")["ip_version"] = 6; return nil }},
	{"dns-ipv6", 0, false, func(c *cmdline, _, _ string) error { c.section("dns")["ip_version"] = 6; return nil }},
	{"dns-ttl", 0, true, sectionInt("dns", "ttl")},
	{"retries", 'r', true, topInt("retries")},
	{"retry-pause", 'R', true, topInt("retry-pause")},
	{"user-agent", 0, true, topString("user-agent")},
	{"donate-level", 0, true, topInt("donate-level")},
	{"donate-over-proxy", 0, true, topInt("donate-over-proxy")},
	// Proxy.
	{"bind", 'b', true, bind(false)},
	{"tls-bind", 0, true, bind(true)},
	{"mode", 'm', true, topString("mode")},
	{"custom-diff", 0, true, topInt("custom-diff")},
	{"custom-diff-stats", 0, false, topBool("custom-diff-stats", true)},
	{"reuse-timeout", 0, true, topInt("reuse-timeout")},
	{"no-workers", 0, false, topBool("workers", false)},
	{"workers", 0, true, topString("workers")},
	{"access-password", 0, true, topString("access-password")},
	{"no-algo-ext", 0, false, topBool("algo-ext", false)},
	{"debug", 0, false, topBool("debug", true)},
	{"login-file", 0, true, topString("login-file")},
	// API.
	{"api-worker-id", 0, true, sectionString("api", "worker-id")},
	{"api-id", 0, true, sectionString("api", "id")},
	{"http-enabled", 0, false, func(c *cmdline, _, _ string) error { c.section("http")["enabled"] = true; return nil }},
	{"http-host", 0, true, httpOpt("host", false)},
	{"http-port", 0, true, httpOpt("port", true)},
	{"http-access-token", 0, true, httpOpt("access-token", false)},
	{"http-no-restricted", 0, false, func(c *cmdline, _, _ string) error {
		h := c.section("http")
		h["enabled"], h["restricted"] = true, false
		return nil
	}},
	// TLS (miner-facing).
	{"tls-gen", 0, true, sectionString("tls", "gen")},
	{"tls-cert", 0, true, sectionString("tls", "cert")},
	{"tls-cert-key", 0, true, sectionString("tls", "cert_key")},
	{"tls-dhparam", 0, true, sectionString("tls", "dhparam")},
	{"tls-protocols", 0, true, sectionString("tls", "protocols")},
	{"tls-ciphers", 0, true, sectionString("tls", "ciphers")},
	{"tls-ciphersuites", 0, true, sectionString("tls", "ciphersuites")},
	// Logging.
	{"syslog", 'S', false, topBool("syslog", true)},
	{"log-file", 'l', true, topString("log-file")},
	{"access-log-file", 'A', true, topString("access-log-file")},
	{"no-color", 0, false, topBool("colors", false)},
	{"verbose", 0, false, topBool("verbose", true)},
	{"print-time", 0, true, topInt("print-time")},
	{"title", 0, true, topString("title")},
	{"no-title", 0, false, topBool("title", false)},
	// Misc.
	{"config", 'c', true, func(c *cmdline, _, v string) error { c.config = v; return nil }},
	{"background", 'B', false, func(c *cmdline, _, _ string) error { c.background = true; return nil }},
	{"version", 'V', false, func(c *cmdline, _, _ string) error { c.version = true; return nil }},
	{"help", 'h', false, func(c *cmdline, _, _ string) error { c.help = true; return nil }},
	{"dry-run", 0, false, func(c *cmdline, _, _ string) error { c.check = true; return nil }},
	{"check-config", 0, false, func(c *cmdline, _, _ string) error { c.check = true; return nil }},
	{"data-dir", 0, true, note},
}

// parseCmdline reads the options (the subcommands demo and version are
// handled before). Errors name the option.
func parseCmdline(args []string) (*cmdline, error) {
	c := &cmdline{over: map[string]any{}}
	byLong := map[string]*optSpec{}
	byShort := map[byte]*optSpec{}
	for i := range cmdOptions {
		o := &cmdOptions[i]
		byLong[o.long] = o
		if o.short != 0 {
			byShort[o.short] = o
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return nil, fmt.Errorf("unexpected argument %q", args[i+1])
			}
			return c, c.finish()
		case strings.HasPrefix(a, "--") || (strings.HasPrefix(a, "-") && len(a) > 2 && isLong(byLong, a[1:])):
			name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
			o := byLong[name]
			if o == nil {
				return nil, fmt.Errorf("unknown option %s%s", dashes(name), suggestOption(name))
			}
			if o.arg && !hasVal {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("option --%s needs a value", name)
				}
				i++
				val = args[i]
			} else if !o.arg && hasVal {
				if o.long != "keepalive" {
					return nil, fmt.Errorf("option --%s takes no value", name)
				}
				if err := keepaliveSeconds(c, val); err != nil {
					return nil, err
				}
				continue
			}
			if err := o.set(c, name, val); err != nil {
				return nil, err
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				o := byShort[a[j]]
				if o == nil {
					return nil, fmt.Errorf("unknown option -%c in %q%s", a[j], a, suggestOption(a[1:]))
				}
				if !o.arg {
					if err := o.set(c, o.long, ""); err != nil {
						return nil, err
					}
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("option -%c (--%s) needs a value", a[j], o.long)
					}
					i++
					val = args[i]
				}
				if err := o.set(c, o.long, val); err != nil {
					return nil, err
				}
				break
			}
		default:
			return nil, fmt.Errorf("unexpected argument %q (options start with - or --)", a)
		}
	}
	return c, c.finish()
}

// isLong reports whether a single-dash word is a long option (Go-style
// -config, -check-config), not a group of short ones.
func isLong(byLong map[string]*optSpec, word string) bool {
	name, _, _ := strings.Cut(word, "=")
	return len(name) > 1 && byLong[name] != nil
}

func dashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// suggestOption names the closest option to a misspelt one.
func suggestOption(name string) string {
	best, bestD := "", 3
	for _, o := range cmdOptions {
		if d := editDistance(name, o.long); d < bestD {
			best, bestD = o.long, d
		}
	}
	if best == "" {
		return " (go-proxy -h lists the options)"
	}
	return fmt.Sprintf("; did you mean --%s?", best)
}

// editDistance is the Levenshtein distance between two option names.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// newPool starts a pool entry for -o, or fills the entry pool options
// already started (-u W -o POOL names one pool, as in xmrig-proxy).
func (c *cmdline) newPool(url string) {
	if n := len(c.pools); n == 0 || c.pools[n-1]["url"] != nil {
		c.pools = append(c.pools, map[string]any{})
	}
	c.pools[len(c.pools)-1]["url"] = url
}

// pool returns the entry pool options apply to: the last one.
func (c *cmdline) pool() map[string]any {
	if len(c.pools) == 0 {
		c.pools = append(c.pools, map[string]any{})
	}
	return c.pools[len(c.pools)-1]
}

// poolDefault handles -a/--coin: before any pool it is a default for
// every pool, after -o it belongs to that pool.
func (c *cmdline) poolDefault(def *string, key, v string) {
	if len(c.pools) == 0 {
		*def = v
		return
	}
	c.pool()[key] = v
}

// section returns a top-level object (http, tls, api, dns) of the
// overrides.
func (c *cmdline) section(name string) map[string]any {
	m, _ := c.over[name].(map[string]any)
	if m == nil {
		m = map[string]any{}
		c.over[name] = m
	}
	return m
}

func poolString(key string) func(*cmdline, string, string) error {
	return func(c *cmdline, _, v string) error { c.pool()[key] = v; return nil }
}

func poolBool(key string) func(*cmdline, string, string) error {
	return func(c *cmdline, _, _ string) error { c.pool()[key] = true; return nil }
}

func poolInt(key string) func(*cmdline, string, string) error {
	return func(c *cmdline, name, v string) error {
		n, err := intArg(name, v)
		c.pool()[key] = n
		return err
	}
}

func topString(key string) func(*cmdline, string, string) error {
	return func(c *cmdline, _, v string) error { c.over[key] = v; return nil }
}

func topBool(key string, b bool) func(*cmdline, string, string) error {
	return func(c *cmdline, _, _ string) error { c.over[key] = b; return nil }
}

func topInt(key string) func(*cmdline, string, string) error {
	return func(c *cmdline, name, v string) error {
		n, err := intArg(name, v)
		c.over[key] = n
		return err
	}
}

func sectionString(section, key string) func(*cmdline, string, string) error {
	return func(c *cmdline, _, v string) error { c.section(section)[key] = v; return nil }
}

func sectionInt(section, key string) func(*cmdline, string, string) error {
	return func(c *cmdline, name, v string) error {
		n, err := intArg(name, v)
		c.section(section)[key] = n
		return err
	}
}

// httpOpt sets an http key; like xmrig-proxy, any --http-* option turns
// the API on.
func httpOpt(key string, number bool) func(*cmdline, string, string) error {
	return func(c *cmdline, name, v string) error {
		h := c.section("http")
		h["enabled"] = true
		if !number {
			h[key] = v
			return nil
		}
		n, err := intArg(name, v)
		h[key] = n
		return err
	}
}

// bind adds a -b/--tls-bind address: "host:port", "[::]:port" or ":port"
// (all addresses).
func bind(tls bool) func(*cmdline, string, string) error {
	return func(c *cmdline, name, v string) error {
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			return fmt.Errorf("--%s %q: want HOST:PORT, e.g. 0.0.0.0:3333 or [::]:3333", name, v)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("--%s %q: the port must be 1..65535", name, v)
		}
		if host == "" {
			host = "0.0.0.0"
		}
		c.binds = append(c.binds, map[string]any{"host": host, "port": n, "tls": tls})
		return nil
	}
}

// note accepts an option that has no effect in go-proxy.
func note(c *cmdline, name, _ string) error {
	c.notes = append(c.notes, "--"+name)
	return nil
}

// keepaliveSeconds handles --keepalive=N (seconds; xmrig-proxy reads the
// option as a switch, N is go-proxy's extension).
func keepaliveSeconds(c *cmdline, v string) error {
	n, err := intArg("keepalive", v)
	c.pool()["keepalive"] = n
	return err
}

func intArg(name, v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("option --%s: %q is not a whole number", name, v)
	}
	return n, nil
}

// finish checks what can only be checked once every option is read.
func (c *cmdline) finish() error {
	for i, p := range c.pools {
		if p["url"] == nil {
			what := make([]string, 0, len(p))
			for k := range p {
				what = append(what, k)
			}
			sort.Strings(what)
			return fmt.Errorf("pool options (%s) must follow the -o/--url they apply to (pool %d has no -o)", strings.Join(what, ", "), i+1)
		}
		if c.algo != "" && p["algo"] == nil {
			p["algo"] = c.algo
		}
		if c.coin != "" && p["coin"] == nil {
			p["coin"] = c.coin
		}
	}
	return nil
}

// overrides returns the options as a configuration object for
// reactor.ParseConfigFile, or nil when they set nothing.
func (c *cmdline) overrides() []byte {
	doc := make(map[string]any, len(c.over)+2)
	for k, v := range c.over {
		doc[k] = v
	}
	if len(c.pools) > 0 {
		doc["pools"] = c.pools
	}
	if len(c.binds) > 0 {
		doc["bind"] = c.binds
	}
	if len(doc) == 0 {
		return nil
	}
	b, _ := json.Marshal(doc) // maps of strings, numbers and booleans
	return b
}

// hasPools reports whether the command line names pools (-o), which makes
// a configuration of its own: config.json is then not read unless -c
// names it, as with xmrig-proxy.
func (c *cmdline) hasPools() bool { return len(c.pools) > 0 }

// defaultConfig is the file read when neither -c nor -o is given.
const defaultConfig = "config.json"

// loader returns the configuration parser for this command line: the
// file (if any) with the options applied on top, -a/--coin defaults
// filled in. The watcher calls it again with the file's new contents.
func (c *cmdline) loader(file string) func(data []byte) (*reactor.Config, []string, error) {
	over := c.overrides()
	return func(data []byte) (*reactor.Config, []string, error) {
		cfg, ignored, err := reactor.ParseConfigFile(file, data, over)
		if err != nil {
			return nil, ignored, err
		}
		if len(c.pools) == 0 && (c.algo != "" || c.coin != "") {
			for i := range cfg.Pools {
				if c.algo != "" && cfg.Pools[i].Algo == "" {
					cfg.Pools[i].Algo = c.algo
				}
				if c.coin != "" {
					ignored = append(ignored, fmt.Sprintf("pools[%d].coin (--coin)", i))
				}
			}
		}
		for _, n := range c.notes {
			ignored = append(ignored, n)
		}
		return cfg, ignored, nil
	}
}

// load reads the configuration the command line asks for and returns it
// with the file it came from ("" = the command line alone) and the parser
// to reuse on a change of that file.
func (c *cmdline) load() (cfg *reactor.Config, ignored []string, file string, parse func([]byte) (*reactor.Config, []string, error), err error) {
	file = c.config
	if file == "" && !c.hasPools() {
		if _, statErr := os.Stat(defaultConfig); statErr == nil {
			file = defaultConfig
		} else if c.overrides() == nil {
			return nil, nil, "", nil, errors.New("no configuration: " + defaultConfig + " not found; give -c FILE, or a pool on the command line: go-proxy -o POOL:PORT -u WALLET")
		}
	}
	parse = c.loader(file)
	var data []byte
	if file != "" {
		if data, err = os.ReadFile(file); err != nil {
			return nil, nil, "", nil, fmt.Errorf("config: %w", err)
		}
	}
	cfg, ignored, err = parse(data)
	if err != nil && file == "" && len(c.pools) == 0 && strings.Contains(err.Error(), "at least one pool") {
		err = fmt.Errorf("%w (give one with -o POOL:PORT, or a file with -c)", err)
	}
	return cfg, ignored, file, parse, err
}

// printUsage writes the option list.
func printUsage(w io.Writer) {
	fmt.Fprint(w, `usage: go-proxy [OPTIONS]            run the proxy (options as xmrig-proxy's, on top of -c FILE)
       go-proxy demo [flags]          mock pools + proxy + simulated miners
       go-proxy version               print the version

Configuration:
  -c, --config=FILE             JSON configuration file (default: config.json when no -o is given);
                                options given here override its keys
      --check-config, --dry-run validate the configuration (and what start needs) and exit

Pools (-u, -p, -a, -k, --tls... apply to the -o before them; each -o adds a failover pool):
  -o, --url=URL                 pool: host:port, stratum+tcp://host:port, stratum+ssl://host:port
  -u, --user=USER               pool login (wallet)
  -p, --pass=PASS               pool password
  -O, --userpass=USER:PASS      both at once
  -a, --algo=ALGO               algorithm announced to the pool (before any -o: for every pool)
      --coin=COIN               accepted, not used (go-proxy follows the pool's jobs)
  -k, --keepalive               send keepalived to the pool (60 s; --keepalive=N for N seconds)
      --rig-id=ID               rig id sent to the pool
      --tls                     connect to the pool over TLS
      --tls-fingerprint=HEX     pin the pool certificate's SHA-256
  -r, --retries=N               connect attempts per pool before the next one (default 5)
  -R, --retry-pause=N           seconds between attempts (default 5)
      --user-agent=UA           user agent sent to pools

Proxy:
  -b, --bind=ADDR               listen on HOST:PORT or [::]:PORT (repeat for more; default 0.0.0.0:3333)
  -m, --mode=MODE               nicehash (default) or simple
      --custom-diff=N           difficulty for miners when lower than the pool's (N >= 100)
      --custom-diff-stats       count custom-difficulty shares in the statistics
      --reuse-timeout=N         simple mode: keep a pool connection N seconds for the next miner
      --no-workers              no per-worker statistics
      --workers=MODE            name workers by rig-id, user, password, agent or ip
      --access-password=P       password miners must log in with
      --no-algo-ext             do not send "algo" in jobs

HTTP API:
      --http-host=HOST          API address (default 127.0.0.1); any --http-* option enables the API
      --http-port=N             API port
      --http-access-token=T     require "Authorization: Bearer T"
      --http-no-restricted      allow changes through the API (needs a token)
      --api-id=ID               "id" in /1/summary
      --api-worker-id=ID        "worker_id" in /1/summary (default: the host name)

TLS for miners:
      --tls-bind=ADDR           listen with TLS on HOST:PORT
      --tls-cert=FILE           certificate chain (PEM); without one a self-signed one is made
      --tls-cert-key=FILE       its private key (PEM)
      --tls-gen=HOST            host name of the self-signed certificate
      --tls-protocols=LIST      e.g. "TLSv1.2 TLSv1.3"
      --tls-ciphers=LIST        TLS 1.2 cipher suites

Logging:
  -l, --log-file=FILE           also write the log to FILE (reopened on SIGHUP)
  -S, --syslog                  also send the log to the local syslog
  -A, --access-log-file=FILE    one line per miner login and close
      --verbose                 debug-level log (unless log-level is set)
      --print-time=N            log a status line every N seconds

Misc:
  -V, --version                 print the version and exit
  -h, --help                    this text

Accepted for xmrig-proxy compatibility, with a warning that they have no effect: --donate-level,
--donate-over-proxy, --no-color, --title, --no-title, --debug, --login-file, --data-dir, -x/--proxy,
--daemon*, --self-select, --submit-to-origin, --spend-secret-key, --pool-coin, -4, -6, --dns-ipv6, --dns-ttl,
--tls-dhparam, --tls-ciphersuites. -B/--background is refused: run go-proxy under a supervisor.
`)
}
