package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/sv1swarm"
	"forge.lthn.ai/core/go-proxy/bench/swarm"
	"forge.lthn.ai/core/go-proxy/httpapi"
	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// runDemo starts in-process mock pools of both families (the stratum v1
// one verifies every share with real sha256d), a proxy in front of them
// and swarms of simulated miners — XMRig-like CryptoNote miners and SV1
// miners that really search nonces — all on one proxy port, and prints
// status lines every few seconds until Ctrl-C (or -duration).
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("go-proxy demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	miners := fs.Int("miners", 300, "simulated miners")
	shares := fs.Float64("shares", 20, "shares per second across all miners")
	every := fs.Duration("every", 2*time.Second, "status line interval")
	duration := fs.Duration("duration", 0, "stop after this long (0 = until Ctrl-C)")
	jobs := fs.Duration("jobs", 10*time.Second, "mock pool job interval")
	sv1Miners := fs.Int("sv1-miners", 20, "simulated stratum v1 miners (0 = none)")
	sv1Shares := fs.Float64("sv1-shares", 4, "SV1 shares per second across all SV1 miners (each costs ~13 ms of CPU)")
	verbose := fs.Bool("v", false, "show the proxy's log")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	f := demoFlags{miners: *miners, shares: *shares, every: *every, duration: *duration, jobs: *jobs,
		sv1Miners: *sv1Miners, sv1Shares: *sv1Shares, extra: fs.Args()}
	if err := f.validate(openFilesLimit(), runtime.GOMAXPROCS(0)); err != nil {
		fmt.Fprintln(stderr, "go-proxy demo:", err)
		return exitConfig
	}
	logOut := io.Discard
	if *verbose {
		logOut = stderr
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}

	pool, err := mockpool.Start(mockpool.Config{Difficulty: 2000, JobInterval: *jobs})
	if err != nil {
		fmt.Fprintln(stderr, "go-proxy demo: mock pool:", err)
		return exitFailed
	}
	defer pool.Close()
	var svPool *sv1pool.Pool
	if *sv1Miners > 0 {
		svPool, err = sv1pool.Start(sv1pool.Config{JobInterval: *jobs, VersionRolling: true})
		if err != nil {
			fmt.Fprintln(stderr, "go-proxy demo: SV1 pool:", err)
			return exitFailed
		}
		defer svPool.Close()
	}

	port, err := freePort()
	if err != nil {
		fmt.Fprintln(stderr, "go-proxy demo:", err)
		return exitFailed
	}
	apiPort, err := freePort()
	if err != nil {
		fmt.Fprintln(stderr, "go-proxy demo:", err)
		return exitFailed
	}
	cfg := &reactor.Config{
		Bind:       []reactor.BindConfig{{Host: "127.0.0.1", Port: port}},
		Pools:      []upstream.PoolConfig{{URL: pool.Addr(), User: "DEMO-WALLET", Pass: "x"}},
		Retries:    2,
		RetryPause: 1,
		// A read-only API without a token, on loopback.
		HTTP: reactor.HTTPConfig{Enabled: true, Host: "127.0.0.1", Port: apiPort},
	}
	if svPool != nil {
		cfg.Pools = append(cfg.Pools, upstream.PoolConfig{URL: svPool.Addr(), User: "demo-sv1-account", Pass: "x", Family: upstream.SV1, Algo: "sha256d"})
	}
	p, err := reactor.New(cfg, reactor.WithLogger(log))
	if err == nil {
		err = p.Start(ctx)
	}
	if err != nil {
		fmt.Fprintln(stderr, "go-proxy demo: proxy:", err)
		return exitFailed
	}
	defer p.Stop(context.Background())
	proxyAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	api := httpapi.NewServer(p, httpapi.Options{Logger: log})
	if err := api.Start(); err != nil {
		fmt.Fprintln(stderr, "go-proxy demo: API:", err)
		return exitFailed
	}
	defer api.Shutdown(context.Background())

	// The swarms outlive ctx so the final status line still sees them;
	// the deferred Close calls stop them.
	sw, err := swarm.Start(context.Background(), swarm.Config{
		ProxyAddr:       proxyAddr,
		Miners:          *miners,
		RigIDPrefix:     "demo-rig-",
		SharesPerSecond: *shares,
		JobSentAt:       pool.JobSentAt,
	})
	if err != nil {
		fmt.Fprintln(stderr, "go-proxy demo: miners:", err)
		return exitFailed
	}
	defer sw.Close()
	var svSwarm *sv1swarm.Swarm
	if svPool != nil {
		svSwarm, err = sv1swarm.Start(context.Background(), sv1swarm.Config{
			ProxyAddr:           proxyAddr,
			Miners:              *sv1Miners,
			User:                "farm",
			WorkerPrefix:        "asic",
			SharesPerSecond:     *sv1Shares,
			VersionRolling:      true,
			ExtranonceSubscribe: true,
			JobSentAt:           svPool.JobSentAt,
		})
		if err != nil {
			fmt.Fprintln(stderr, "go-proxy demo: SV1 miners:", err)
			return exitFailed
		}
		defer svSwarm.Close()
	}

	fmt.Fprintf(stdout, "go-proxy demo: mock pool %s ← proxy %s ← %d simulated miners (%.0f shares/s). Ctrl-C to stop.\n",
		pool.Addr(), proxyAddr, *miners, *shares)
	if svPool != nil {
		fmt.Fprintf(stdout, "               SV1 pool %s ← same proxy port ← %d SV1 miners really hashing sha256d (%.0f shares/s)\n",
			svPool.Addr(), *sv1Miners, *sv1Shares)
		fmt.Fprintf(stdout, "point cpuminer here too: minerd -a sha256d -o stratum+tcp://%s -u farm.rig1 -p x\n", proxyAddr)
	}
	fmt.Fprintf(stdout, "point a real XMRig here too: xmrig -o %s -u WALLET --nicehash\n", proxyAddr)
	fmt.Fprintf(stdout, "HTTP API: http://%s/1/summary (also /1/workers, /1/miners, /metrics)\n", api.Addr())
	start := time.Now()
	t := time.NewTicker(*every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			printStatus(stdout, time.Since(start), p, pool, sw)
			printSV1Status(stdout, p, svPool, svSwarm)
			fmt.Fprintln(stdout, "go-proxy demo: stopped")
			return exitOK
		case <-p.Done():
			fmt.Fprintln(stderr, "go-proxy demo: proxy engine stopped:", p.Err())
			return exitFailed
		case <-t.C:
			printStatus(stdout, time.Since(start), p, pool, sw)
			printSV1Status(stdout, p, svPool, svSwarm)
		}
	}
}

func printStatus(w io.Writer, up time.Duration, p *reactor.Proxy, pool *mockpool.Pool, sw *swarm.Swarm) {
	s := p.Summary()
	ps := pool.Stats()
	ms := sw.Stats()
	fanout := "-"
	if ms.JobLatency.Count() > 0 {
		fanout = ms.JobLatency.P50().Round(10 * time.Microsecond).String()
	}
	c := &s.ByFamily[reactor.FamilyCryptoNote]
	fmt.Fprintf(w, "[%5s] miners %d/%d ready | upstreams %d active/%d | shares %d accepted %d rejected %d invalid | hashrate 60s %s | pool: %d connections, %d accepted | job fan-out p50 %s\n",
		up.Round(time.Second), ms.LoggedIn, ms.Miners, s.Upstreams.Active, s.Upstreams.Total,
		c.Accepted, c.Rejected, c.Invalid,
		humanRate(s.HashrateByFamily[reactor.FamilyCryptoNote][0]), ps.ActiveConnections, ps.Accepted, fanout)
}

// printSV1Status prints the stratum v1 line: what the verifying pool saw
// is the proof that the proxy's extranonce arithmetic is right.
func printSV1Status(w io.Writer, p *reactor.Proxy, pool *sv1pool.Pool, sw *sv1swarm.Swarm) {
	if pool == nil {
		return
	}
	s := p.Summary()
	c := &s.ByFamily[reactor.FamilySV1]
	ps, ms := pool.Stats(), sw.Stats()
	fmt.Fprintf(w, "        SV1: miners %d/%d authorized | shares %d accepted %d invalid | hashrate 60s %s | pool verified %d ok, %d bad, %d duplicate, %d overlapping\n",
		ms.Authorized, ms.Miners, c.Accepted, c.Invalid, humanRate(s.HashrateByFamily[reactor.FamilySV1][0]),
		ps.Accepted, ps.Rejected, ps.Duplicates, ps.Overlaps)
}

// humanRate formats H/s with an SI prefix.
func humanRate(hs float64) string {
	units := []string{"H/s", "kH/s", "MH/s", "GH/s", "TH/s"}
	i := 0
	for hs >= 1000 && i < len(units)-1 {
		hs /= 1000
		i++
	}
	return strconv.FormatFloat(hs, 'f', 1, 64) + " " + units[i]
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// demoFlags are the demo's command-line values.
type demoFlags struct {
	miners, sv1Miners     int
	shares, sv1Shares     float64
	every, duration, jobs time.Duration
	extra                 []string // positional arguments (none are taken)
}

// minDemoInterval bounds -every and -jobs from below: a status line or a
// job every few nanoseconds would only burn the CPU.
const minDemoInterval = 100 * time.Millisecond

// validate checks every flag, naming the bad one, and refuses a swarm the
// process cannot hold: the demo runs the miners and the proxy in one
// process, so every simulated miner costs two descriptors (its socket and
// the proxy's end), and running out of them would stop the proxy's engine.
func (f *demoFlags) validate(openFiles, loops int) error {
	switch {
	case len(f.extra) > 0:
		return fmt.Errorf("unexpected argument %q (flags only; see go-proxy demo -h)", f.extra[0])
	case f.miners < 1:
		return fmt.Errorf("-miners must be at least 1, got %d", f.miners)
	case f.sv1Miners < 0:
		return fmt.Errorf("-sv1-miners must be 0 or more, got %d", f.sv1Miners)
	case !(f.shares >= 0) || math.IsInf(f.shares, 0):
		return fmt.Errorf("-shares must be a rate of 0 or more per second, got %v", f.shares)
	case !(f.sv1Shares >= 0) || math.IsInf(f.sv1Shares, 0):
		return fmt.Errorf("-sv1-shares must be a rate of 0 or more per second, got %v", f.sv1Shares)
	case f.every < minDemoInterval:
		return fmt.Errorf("-every must be at least %v, got %v", minDemoInterval, f.every)
	case f.jobs < minDemoInterval:
		return fmt.Errorf("-jobs must be at least %v, got %v", minDemoInterval, f.jobs)
	case f.duration < 0:
		return fmt.Errorf("-duration must be 0 (until Ctrl-C) or more, got %v", f.duration)
	}
	total := f.miners + f.sv1Miners
	if most := demoMaxMiners(openFiles, loops); total > most {
		return fmt.Errorf("-miners %d and -sv1-miners %d need about %d open files (the demo holds both ends of every miner connection), "+
			"but the open-files limit is %d: at most %d miners in all; raise the limit (ulimit -n) or run go-proxy and the bench swarm (go run ./bench) as separate processes",
			f.miners, f.sv1Miners, demoFiles(total, loops), openFiles, most)
	}
	return nil
}

// demoFixedFiles covers the demo's descriptors that do not grow with the
// miners: listeners (one per event loop and a mock pool's), the API, epoll
// and event fds of the loops and swarms, standard streams.
const demoFixedFiles = 128

// demoFiles estimates the descriptors the demo holds for n miners on
// loops event loops: two per miner, two per pool connection (the proxy's
// and the mock pool's end; one per 256 CryptoNote miners per loop, plus
// one per loop and family), and the fixed part.
func demoFiles(n, loops int) int {
	return 2*n + 2*loops*(n/256+2) + demoFixedFiles
}

// demoMaxMiners is the largest miner count whose demoFiles fits openFiles.
func demoMaxMiners(openFiles, loops int) int {
	lo, hi := 0, max(openFiles, 0)
	for lo < hi { // demoFiles grows with n
		mid := (lo + hi + 1) / 2
		if demoFiles(mid, loops) <= openFiles {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// openFilesLimit returns RLIMIT_NOFILE's soft limit (Go raises it to the
// hard limit at start).
func openFilesLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(rl.Cur)
}
