package main

import (
	"os"
	"testing"

	"forge.lthn.ai/core/go-proxy/internal/pgtest"
)

// TestMain runs go-proxy itself when a test starts this binary as a child
// process (GO_PROXY_TEST_MAIN=1, see startProcess; or a config path in
// childConfigEnv, with lowered limits, see childMain); otherwise the tests,
// with the throwaway PostgreSQL server pgtest starts on demand stopped at
// the end.
func TestMain(m *testing.M) {
	if os.Getenv("GO_PROXY_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	if path := os.Getenv(childConfigEnv); path != "" {
		os.Exit(childMain([]string{"-c", path}))
	}
	os.Exit(pgtest.Main(m))
}
