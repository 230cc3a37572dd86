// Package pgtest gives tests a real PostgreSQL server: a throwaway cluster
// made with the distribution's initdb in a temporary directory, listening
// on a free loopback port, or the server named by GOPROXY_TEST_POSTGRES_URL.
// Nothing outside _test.go files imports it.
//
// Tests call Schema for a fresh, empty schema on the package's shared
// server (started on first use) and get a URL whose search_path is that
// schema, so tests do not see each other's tables. A test that must stop
// and restart the server starts its own with Start. A package using
// pgtest runs its tests through Main, which stops the shared server at the
// end.
//
// When no server can be had (no binaries, initdb failing, ...) the tests
// that need one are skipped with the reason through testsvc.Skip, and Main
// says so at the end even without -v; with GOPROXY_TEST_REQUIRE_SERVICES=1
// (CI sets it) they fail instead.
//
// PostgreSQL refuses to run as root: when the tests run as root, the
// server runs as the user GOPROXY_TEST_POSTGRES_USER, else "postgres" (the
// Debian package creates it), else "nobody".
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"forge.lthn.ai/core/go-proxy/internal/testsvc"
)

// Environment variables.
const (
	// EnvURL names an existing server to use instead of starting one:
	// a postgres:// URL of a database the tests may create schemas in.
	EnvURL = "GOPROXY_TEST_POSTGRES_URL"
	// EnvUser is the system user the server runs as when the tests run
	// as root.
	EnvUser = "GOPROXY_TEST_POSTGRES_USER"
)

// startTimeout bounds initdb plus the server becoming ready.
const startTimeout = 60 * time.Second

// Server is a PostgreSQL cluster this package started. Its methods are
// safe for concurrent use.
type Server struct {
	dir      string // temporary directory: data/, the socket, the log
	bin      string // directory holding initdb and postgres
	port     int
	password string
	uid, gid int // the user the server runs as (-1: the current one)

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// User is the superuser the tests connect as.
const User = "gpxtest"

// Start makes a new cluster (initdb) in a temporary directory and starts
// it on a free loopback port. Stop it with Close.
func Start() (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	uid, gid, err := serverUser()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gpx-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin, password: randomHex(12), uid: uid, gid: gid}
	if err := s.initdb(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	var lastErr error
	for range 3 { // a free port can be taken between the probe and the bind
		if s.port, err = freePort(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		if lastErr = s.Start(); lastErr == nil {
			return s, nil
		}
	}
	_ = os.RemoveAll(dir)
	return nil, lastErr
}

// URL returns the URL of database db on s, with the password.
func (s *Server) URL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(User, s.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Password returns the superuser's password (tests check that it never
// shows in errors or logs).
func (s *Server) Password() string { return s.password }

// Addr returns the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func (s *Server) initdb() error {
	data := filepath.Join(s.dir, "data")
	pwfile := filepath.Join(s.dir, "pw")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return err
	}
	if err := s.chownAll(); err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.bin, "initdb"),
		"-D", data, "-U", User, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--locale=C", "--no-sync")
	s.asServerUser(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %w: %s", err, tail(string(out)))
	}
	return os.Remove(pwfile)
}

// Start starts the server (again, after Stop) on its port and waits until
// it accepts connections.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("pgtest: server already running")
	}
	logPath := filepath.Join(s.dir, "server.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(s.bin, "postgres"),
		"-D", filepath.Join(s.dir, "data"),
		"-p", strconv.Itoa(s.port),
		"-k", s.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=100",
		"-c", "shared_buffers=16MB",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	s.asServerUser(cmd)
	// The server dies with the test binary (SIGQUIT: immediate stop) if
	// the binary is killed before Close. The signal follows the thread
	// that started the child, so start it from a locked thread that
	// lives on.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	cmd.SysProcAttr.Setpgid = true
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			_ = c.Close(ctx)
			return nil
		}
		select {
		case <-done:
			s.cmd = nil
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("pgtest: postgres exited: %s", tail(string(log)))
		case <-ctx.Done():
			s.stopLocked()
			return fmt.Errorf("pgtest: postgres not ready after %s: %w", startTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops the server (fast shutdown: connections are closed) and waits
// for it to exit. The data stay; Start starts it again.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Close stops the server and removes its directory.
func (s *Server) Close() {
	s.Stop()
	_ = os.RemoveAll(s.dir)
}

// asServerUser makes cmd run as the server's user.
func (s *Server) asServerUser(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if s.uid >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.gid)}
	}
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
}

func (s *Server) chownAll() error {
	if s.uid < 0 {
		return nil
	}
	return filepath.Walk(s.dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, s.uid, s.gid)
	})
}

// findBin returns the newest /usr/lib/postgresql/<version>/bin holding
// initdb and postgres (or the directory of an initdb on PATH).
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, postgres) in /usr/lib/postgresql/*/bin or on PATH; install the postgresql package")
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// serverUser picks who runs the server: the current user, or when that is
// root an unprivileged one (-1, -1 means the current user).
func serverUser() (uid, gid int, err error) {
	if os.Geteuid() != 0 {
		return -1, -1, nil
	}
	names := []string{"postgres", "nobody"}
	if n := os.Getenv(EnvUser); n != "" {
		names = []string{n}
	}
	for _, n := range names {
		u, err := user.Lookup(n)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if uid == 0 {
			continue
		}
		return uid, gid, nil
	}
	return 0, 0, fmt.Errorf("running as root and none of the users %s exists to run PostgreSQL as", strings.Join(names, ", "))
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tail returns the last lines of a log for an error message.
func tail(s string) string {
	s = strings.TrimSpace(s)
	lines := strings.Split(s, "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

// The package's shared server, started on first use.
var shared struct {
	once   sync.Once
	server *Server // nil with an external URL or when unavailable
	base   string  // URL of the database schemas are made in
	err    error   // why no server is available
}

const sharedDB = "gpxtest"

func startShared() {
	if u := os.Getenv(EnvURL); u != "" {
		shared.base = u
		return
	}
	s, err := Start()
	if err != nil {
		shared.err = err
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err == nil {
		_, err = c.Exec(ctx, "CREATE DATABASE "+sharedDB)
		_ = c.Close(ctx)
	}
	if err != nil {
		s.Close()
		shared.err = fmt.Errorf("create database: %w", err)
		return
	}
	shared.server, shared.base = s, s.URL(sharedDB)
}

// unavailable skips t (or fails it, see testsvc) because no server can be
// had.
func unavailable(t testing.TB, why error) {
	t.Helper()
	testsvc.Skip(t, "PostgreSQL", why)
}

// Schema creates a fresh schema on the shared server (starting it on
// first use) and returns a URL whose search_path is that schema; the
// schema is dropped when t ends. Without a server, t is skipped (see the
// package doc).
func Schema(t testing.TB) string {
	t.Helper()
	shared.once.Do(startShared)
	if shared.err != nil {
		unavailable(t, shared.err)
	}
	name := "t_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, shared.base)
	if err != nil {
		unavailable(t, fmt.Errorf("connect to %s: %w", redact(shared.base), err))
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		c, err := pgx.Connect(ctx, shared.base)
		if err != nil {
			return // the server is gone; nothing to clean
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP SCHEMA "+name+" CASCADE")
	})
	return WithSearchPath(shared.base, name)
}

// SharedPassword returns the password of the shared server's URL ("" when
// none), for tests that check it never leaks.
func SharedPassword(t testing.TB) string {
	t.Helper()
	shared.once.Do(startShared)
	u, err := url.Parse(shared.base)
	if err != nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

// Private starts a server for t alone (for tests that stop and restart
// it) and closes it when t ends. It skips t when a server cannot be
// started, and also when EnvURL names an external server (that one
// cannot be stopped by the test).
func Private(t testing.TB) *Server {
	t.Helper()
	if os.Getenv(EnvURL) != "" {
		t.Skip("PostgreSQL test skipped: it stops and restarts its own server, and " + EnvURL + " names an external one")
	}
	s, err := Start()
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(s.Close)
	return s
}

// WithSearchPath returns rawURL with its search_path parameter set to
// schema.
func WithSearchPath(rawURL, schema string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Main runs m's tests, then stops the shared server if one was started,
// and returns the exit code for os.Exit; skipped tests are reported as
// testsvc.Main does:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	return testsvc.Main(m, func() {
		if shared.server != nil {
			shared.server.Close()
		}
	})
}
