package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// httpClient talks to the proxy's API and pprof endpoints on loopback.
var httpClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// newGet builds a GET request bound to ctx.
func newGet(ctx context.Context, url string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return req, nil
}

// cpuProfile is a CPU profile being captured from the proxy's
// GOPROXY_PPROF endpoint (see cmd/go-proxy/pprof.go).
type cpuProfile struct {
	path string
	done chan error
}

// startCPUProfile asks the proxy on pprofPort for a CPU profile of secs
// seconds and writes it to path in the background.
func startCPUProfile(ctx context.Context, pprofPort int, secs int, path string) *cpuProfile {
	p := &cpuProfile{path: path, done: make(chan error, 1)}
	go func() {
		p.done <- fetchToFile(ctx, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", pprofPort, secs), path)
	}()
	return p
}

// wait returns once the profile is written (or failed), at most after
// timeout.
func (p *cpuProfile) wait(timeout time.Duration) error {
	select {
	case err := <-p.done:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("CPU profile %s: no answer after %s", p.path, timeout)
	}
}

// heapProfile writes the proxy's heap profile (after a GC) to path.
func heapProfile(ctx context.Context, pprofPort int, path string) error {
	return fetchToFile(ctx, "http://127.0.0.1:"+strconv.Itoa(pprofPort)+"/debug/pprof/heap?gc=1", path)
}

// fetchToFile GETs url into the file path.
func fetchToFile(ctx context.Context, url, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("profile dir: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("profile file: %w", err)
	}
	_, ferr := fetch(ctx, url, f)
	cerr := f.Close()
	if ferr != nil {
		_ = os.Remove(path)
		return ferr
	}
	return cerr
}
