package deploy

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/httpapi"
	"forge.lthn.ai/core/go-proxy/internal/haproxytest"
	"forge.lthn.ai/core/go-proxy/internal/testsvc"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/upstream"
)

func TestMain(m *testing.M) { os.Exit(testsvc.Main(m)) }

// tool returns the path of a command, or skips t (fails it under
// GOPROXY_TEST_REQUIRE_SERVICES=1) when it is not installed.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testsvc.Skip(t, name, fmt.Errorf("not on PATH; install the %s package", pkg))
	}
	return p
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// Every alert rule passes promtool's syntax check and its unit tests.
func TestAlertRules(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	run(t, "prometheus", promtool, "check", "rules", "alerts.yml")
	out := run(t, "prometheus", promtool, "test", "rules", "alerts_test.yml")
	require.Contains(t, out, "SUCCESS")

	// Each rule of alerts.yml has a test group.
	rules := regexp.MustCompile(`(?m)^\s*- alert: (\w+)`).FindAllStringSubmatch(readFile(t, "prometheus/alerts.yml"), -1)
	tests := readFile(t, "prometheus/alerts_test.yml")
	require.Len(t, rules, 6)
	for _, r := range rules {
		require.Contains(t, tests, "alertname: "+r[1], "rule %s has no test", r[1])
	}
}

// The example scrape configuration (also the compose stack's) is valid
// and loads the rules.
func TestPrometheusConfig(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	out := run(t, "prometheus", promtool, "check", "config", "prometheus.yml")
	require.Contains(t, out, "SUCCESS: 1 rule files found")
}

// The systemd unit passes systemd-analyze verify without a warning and
// has the settings the README promises.
func TestSystemdUnit(t *testing.T) {
	unit := readFile(t, "systemd/go-proxy.service")
	for _, want := range []string{
		"LimitNOFILE=1048576", "Restart=on-failure", "RestartPreventExitStatus=2",
		"ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes", "ProtectSystem=strict",
		"ProtectHome=yes", "PrivateTmp=yes", "ReadWritePaths=/var/lib/go-proxy /var/log/go-proxy",
		"StateDirectory=go-proxy", "User=go-proxy",
	} {
		require.Contains(t, unit, "\n"+want+"\n")
	}
	analyze := tool(t, "systemd-analyze", "systemd")
	// verify checks that ExecStart exists: point it at a binary that does.
	self, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	path := filepath.Join(dir, "go-proxy.service")
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/go-proxy ", self+" ")), 0o644))
	cmd := exec.Command(analyze, "verify", path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify warns")
}

// The compose stack refers only to files that exist, its go-proxy
// configuration is valid, and the Dockerfile builds with the README's
// command, runs unprivileged, exposes the ports the configuration binds
// and checks its health on the API. (Docker cannot run here, so nothing
// is built or started.)
func TestComposeAndDockerfile(t *testing.T) {
	compose := readFile(t, "docker-compose.yml")
	refs := regexp.MustCompile(`\./([\w./-]+)`).FindAllStringSubmatch(compose, -1)
	require.NotEmpty(t, refs)
	for _, r := range refs {
		_, err := os.Stat(r[1])
		require.NoError(t, err, "docker-compose.yml refers to %s", r[1])
	}
	require.Contains(t, compose, "dockerfile: deploy/Dockerfile")
	for _, service := range []string{"postgres:", "go-proxy:", "prometheus:", "grafana:"} {
		require.Contains(t, compose, "\n  "+service+"\n")
	}

	cfg, _, err := reactor.LoadConfig("compose/go-proxy.json")
	require.NoError(t, err)
	require.Equal(t, "passthrough", cfg.SV1Mode)
	require.Contains(t, cfg.Registry.URL, "@postgres:5432/")
	require.Contains(t, compose, "POSTGRES_PASSWORD: "+dbPassword(t, cfg.Registry.URL))
	require.Contains(t, compose, "GOPROXY_API_TOKEN: "+cfg.HTTP.AccessToken)
	require.Contains(t, readFile(t, "prometheus/prometheus.yml"), "credentials: "+cfg.HTTP.AccessToken)
	require.Contains(t, readFile(t, "prometheus/prometheus.yml"), fmt.Sprintf("go-proxy:%d", cfg.HTTP.Port))

	docker := readFile(t, "Dockerfile")
	require.Contains(t, docker, "RUN "+readmeBuildLine(t)+"\n", "the Dockerfile builds with the README's command")
	require.Contains(t, docker, fmt.Sprintf("\nEXPOSE %d %d\n", cfg.Bind[0].Port, cfg.HTTP.Port))
	require.Regexp(t, `(?m)^USER goproxy:goproxy$`, docker)
	require.Regexp(t, `(?m)^HEALTHCHECK .*\n.*\n.*/1/summary`, docker)
	ignore := readFile(t, "Dockerfile.dockerignore")
	for _, needed := range []string{"go.mod", "go.sum", "cmd", "reactor", "registry"} {
		require.NotRegexp(t, `(?m)^`+needed+`$`, ignore)
	}
}

func dbPassword(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	require.NoError(t, err)
	p, _ := u.User.Password()
	return p
}

// readmeBuildLine returns the README's build command (the line that
// starts with "CGO_ENABLED=0 go build").
func readmeBuildLine(t *testing.T) string {
	t.Helper()
	for line := range strings.Lines(readFile(t, "../README.md")) {
		if strings.HasPrefix(line, "CGO_ENABLED=0 go build ") {
			return strings.TrimSpace(line)
		}
	}
	t.Fatal("README has no line starting with CGO_ENABLED=0 go build")
	return ""
}

// The README's build command makes a static binary (no program
// interpreter, no shared libraries) that prints the stamped commit and
// build date.
func TestBuildCommand(t *testing.T) {
	line := readmeBuildLine(t)
	require.Contains(t, line, " -o go-proxy ./cmd/go-proxy")
	out := filepath.Join(t.TempDir(), "go-proxy")
	cmd := exec.Command("sh", "-c", strings.Replace(line, " -o go-proxy ", " -o "+out+" ", 1))
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "COMMIT=0123456789ab", "BUILD_DATE=2026-12-06T06:00:00Z")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, string(b))

	f, err := elf.Open(out)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "a static binary has no program interpreter")
	}
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	require.Empty(t, libs)

	version := run(t, "", out, "version")
	require.Contains(t, version, "go-proxy "+reactor.Version+"\n")
	require.Contains(t, version, "commit: 0123456789ab\n")
	require.Contains(t, version, "built:  2026-12-06T06:00:00Z\n")
}

// deploy/haproxy.cfg, with the test's addresses, in front of a real
// go-proxy: the health check (GET /1/summary with the token) marks it up,
// a miner relayed with send-proxy-v2 shows with its own address in
// /1/miners.
func TestHAProxyConfig(t *testing.T) {
	bin, err := haproxytest.Binary()
	if err != nil {
		testsvc.Skip(t, "HAProxy", err)
	}
	run(t, "", bin, "-c", "-q", "-f", "haproxy.cfg")

	pool := startCNPool(t)
	cfg := proxyConfig(t, upstream.PoolConfig{URL: pool.Addr(), User: "POOLWALLET", Pass: "x"})
	cfg.Bind[0].ProxyProtocol = true
	startProxy(t, cfg)

	front, stats := haproxytest.FreePort(t), haproxytest.FreePort(t)
	h := haproxytest.Start(t, haproxytest.Config(t, "haproxy.cfg",
		"log /dev/log local0 notice", "log stdout format raw local0 notice",
		"    stats socket /run/haproxy/admin.sock mode 660 level admin\n", "", // the helper has its own
		"maxconn 200000", "maxconn 2000",
		"maxconn 190000", "maxconn 1900",
		"bind :3333", fmt.Sprintf("bind 127.0.0.1:%d", front),
		"bind 127.0.0.1:8404", fmt.Sprintf("bind 127.0.0.1:%d", stats),
		"change-me-api-token", apiToken,
		"check port 8080", fmt.Sprintf("check port %d", cfg.HTTP.Port),
		"server proxy-a 10.0.0.11:3333", "server proxy-a "+cfg.Bind[0].Address(),
		"    server proxy-b 10.0.0.12:3333\n", "",
		"    server proxy-c 10.0.0.13:3333\n", "",
	))
	testutil.Eventually(t, func() bool {
		s, err := h.ServerStatus("go-proxy", "proxy-a")
		return err == nil && s == "UP"
	}, "the health check marks go-proxy up")

	m := testminer.DialCN(t, fmt.Sprintf("127.0.0.1:%d", front))
	require.Nil(t, m.Login("WALLET").Error)
	var miners struct{ Miners [][]any }
	apiGet(t, cfg, "/1/miners", &miners)
	require.Len(t, miners.Miners, 1)
	// ip (xmrig-proxy's bare address) and port (go-proxy's extra column)
	// are the miner's own, from the PROXY header, not the balancer's.
	require.Equal(t, "127.0.0.1", miners.Miners[0][1])
	require.Equal(t, float64(m.Conn.LocalAddr().(*net.TCPAddr).Port), miners.Miners[0][10], "the miner's own port, from the PROXY header")
	require.Equal(t, "OK", m.Submit().Result.Status)
}

const apiToken = "dashboard-test-token"

func startCNPool(t *testing.T) *mockpool.Pool {
	t.Helper()
	p, err := mockpool.Start(mockpool.Config{Seed: 1})
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// proxyConfig is a one-loop proxy on free loopback ports in front of the
// pools, with the API on (token apiToken).
func proxyConfig(t *testing.T, pools ...upstream.PoolConfig) *reactor.Config {
	no := false
	return &reactor.Config{
		Bind:       []reactor.BindConfig{{Host: "127.0.0.1", Port: freePort(t)}},
		Pools:      pools,
		EventLoops: 1, Retries: 1, RetryPause: 1,
		HTTP: reactor.HTTPConfig{Enabled: true, Host: "127.0.0.1", Port: freePort(t), AccessToken: apiToken, Restricted: &no},
	}
}

// startProxy runs the proxy and its API (with the runtime and process
// metrics) on cfg's ports until t ends.
func startProxy(t *testing.T, cfg *reactor.Config) *reactor.Proxy {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := reactor.New(cfg, reactor.WithLogger(log))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), testutil.WaitTimeout)
	defer cancel()
	require.NoError(t, p.Start(ctx))
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", cfg.HTTP.Host, cfg.HTTP.Port))
	require.NoError(t, err)
	srv := &http.Server{Handler: httpapi.NewHandler(p, httpapi.Options{Logger: log}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

func apiGet(t *testing.T, cfg *reactor.Config, path string, v any) {
	t.Helper()
	req, err := http.NewRequest("GET", fmt.Sprintf("http://%s:%d%s", cfg.HTTP.Host, cfg.HTTP.Port, path), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

// dashboardQueries returns every query of the Grafana dashboard (panel
// targets, in rows and collapsed rows, and the template variables), with
// the dashboard's variables replaced as Grafana would for "All".
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	var dash struct {
		Panels     []dashPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal([]byte(readFile(t, "grafana/go-proxy.json")), &dash))
	subst := strings.NewReplacer(`$instance`, `.*`, `$__rate_interval`, `20s`)
	out := map[string]string{}
	var walk func(ps []dashPanel)
	walk = func(ps []dashPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				require.NotEmpty(t, tg.Expr, "panel %q target %s has no query", p.Title, tg.RefID)
				out[p.Title+" / "+tg.RefID] = subst.Replace(tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		require.NoError(t, json.Unmarshal(v.Query, &q))
		m := regexp.MustCompile(`^label_values\((.+), (\w+)\)$`).FindStringSubmatch(q.Query)
		require.NotNil(t, m, "variable %s: %s", v.Name, q.Query)
		out["variable "+v.Name] = fmt.Sprintf("group by (%s) (%s)", m[2], m[1])
	}
	return out
}

type dashPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []dashPanel `json:"panels"`
}

// prometheus runs a real Prometheus scraping target every second (job
// go-proxy, bearer token apiToken) with the alert rules loaded, until t
// ends, and returns its base URL.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin := tool(t, "prometheus", "prometheus")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts.yml"), []byte(readFile(t, "prometheus/alerts.yml")), 0o600))
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [alerts.yml]
scrape_configs:
  - job_name: go-proxy
    authorization: {type: Bearer, credentials: %s}
    static_configs: [{targets: [%q]}]
`, apiToken, target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(config), 0o600))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var out testutil.SyncBuffer
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	base := "http://" + addr
	ready := func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	deadline := time.Now().Add(60 * time.Second)
	for !ready() {
		select {
		case <-done:
			t.Fatalf("prometheus exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready: %s", out.String())
		}
		time.Sleep(50 * time.Millisecond) // polling for readiness
	}
	return base
}

// promQuery runs an instant query and returns the number of series (or 1
// for a scalar) in the result.
func promQuery(base, query string) (int, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, errors.New(r.Error)
	}
	if r.Data.ResultType == "scalar" {
		return 1, nil
	}
	return len(r.Data.Result), nil
}

// Every query of the Grafana dashboard returns data from a real Prometheus
// that scrapes a running go-proxy (both families: a CryptoNote pool and a
// stratum v1 pool, with miners submitting shares), and every alert rule
// evaluates without error on that data.
func TestDashboardQueries(t *testing.T) {
	queries := dashboardQueries(t)
	require.Greater(t, len(queries), 30)
	tool(t, "prometheus", "prometheus")

	cnPool := startCNPool(t)
	sv1, err := sv1pool.Start(sv1pool.Config{Difficulty: 1.0 / (1 << 20), Seed: 2})
	require.NoError(t, err)
	t.Cleanup(func() { sv1.Close() })
	cfg := proxyConfig(t,
		upstream.PoolConfig{URL: cnPool.Addr(), User: "POOLWALLET", Pass: "x"},
		upstream.PoolConfig{URL: sv1.Addr(), User: "proxyacct", Pass: "x", Family: upstream.SV1})
	startProxy(t, cfg)
	addr := cfg.Bind[0].Address()

	cn := testminer.DialCN(t, addr)
	cn.RigID = "rig-cn"
	require.Nil(t, cn.Login("WALLET").Error)
	sv := testminer.DialSV1(t, addr)
	sv.Login("farm.rig-sv1", 0)
	submit := func() {
		require.Equal(t, "OK", cn.Submit().Result.Status)
		require.True(t, sv.Submit().Accepted())
	}
	submit()

	prom := startPrometheus(t, fmt.Sprintf("%s:%d", cfg.HTTP.Host, cfg.HTTP.Port))
	missing := map[string]string{}
	for k, v := range queries {
		missing[k] = v
	}
	deadline := time.Now().Add(90 * time.Second)
	for len(missing) > 0 && time.Now().Before(deadline) {
		submit() // keep the counters moving between scrapes
		for name, q := range missing {
			n, err := promQuery(prom, q)
			require.NoError(t, err, "%s: %s", name, q)
			if n > 0 {
				delete(missing, name)
			}
		}
		if len(missing) > 0 {
			time.Sleep(500 * time.Millisecond) // the next scrape is due every second
		}
	}
	for name, q := range missing {
		t.Errorf("no data for %s: %s", name, q)
	}

	// The alert rules evaluate on real series without errors.
	resp, err := http.Get(prom + "/api/v1/rules")
	require.NoError(t, err)
	defer resp.Body.Close()
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name, Health, LastError string
				}
			}
		}
	}
	require.NoError(t, json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&rules))
	n := 0
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			n++
			require.NotEqual(t, "err", r.Health, "%s: %s", r.Name, r.LastError)
		}
	}
	require.Equal(t, 6, n)
}
