package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// modulePath is the go-proxy module, whose root holds ./cmd/go-proxy.
const modulePath = "forge.lthn.ai/core/go-proxy"

// stopGrace is how long a stopped proxy gets between SIGTERM and SIGKILL
// (it waits up to 5 s for submits in flight, then stops its engine).
const stopGrace = 20 * time.Second

// findModuleRoot walks up from dir to the directory whose go.mod declares
// the go-proxy module.
func findModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for d := dir; ; {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && moduleLine(string(b)) == modulePath {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod of %s above %s: run from the go-proxy checkout or pass -proxy-bin", modulePath, dir)
		}
		d = parent
	}
}

// moduleLine returns the module path declared in a go.mod text.
func moduleLine(gomod string) string {
	for _, line := range strings.Split(gomod, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// buildProxy compiles ./cmd/go-proxy of the module at root into dir.
func buildProxy(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "go-proxy")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/go-proxy")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/go-proxy in %s: %w\n%s", root, err, strings.TrimSpace(out.String()))
	}
	return bin, nil
}

// proxyEndpoints are the loopback ports a started proxy uses.
type proxyEndpoints struct {
	Bind, API, Pprof int
}

// proxyConfigFile is the subset of go-proxy's config.json (reactor.Config)
// the harness writes. It is its own type so that the harness builds even
// while the reactor is being edited; TestProxyConfig_Good checks that
// reactor.ParseConfig accepts what it produces.
type proxyConfigFile struct {
	Mode           string            `json:"mode,omitempty"`
	SV1Mode        string            `json:"sv1-mode,omitempty"`
	Bind           []proxyConfigBind `json:"bind"`
	Pools          []proxyConfigPool `json:"pools"`
	EventLoops     int               `json:"event-loops,omitempty"`
	MaxConnections int               `json:"max-connections,omitempty"`
	Retries        int               `json:"retries"`
	RetryPause     int               `json:"retry-pause"`
	LogLevel       string            `json:"log-level"`
	HTTP           proxyConfigHTTP   `json:"http"`
}

type proxyConfigBind struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

type proxyConfigPool struct {
	URL    string `json:"url"`
	User   string `json:"user"`
	Pass   string `json:"pass"`
	Family string `json:"family"`
}

type proxyConfigHTTP struct {
	Enabled bool   `json:"enabled"`
	Host    string `json:"host"`
	Port    int    `json:"port,omitempty"`
}

// proxyConfig returns the go-proxy configuration of a benchmark: one
// loopback bind, the mock pool, the mode and loops of o, the read-only
// HTTP API on loopback (for /1/summary) when ep.API is set, warnings only.
func proxyConfig(o *Options, ep proxyEndpoints, poolAddr, poolFamily string) ([]byte, error) {
	cfg := proxyConfigFile{
		Bind:           []proxyConfigBind{{Host: "127.0.0.1", Port: ep.Bind}},
		Pools:          []proxyConfigPool{{URL: poolAddr, User: "BENCH-WALLET", Pass: "x", Family: poolFamily}},
		EventLoops:     o.Loops,
		MaxConnections: o.MaxConnections,
		Retries:        5,
		RetryPause:     1,
		LogLevel:       "warn",
		HTTP:           proxyConfigHTTP{Enabled: ep.API > 0, Host: "127.0.0.1", Port: ep.API},
	}
	if o.Family == familySV1 {
		cfg.SV1Mode = o.Mode
	} else {
		cfg.Mode = o.Mode
	}
	b, err := json.MarshalIndent(&cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("proxy config: %w", err)
	}
	return b, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// proxyProc is a go-proxy process the harness started, in its own
// process group so that stop reaches anything it spawned.
type proxyProc struct {
	cmd     *exec.Cmd
	PID     int
	LogPath string
	done    chan struct{} // closed when the process has been reaped
	waitErr error         // valid after done
}

// proxyBinary returns the go-proxy binary a run starts: bin (-proxy-bin)
// when set and present, else one built from the module around the
// working directory into dir. built is the module root when it built one.
func proxyBinary(ctx context.Context, bin, dir string, logf func(string, ...any)) (path, built string, err error) {
	if bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", "", fmt.Errorf("-proxy-bin: %w", err)
		}
		return bin, "", nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", "", fmt.Errorf("working directory: %w", err)
	}
	root, err := findModuleRoot(wd)
	if err != nil {
		return "", "", err
	}
	logf("building ./cmd/go-proxy in %s", root)
	bctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	path, err = buildProxy(bctx, root, dir)
	return path, root, err
}

// appendLine appends line (newline included) to the -save file.
func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("-save: %w", err)
	}
	_, werr := f.Write(line)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("-save: %w", werr)
	}
	return nil
}

// startProxy writes cfg next to the log in dir and starts bin -c cfg with
// extra environment variables env.
func startProxy(bin, dir string, cfg []byte, env []string) (*proxyProc, error) {
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, fmt.Errorf("write proxy config: %w", err)
	}
	return startProcess(bin, []string{"-c", cfgPath}, dir, "proxy.log", env)
}

// startProcess starts bin with args (directly, no shell) in dir, its
// output going to dir/logName, with extra environment variables env. A
// relative path in bin (bench/peers/...) is taken from the harness's
// working directory, not from dir.
func startProcess(bin string, args []string, dir, logName string, env []string) (*proxyProc, error) {
	if strings.ContainsRune(bin, '/') && !filepath.IsAbs(bin) {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", bin, err)
		}
		bin = abs
	}
	logPath := filepath.Join(dir, logName)
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("proxy log: %w", err)
	}
	defer logf.Close() // the child keeps its own copy
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proxyProc{cmd: cmd, PID: cmd.Process.Pid, LogPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Alive reports whether the process is still running.
func (p *proxyProc) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// ExitText describes how the process ended ("" while it runs).
func (p *proxyProc) ExitText() string {
	if p.Alive() {
		return ""
	}
	if p.waitErr == nil {
		return "exit status 0"
	}
	return p.waitErr.Error()
}

// waitListening dials addr until it accepts a connection, the process
// exits or ctx ends.
func (p *proxyProc) waitListening(ctx context.Context, addr string) error {
	backoff := 5 * time.Millisecond
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("proxy exited before listening (%s): %s", p.ExitText(), p.LogTail(10))
		case <-ctx.Done():
			return fmt.Errorf("proxy not listening on %s: %w", addr, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// Stop sends SIGTERM to the process group, waits up to grace, then sends
// SIGKILL. It returns once the process has been reaped. Idempotent.
func (p *proxyProc) Stop(grace time.Duration) {
	if !p.Alive() {
		_ = syscall.Kill(-p.PID, syscall.SIGKILL) // stray children, if any
		return
	}
	_ = syscall.Kill(-p.PID, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.PID, syscall.SIGKILL)
		<-p.done
	}
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
}

// LogTail returns the last n lines of the proxy's log.
func (p *proxyProc) LogTail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return ""
	}
	return lastLines(string(b), n)
}

// lastLines returns the last n lines of s, trimmed.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// procAlive reports whether pid exists and is not a zombie (for a proxy
// the harness did not start).
func procAlive(pid int) bool {
	s, err := readProcStat(pid)
	return err == nil && s.State != 'Z' && s.State != 'X'
}

// proxySummary is the part of go-proxy's /1/summary the report shows.
type proxySummary struct {
	Miners struct {
		Now uint64 `json:"now"`
		Max uint64 `json:"max"`
	} `json:"miners"`
	Upstreams struct {
		Active uint64 `json:"active"`
		Total  uint64 `json:"total"`
	} `json:"upstreams"`
	Results struct {
		Accepted uint64 `json:"accepted"`
		Rejected uint64 `json:"rejected"`
		Invalid  uint64 `json:"invalid"`
		Expired  uint64 `json:"expired"`
	} `json:"results"`
	Connections struct {
		Total   uint64 `json:"total"`
		Refused uint64 `json:"refused"`
	} `json:"connections"`
}

// fetch GETs url into w (or returns the body when w is nil), bounded by
// ctx.
func fetch(ctx context.Context, url string, w io.Writer) ([]byte, error) {
	req, err := newGet(ctx, url)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(b))
	}
	if w != nil {
		_, err = io.Copy(w, resp.Body)
		return nil, err
	}
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

// getSummary reads go-proxy's /1/summary from the API on port.
func getSummary(ctx context.Context, port int) (*proxySummary, error) {
	body, err := fetch(ctx, "http://127.0.0.1:"+strconv.Itoa(port)+"/1/summary", nil)
	if err != nil {
		return nil, err
	}
	var s proxySummary
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("/1/summary: %w", err)
	}
	return &s, nil
}
