// Package testsvc decides what a test does when a real service it needs
// (PostgreSQL, HAProxy, Prometheus, promtool) cannot be had, and makes
// that decision seen. Nothing outside _test.go files and the test helper
// packages imports it.
//
// A test calls Skip with the reason: the test is skipped, or fails when
// GOPROXY_TEST_REQUIRE_SERVICES=1 (CI sets it, having installed every
// service, so a broken install cannot pass as a skip). go test hides the
// output of passing packages, so Main, the package's TestMain, prints the
// skipped services at the end on stderr and, when there is one, on the
// controlling terminal, where a developer running the plain test command
// sees it.
package testsvc

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
)

// EnvRequire, set to 1, turns Skip into a failure.
const EnvRequire = "GOPROXY_TEST_REQUIRE_SERVICES"

var notices struct {
	mu   sync.Mutex
	seen map[string]int // "service: reason" → tests skipped
}

// Required reports whether missing services fail the tests (EnvRequire=1).
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// Skip skips t because service is not available (why says what is
// missing), or fails t when Required. Safe for concurrent use.
func Skip(t testing.TB, service string, why error) {
	t.Helper()
	msg := service + " not available: " + why.Error()
	if Required() {
		t.Fatal(msg + " (" + EnvRequire + "=1: services are required)")
	}
	notices.mu.Lock()
	if notices.seen == nil {
		notices.seen = map[string]int{}
	}
	notices.seen[msg]++
	notices.mu.Unlock()
	t.Skip(msg + "; test skipped")
}

// Main runs m's tests, then the cleanups, then prints the services whose
// tests were skipped, and returns the exit code for os.Exit:
//
//	func TestMain(m *testing.M) { os.Exit(testsvc.Main(m)) }
func Main(m *testing.M, cleanups ...func()) int {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	report(os.Stderr)
	return code
}

func report(stderr io.Writer) {
	notices.mu.Lock()
	defer notices.mu.Unlock()
	if len(notices.seen) == 0 {
		return
	}
	lines := make([]string, 0, len(notices.seen))
	for msg, n := range notices.seen {
		lines = append(lines, fmt.Sprintf("SKIPPED %d test(s): %s", n, msg))
	}
	sort.Strings(lines)
	text := strings.Join(lines, "\n") + "\n"
	fmt.Fprint(stderr, text)
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		fmt.Fprint(tty, text)
		_ = tty.Close()
	}
}
