package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"
)

// pprofEnv names the environment variable that, set to a loopback
// host:port, serves Go profiles for the bench harness (go run ./bench
// -profile DIR) and for go tool pprof:
//
//	GOPROXY_PPROF=127.0.0.1:6060 go-proxy -c config.json
//	go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=20
//
// It is deliberately not a config key: profiling is a development aid.
// Only loopback addresses are accepted. The handlers are written on
// runtime/pprof and served from a private mux, so nothing is registered
// on http.DefaultServeMux (importing net/http/pprof would do that).
const pprofEnv = "GOPROXY_PPROF"

// maxProfileSeconds bounds a CPU profile request.
const maxProfileSeconds = 600

func init() {
	addr := os.Getenv(pprofEnv)
	if addr == "" {
		return
	}
	if err := startPprof(addr); err != nil {
		fmt.Fprintf(os.Stderr, "go-proxy: %s=%q ignored: %v\n", pprofEnv, addr, err)
	}
}

// startPprof serves the profile endpoints on addr, which must be a
// loopback address, in the background for the life of the process.
func startPprof(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("address %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "go-proxy: profiles on http://%s/debug/pprof/\n", ln.Addr())
	return nil
}

// pprofMux routes /debug/pprof/profile (CPU, ?seconds=N, default 30) and
// /debug/pprof/<name> for every runtime/pprof profile (heap, allocs,
// goroutine, ...; ?gc=1 runs a GC before a heap profile, ?debug=N as in
// net/http/pprof).
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", serveCPUProfile)
	mux.HandleFunc("/debug/pprof/{name}", serveNamedProfile)
	mux.HandleFunc("/debug/pprof/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "profile (CPU, ?seconds=N)")
		for _, p := range pprof.Profiles() {
			fmt.Fprintf(w, "%s (%d)\n", p.Name(), p.Count())
		}
	})
	return mux
}

func serveCPUProfile(w http.ResponseWriter, r *http.Request) {
	secs := 30
	if s := r.URL.Query().Get("seconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxProfileSeconds {
			http.Error(w, "seconds: want 1.."+strconv.Itoa(maxProfileSeconds), http.StatusBadRequest)
			return
		}
		secs = n
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="profile"`)
	if err := pprof.StartCPUProfile(w); err != nil {
		http.Error(w, "cannot start the CPU profile: "+err.Error(), http.StatusInternalServerError)
		return
	}
	select {
	case <-time.After(time.Duration(secs) * time.Second):
	case <-r.Context().Done():
	}
	pprof.StopCPUProfile()
}

func serveNamedProfile(w http.ResponseWriter, r *http.Request) {
	p := pprof.Lookup(r.PathValue("name"))
	if p == nil {
		http.Error(w, "unknown profile", http.StatusNotFound)
		return
	}
	debug, _ := strconv.Atoi(r.URL.Query().Get("debug"))
	if p.Name() == "heap" && r.URL.Query().Get("gc") != "" {
		runtime.GC()
	}
	if debug > 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	_ = p.WriteTo(w, debug)
}
