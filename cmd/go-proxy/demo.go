package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
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
	if *miners < 1 || *sv1Miners < 0 {
		fmt.Fprintln(stderr, "go-proxy demo: -miners must be at least 1 and -sv1-miners at least 0")
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
