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
// With -peer-bin and -peer-args it measures a second proxy (e.g.
// xmrig-proxy) on the same load in the same invocation: -runs pairs of
// fresh processes, go-proxy and the peer alternating (ABBA by default),
// and reports both sides' figures and the ratios go-proxy/peer per pair
// with their medians.
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
	if o.PeerBin != "" {
		if _, err := os.Stat(o.PeerBin); err != nil {
			return nil, fmt.Errorf("-peer-bin: %w", err)
		}
	}
	steps := abSequence(o.Runs, o.PeerBin != "", o.PeerOrder)
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = buildTimeout + time.Duration(len(steps))*(o.runTimeout()+o.WaitQuiet+quietProbe)
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
	if o.Target == "" {
		bin, root, err := proxyBinary(ctx, o.ProxyBin, tmp, env.logf)
		if err != nil {
			return nil, err
		}
		env.bin, target = bin, bin
		if root != "" {
			target = "go-proxy built from " + root + "/cmd/go-proxy"
		}
	}

	rep := &Report{
		Schema:  reportSchema,
		Date:    dateNow().UTC().Format(time.RFC3339),
		Command: commandLine(o.Args),
		Target:  target,
		Options: *o,
		Machine: machine,
	}
	if o.PeerBin != "" {
		rep.Peer = &peerReport{Bin: o.PeerBin, Args: o.PeerArgs, Order: o.PeerOrder}
	}
	for seq, st := range steps {
		name := fmt.Sprintf("run %d/%d", st.Pair, o.Runs)
		if rep.Peer != nil {
			name += " " + st.Side
		}
		res, err := env.runOnce(ctx, st.Pair, o.Runs, st.Side)
		if err != nil {
			env.logf("%s failed: %v", name, err)
			rep.Failures = append(rep.Failures, fmt.Sprintf("%s failed: %v", name, err))
			if ctx.Err() != nil {
				break // interrupted or out of time: report what there is
			}
			continue
		}
		res.Seq = seq + 1
		env.logf("%s: fan-out last %.1f ms, submit p99 %.2f ms, RSS/miner %.0f B, CPU/1000 shares %.3f s, accepted %.0f/s, errors %.0f",
			name, res.FanoutLastMs, res.SubmitP99Ms, res.RSSPerMiner, res.CPUPer1000Shares, res.AcceptedPerSec, res.Errors)
		if st.Side == sidePeer {
			rep.Peer.Runs = append(rep.Peer.Runs, res)
		} else {
			rep.Runs = append(rep.Runs, res)
		}
	}
	if len(rep.Runs) == 0 && (rep.Peer == nil || len(rep.Peer.Runs) == 0) {
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
		if err := appendLine(o.Save, line); err != nil {
			return err
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

// commandLine is how the harness was invoked, for the report: a shell
// command that repeats it (arguments with spaces or quotes are quoted).
func commandLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.TrimSpace("go run ./bench " + strings.Join(q, " "))
}

// shellQuote returns s as one POSIX shell word: unchanged when it holds
// only safe characters, else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// numCPU is the parallelism the swarm and the proxy default to.
func numCPU() int { return runtime.GOMAXPROCS(0) }
