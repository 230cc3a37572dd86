// Command bench is go-proxy's load-test harness.
//
//	go run ./bench -miners 15000 -runs 3 -html report.html
//
// It starts an in-process mock pool (CryptoNote or stratum v1), builds and
// starts ./cmd/go-proxy as a separate process pointed at it (or measures
// any proxy given with -target), connects a swarm of simulated miners
// through it and reports, per run and as medians over -runs:
//
//   - connect+login latency, job fan-out latency (kernel receive stamp
//     minus the pool's send time, per miner and job; the time until the
//     last miner has each job), submit round trip, accepted shares/s;
//   - errors by kind (miner side), pool rejections and duplicate shares
//     (overlapping nonce space: a correctness failure);
//   - the proxy's RSS and CPU (from /proc) idle, after the ramp and at the
//     end, RSS per miner and CPU seconds per 1000 shares;
//   - the harness's own CPU and the other processes using the CPU, so a
//     noisy neighbour shows in the report.
//
// Progress goes to stderr once a second; the result is a table on stdout
// followed by one JSON line (alone with -json). -html writes a
// self-contained report with latency histograms and RSS over time.
// Everything the harness starts it stops, on exit and on SIGINT/SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the harness could not measure
	exitUsage   = 2 // bad command line, or the run cannot fit
	exitProblem = 3 // measured, but the proxy died or handed out overlapping work
)

// buildTimeout bounds go build ./cmd/go-proxy.
const buildTimeout = 5 * time.Minute

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without os.Exit.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var progress io.Writer = stderr
	if o.Quiet {
		progress = nil
	}
	if o.Scenario == "routing" {
		code, err := runRouting(ctx, &o, stdout, progress)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
		}
		return code
	}
	rep, err := execute(ctx, &o, progress)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		if errors.Is(err, errDoesNotFit) {
			return exitUsage
		}
		return exitFailed
	}
	if err := writeOutputs(rep, &o, stdout); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitFailed
	}
	if !rep.OK {
		return exitProblem
	}
	return exitOK
}

// errDoesNotFit marks a run refused before it started (descriptor or port
// budget).
var errDoesNotFit = errors.New("does not fit")

// execute checks the budget, prepares the proxy binary and performs every
// run. Progress lines go to progress (nil = quiet).
func execute(ctx context.Context, o *Options, progress io.Writer) (*Report, error) {
	machine := readMachine()
	fds := newFDBudget(o.Miners, proxyLoops(o), swarmLoops(o), o.srcIPCount(), machine.PortRange, machine.OpenFiles, o.Mode)
	if err := fds.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", errDoesNotFit, err)
	}
	env := &runEnv{o: o, progress: progress}
	if o.Target == "" {
		if c := proxyConnectionCap(machine.OpenFiles, o.MaxConnections, proxyLoops(o)); o.Miners > c {
			env.logf("%d miners exceed the proxy's connection cap of %d: expect refusals (errors of kind connect/closed), never a crash", o.Miners, c)
		}
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = buildTimeout + time.Duration(o.Runs)*(o.runTimeout()+o.WaitQuiet+quietProbe)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	tmp, err := os.MkdirTemp("", "go-proxy-bench-*")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	env.tmp = tmp

	target := o.Target
	switch {
	case o.Target != "":
	case o.ProxyBin != "":
		if _, err := os.Stat(o.ProxyBin); err != nil {
			return nil, fmt.Errorf("-proxy-bin: %w", err)
		}
		env.bin, target = o.ProxyBin, o.ProxyBin
	default:
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("working directory: %w", err)
		}
		root, err := findModuleRoot(wd)
		if err != nil {
			return nil, err
		}
		env.logf("building ./cmd/go-proxy in %s", root)
		bctx, bcancel := context.WithTimeout(ctx, buildTimeout)
		env.bin, err = buildProxy(bctx, root, tmp)
		bcancel()
		if err != nil {
			return nil, err
		}
		target = "go-proxy built from " + root + "/cmd/go-proxy"
	}

	rep := &Report{
		Schema:  reportSchema,
		Date:    dateNow().UTC().Format(time.RFC3339),
		Command: commandLine(o.Args),
		Target:  target,
		Options: *o,
		Machine: machine,
	}
	for i := 1; i <= o.Runs; i++ {
		res, err := env.runOnce(ctx, i, o.Runs)
		if err != nil {
			env.logf("run %d/%d failed: %v", i, o.Runs, err)
			rep.Failures = append(rep.Failures, fmt.Sprintf("run %d failed: %v", i, err))
			if ctx.Err() != nil {
				break // interrupted or out of time: report what there is
			}
			continue
		}
		env.logf("run %d/%d: fan-out last %.1f ms, submit p99 %.2f ms, RSS/miner %.0f B, CPU/1000 shares %.3f s, accepted %.0f/s, errors %.0f",
			i, o.Runs, res.FanoutLastMs, res.SubmitP99Ms, res.RSSPerMiner, res.CPUPer1000Shares, res.AcceptedPerSec, res.Errors)
		rep.Runs = append(rep.Runs, res)
	}
	if len(rep.Runs) == 0 {
		return nil, fmt.Errorf("no run completed: %s", strings.Join(rep.Failures, "; "))
	}
	rep.finish()
	return rep, nil
}

// writeOutputs writes the table (unless -json), the JSON line (always
// last), the -save copy and the -html report.
func writeOutputs(rep *Report, o *Options, stdout io.Writer) error {
	line, err := rep.jsonLine()
	if err != nil {
		return err
	}
	if o.HTML != "" {
		if err := writeHTMLFile(o.HTML, rep); err != nil {
			return err
		}
	}
	if o.Save != "" {
		f, err := os.OpenFile(o.Save, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
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
	}
	if !o.JSONOnly {
		if err := writeTable(stdout, rep); err != nil {
			return err
		}
	}
	_, err = stdout.Write(line)
	return err
}

// commandLine is how the harness was invoked, for the report.
func commandLine(args []string) string {
	return strings.TrimSpace("go run ./bench " + strings.Join(args, " "))
}

// numCPU is the parallelism the swarm and the proxy default to.
func numCPU() int { return runtime.GOMAXPROCS(0) }
