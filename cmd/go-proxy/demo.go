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
	"forge.lthn.ai/core/go-proxy/bench/swarm"
	"forge.lthn.ai/core/go-proxy/httpapi"
	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// runDemo starts an in-process mock pool, a proxy in front of it and a
// swarm of simulated XMRig miners, and prints a status line every few
// seconds until Ctrl-C (or -duration).
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("go-proxy demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	miners := fs.Int("miners", 300, "simulated miners")
	shares := fs.Float64("shares", 20, "shares per second across all miners")
	every := fs.Duration("every", 2*time.Second, "status line interval")
	duration := fs.Duration("duration", 0, "stop after this long (0 = until Ctrl-C)")
	jobs := fs.Duration("jobs", 10*time.Second, "mock pool job interval")
	verbose := fs.Bool("v", false, "show the proxy's log")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if *miners < 1 {
		fmt.Fprintln(stderr, "go-proxy demo: -miners must be at least 1")
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

	sw, err := swarm.Start(ctx, swarm.Config{
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

	fmt.Fprintf(stdout, "go-proxy demo: mock pool %s ← proxy %s ← %d simulated miners (%.0f shares/s). Ctrl-C to stop.\n",
		pool.Addr(), proxyAddr, *miners, *shares)
	fmt.Fprintf(stdout, "point a real XMRig here too: xmrig -o %s -u WALLET --nicehash\n", proxyAddr)
	fmt.Fprintf(stdout, "HTTP API: http://%s/1/summary (also /1/workers, /1/miners, /metrics)\n", api.Addr())
	start := time.Now()
	t := time.NewTicker(*every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			printStatus(stdout, time.Since(start), p, pool, sw)
			fmt.Fprintln(stdout, "go-proxy demo: stopped")
			return exitOK
		case <-p.Done():
			fmt.Fprintln(stderr, "go-proxy demo: proxy engine stopped:", p.Err())
			return exitFailed
		case <-t.C:
			printStatus(stdout, time.Since(start), p, pool, sw)
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
	fmt.Fprintf(w, "[%5s] miners %d/%d ready | upstreams %d active/%d | shares %d accepted %d rejected %d invalid | hashrate 60s %s | pool: %d connections, %d accepted | job fan-out p50 %s\n",
		up.Round(time.Second), ms.LoggedIn, ms.Miners, s.Upstreams.Active, s.Upstreams.Total,
		s.Counters.Accepted, s.Counters.Rejected, s.Counters.Invalid,
		humanRate(s.Hashrate[0]), ps.ActiveConnections, ps.Accepted, fanout)
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
