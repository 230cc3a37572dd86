package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"forge.lthn.ai/core/go-proxy/internal/segrelay"
)

// Waits of a run.
const (
	listenTimeout    = 30 * time.Second // the started proxy starts listening
	poolLoginTimeout = 60 * time.Second // the proxy logs in to the mock pool
	profileSlack     = 30 * time.Second
	lastJobWaitMax   = 10 * time.Second
)

// runEnv is what the runs of one invocation share.
type runEnv struct {
	o        *Options
	bin      string    // proxy binary; "" with -target
	tmp      string    // temp dir for configs and logs
	progress io.Writer // progress lines; nil when quiet
}

// logf writes one progress line.
func (e *runEnv) logf(format string, args ...any) {
	if e.progress != nil {
		fmt.Fprintf(e.progress, "bench: "+format+"\n", args...)
	}
}

// proxyReading is the proxy's memory and CPU at one instant.
type proxyReading struct {
	RSS, HWM int64
	CPU      float64
	Threads  int
	Err      error
}

// readProxy reads /proc/PID/status and /proc/PID/stat.
func readProxy(pid int) proxyReading {
	if pid <= 0 {
		return proxyReading{Err: errors.New("proxy pid unknown")}
	}
	st, err := readProcStatus(pid)
	if err != nil {
		return proxyReading{Err: err}
	}
	ps, err := readProcStat(pid)
	if err != nil {
		return proxyReading{Err: err}
	}
	return proxyReading{RSS: st.RSS, HWM: st.HWM, CPU: ps.CPUSeconds(), Threads: st.Threads}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// rampTimeout bounds the wait for every miner to log in or give up.
func (o *Options) rampTimeout() time.Duration {
	d := 60*time.Second + 2*time.Duration(o.Miners)*time.Millisecond
	if o.Ramp > 0 {
		d += time.Duration(float64(o.Miners) / float64(o.Ramp) * float64(time.Second))
	}
	return d + o.SwarmTimeout
}

// startedProxy is the proxy side of a run.
type startedProxy struct {
	proc *proxyProc // nil with -target
	addr string
	pid  int
	ep   proxyEndpoints
	argv []string // the peer's expanded command line
}

// alive reports whether the measured proxy still runs.
func (s *startedProxy) alive() bool {
	if s.proc != nil {
		return s.proc.Alive()
	}
	return s.pid > 0 && procAlive(s.pid)
}

// startTarget starts the proxy of side (go-proxy, or the -peer-bin peer)
// against fam's pool (or adopts -target) and waits until it listens and
// has logged in to the pool.
func (e *runEnv) startTarget(ctx context.Context, idx int, side string, fam family) (*startedProxy, error) {
	o := e.o
	var sp *startedProxy
	var err error
	switch {
	case side == sidePeer:
		sp, err = e.startPeer(ctx, idx, fam)
	case o.Target == "":
		sp, err = e.startGoProxy(ctx, idx, fam)
	default:
		sp = &startedProxy{addr: o.Target, pid: o.PID}
		e.logf("mock pool listening on %s: the proxy at %s must use it as its pool", fam.PoolAddr(), o.Target)
		if sp.pid == 0 {
			_, port, _ := net.SplitHostPort(o.Target)
			if n, err := strconv.Atoi(port); err == nil {
				sp.pid = listenerPID(n)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, poolLoginTimeout)
	err = fam.WaitPool(pctx, func(p poolCounts) bool { return p.Logins >= 1 })
	cancel()
	if err != nil {
		if sp.proc != nil {
			tail := sp.proc.LogTail(10)
			sp.proc.Stop(stopGrace)
			return nil, fmt.Errorf("the %s did not log in to the mock pool at %s: %w\n%s", side, fam.PoolAddr(), err, tail)
		}
		return nil, fmt.Errorf("the proxy at %s did not log in to the mock pool at %s within %s: %w", o.Target, fam.PoolAddr(), poolLoginTimeout, err)
	}
	return sp, nil
}

// startGoProxy starts go-proxy with a generated config and waits until it
// listens.
func (e *runEnv) startGoProxy(ctx context.Context, idx int, fam family) (*startedProxy, error) {
	o := e.o
	sp := &startedProxy{}
	var err error
	if sp.ep.Bind, err = freePort(); err != nil {
		return nil, err
	}
	if sp.ep.API, err = freePort(); err != nil {
		return nil, err
	}
	var env []string
	if o.Profile != "" {
		if sp.ep.Pprof, err = freePort(); err != nil {
			return nil, err
		}
		env = append(env, "GOPROXY_PPROF=127.0.0.1:"+strconv.Itoa(sp.ep.Pprof))
	}
	cfg, err := proxyConfig(o, sp.ep, fam.PoolAddr(), fam.PoolFamily())
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.tmp, fmt.Sprintf("run%d", idx))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("run dir: %w", err)
	}
	if sp.proc, err = startProxy(e.bin, dir, cfg, env); err != nil {
		return nil, err
	}
	sp.pid = sp.proc.PID
	sp.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(sp.ep.Bind))
	lctx, cancel := context.WithTimeout(ctx, listenTimeout)
	err = sp.proc.waitListening(lctx, sp.addr)
	cancel()
	if err != nil {
		sp.proc.Stop(stopGrace)
		return nil, err
	}
	return sp, nil
}

// startPeer starts -peer-bin with -peer-args expanded for this run, in a
// fresh directory, and waits until it listens. When the process listening
// is not the one started (a wrapper script), the listener is measured.
func (e *runEnv) startPeer(ctx context.Context, idx int, fam family) (*startedProxy, error) {
	o := e.o
	sp := &startedProxy{}
	var err error
	if sp.ep.Bind, err = freePort(); err != nil {
		return nil, err
	}
	if o.peerTmpl.uses(phAPIPort) {
		if sp.ep.API, err = freePort(); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(e.tmp, fmt.Sprintf("run%d-peer", idx))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("peer run dir: %w", err)
	}
	sp.argv = o.peerTmpl.expand(peerValues{Pool: fam.PoolAddr(), Port: sp.ep.Bind, APIPort: sp.ep.API,
		Loops: proxyLoops(o), Mode: o.Mode, Workdir: dir})
	if sp.proc, err = startProcess(o.PeerBin, sp.argv, dir, "peer.log", nil); err != nil {
		return nil, fmt.Errorf("-peer-bin: %w", err)
	}
	sp.pid = sp.proc.PID
	sp.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(sp.ep.Bind))
	lctx, cancel := context.WithTimeout(ctx, listenTimeout)
	err = sp.proc.waitListening(lctx, sp.addr)
	cancel()
	if err != nil {
		sp.proc.Stop(stopGrace)
		return nil, fmt.Errorf("peer (%s): %w", strings.Join(sp.argv, " "), err)
	}
	if l := listenerPID(sp.ep.Bind); l > 0 && l != sp.pid {
		e.logf("run %d: the peer %d listens through process %d: measuring %d", idx, sp.pid, l, l)
		sp.pid = l
	}
	return sp, nil
}

// runOnce performs run idx (1-based) of n: pool, proxy, idle sample,
// ramp, after-ramp sample, measurement window, end sample, teardown.
func (e *runEnv) runOnce(ctx context.Context, idx, n int, side string) (*RunResult, error) {
	o := e.o
	res := &RunResult{Run: idx}
	label := fmt.Sprintf("run %d/%d", idx, n)
	if o.PeerBin != "" {
		res.Side = side
		label += " " + side
	}
	// The quiet wait is outside the run's own time limit.
	if o.WaitQuiet > 0 {
		waited, nb, err := waitQuiet(ctx, o.WaitQuiet)
		if err != nil {
			return nil, err
		}
		res.WaitedQuiet = round3(waited.Seconds())
		if nb.Busy {
			e.logf("%s: the box is still busy after waiting %s (%s); measuring anyway", label, waited.Round(time.Second), topText(nb.Top))
		} else if waited > quietProbe {
			e.logf("%s: waited %s for the box to be quiet", label, waited.Round(time.Second))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.runTimeout())
	defer cancel()

	fam, err := startFamily(o, o.PoolAddr)
	if err != nil {
		return nil, err
	}
	defer fam.Close()
	sp, err := e.startTarget(ctx, idx, side, fam)
	if err != nil {
		return nil, err
	}
	if sp.proc != nil {
		defer sp.proc.Stop(stopGrace)
	}
	res.Proxy.PID = sp.pid
	res.Proxy.Argv = sp.argv
	if sp.pid == 0 {
		res.Problems = append(res.Problems, "proxy pid unknown (pass -pid): no RSS or CPU figures")
	}
	e.logf("%s: proxy pid %d on %s, mock pool %s, %d %s miners", label, sp.pid, sp.addr, fam.PoolAddr(), o.Miners, o.Family)

	// Idle: proxy up and logged in to the pool, no miners.
	smp := startSampler(sp.pid, fam, e.progress, label)
	defer smp.stop()
	a := takeCPUSnap()
	if err := sleepCtx(ctx, o.Settle); err != nil {
		return nil, err
	}
	b := takeCPUSnap()
	res.NeighboursIdle = neighbours(a, b, onlineCPUs(), selfPID, sp.pid)
	idle := readProxy(sp.pid)
	res.KernelIdle = readKernelMem()

	// Ramp.
	res.FDs = newFDBudget(o.Miners, proxyLoops(o), swarmLoops(o), o.srcIPCount(), readMachine().PortRange, openFilesLimit(), o.Mode)
	smp.setPhase("ramp")
	rampStart := time.Now()
	swarmAddr := sp.addr
	if rc := o.relayConfig(); rc != nil {
		r, err := segrelay.Start(sp.addr, *rc)
		if err != nil {
			return nil, fmt.Errorf("relay: %w", err)
		}
		defer r.Close()
		swarmAddr = r.Addr()
	}
	if err := fam.StartSwarm(ctx, swarmAddr, o); err != nil {
		return nil, err
	}
	jd := startJobDriver(fam, o.Jobs)
	rctx, rcancel := context.WithTimeout(ctx, o.rampTimeout())
	rerr := fam.WaitSwarm(rctx, swarmCounts.settled)
	rcancel()
	if ctx.Err() != nil {
		jd.finish(context.Background(), 0)
		return nil, ctx.Err()
	}
	res.RampSeconds = round3(time.Since(rampStart).Seconds())
	if rerr != nil {
		s := fam.SwarmStats()
		res.Problems = append(res.Problems, fmt.Sprintf("ramp incomplete after %s: %d of %d miners logged in, %d closed",
			o.rampTimeout(), s.LoggedIn, s.Miners, s.Closed))
	}
	smp.setPhase("settle")
	if err := sleepCtx(ctx, o.Settle); err != nil {
		jd.finish(context.Background(), 0)
		return nil, err
	}
	ramp := readProxy(sp.pid)
	res.KernelRamp = readKernelMem()
	rampSwarm := fam.SwarmStats()

	// Measurement window.
	smp.setPhase("window")
	w0, p0, c0, a0 := fam.SwarmStats(), fam.PoolStats(), takeCPUSnap(), readProcActivity(sp.pid)
	var prof *cpuProfile
	if sp.ep.Pprof > 0 {
		path := filepath.Join(o.Profile, fmt.Sprintf("cpu-run%d.pprof", idx))
		prof = startCPUProfile(ctx, sp.ep.Pprof, max(1, int(o.Duration.Round(time.Second).Seconds())), path)
	}
	werr := sleepCtx(ctx, o.Duration)
	w1, p1, c1, a1 := fam.SwarmStats(), fam.PoolStats(), takeCPUSnap(), readProcActivity(sp.pid)
	smp.setPhase("end")
	jobs := jd.finish(ctx, min(o.Jobs, lastJobWaitMax))
	if werr != nil {
		return nil, werr
	}
	if prof != nil {
		if err := prof.wait(o.Duration + profileSlack); err != nil {
			res.Problems = append(res.Problems, "CPU profile: "+err.Error())
		} else {
			res.Profiles = append(res.Profiles, prof.path)
		}
		hp := filepath.Join(o.Profile, fmt.Sprintf("heap-run%d.pprof", idx))
		if err := heapProfile(ctx, sp.ep.Pprof, hp); err != nil {
			res.Problems = append(res.Problems, "heap profile: "+err.Error())
		} else {
			res.Profiles = append(res.Profiles, hp)
		}
	}

	// End: the proxy must still be alive with every miner connected.
	end := readProxy(sp.pid)
	final := fam.SwarmStats()
	pool := fam.PoolStats()
	res.Proxy.Alive = sp.alive()
	if sp.ep.API > 0 && res.Proxy.Alive {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		if s, err := getSummary(actx, sp.ep.API); err == nil {
			res.Proxy.API = s
		} else if side == sidePeer {
			// A peer's API may not be go-proxy's: its counters are optional.
			res.Notes = append(res.Notes, "peer /1/summary: "+err.Error())
		} else {
			res.Problems = append(res.Problems, "proxy /1/summary: "+err.Error())
		}
		acancel()
	}
	smp.stop()
	fam.CloseSwarm()
	if sp.proc != nil {
		if !res.Proxy.Alive {
			res.Proxy.Exit = sp.proc.ExitText()
			res.Proxy.LogTail = sp.proc.LogTail(20)
		}
		sp.proc.Stop(stopGrace)
	}

	res.Timeline = smp.samples()
	fillResult(res, o, idle, ramp, end, rampSwarm, final, w0, w1, p0, p1, pool, c0, c1, sp.pid)
	fillActivity(res, a0, a1, w0, w1)
	res.Jobs = analyseJobs(jobs, c0.At, c1.At)
	fillFanout(res)
	return res, nil
}

// fillResult derives the run's numbers from the raw readings.
func fillResult(res *RunResult, o *Options, idle, ramp, end proxyReading, rampSwarm, final, w0, w1 swarmCounts,
	p0, p1, pool poolCounts, c0, c1 cpuSnap, pid int) {
	s := &res.Summary
	secs := c1.At.Sub(c0.At).Seconds()
	res.WindowSeconds = round3(secs)

	for _, r := range []proxyReading{idle, ramp, end} {
		if r.Err != nil && pid > 0 {
			res.Problems = append(res.Problems, "reading the proxy's /proc: "+r.Err.Error())
			break
		}
	}
	s.RSSIdle, s.RSSRamp, s.RSSEnd = float64(idle.RSS), float64(ramp.RSS), float64(end.RSS)
	s.CPUIdle, s.CPURamp, s.CPUEnd = round3(idle.CPU), round3(ramp.CPU), round3(end.CPU)
	res.Proxy.Threads, res.Proxy.HWM = end.Threads, end.HWM
	s.LoggedIn = float64(rampSwarm.LoggedIn)
	if rampSwarm.LoggedIn > 0 && idle.Err == nil && ramp.Err == nil {
		s.RSSPerMiner = round3(float64(ramp.RSS-idle.RSS) / float64(rampSwarm.LoggedIn))
	}

	answered := (w1.Accepted + w1.Rejected) - (w0.Accepted + w0.Rejected)
	if secs > 0 {
		s.AcceptedPerSec = round3(float64(w1.Accepted-w0.Accepted) / secs)
		s.PoolAcceptedPS = round3(float64(p1.Accepted-p0.Accepted) / secs)
		if ps, ok := c1.Procs[pid]; ok && pid > 0 {
			if ps0, ok := c0.Procs[pid]; ok {
				cpu := ps.CPUSeconds() - ps0.CPUSeconds()
				s.ProxyCores = round3(cpu / secs)
				if answered > 0 {
					s.CPUPer1000Shares = round6(cpu / (float64(answered) / 1000))
				}
			}
		}
		if h1, ok := c1.Procs[selfPID]; ok {
			if h0, ok := c0.Procs[selfPID]; ok {
				s.HarnessCores = round3((h1.CPUSeconds() - h0.CPUSeconds()) / secs)
			}
		}
	}
	res.NeighboursWindow = neighbours(c0, c1, onlineCPUs(), selfPID, pid)

	res.ListenOverflows = res.KernelRamp.ListenOverflows - res.KernelIdle.ListenOverflows
	if dn := res.KernelRamp.TCPInUse - res.KernelIdle.TCPInUse; dn > 0 {
		s.KernelPerSocket = round3(float64(res.KernelRamp.Slab-res.KernelIdle.Slab) / float64(dn))
	}

	res.submit = distOf(w1.SubmitRTT).sub(distOf(w0.SubmitRTT))
	s.SubmitP50Ms, s.SubmitP99Ms = ms(res.submit.quantile(0.5)), ms(res.submit.quantile(0.99))
	res.login = distOf(final.Login)
	s.LoginP50Ms, s.LoginP99Ms = ms(res.login.quantile(0.5)), ms(res.login.quantile(0.99))

	s.Errors = float64(final.errorCount())
	res.ErrorKinds = final.Errors
	res.Pool = pool
	s.PoolRejected, s.Duplicates, s.Overlaps = float64(pool.Rejected), float64(pool.Duplicates), float64(pool.Overlaps)
	sw := &res.Swarm
	sw.Miners, sw.LoggedIn, sw.Closed = final.Miners, final.LoggedIn, final.Closed
	sw.SharesSent, sw.Accepted, sw.Rejected = final.Sent, final.Accepted, final.Rejected
	sw.KernelTS, sw.FallbackTS, sw.Hashes = final.KernelTS, final.FallbackTS, final.Hashes

	if !res.Proxy.Alive {
		res.Problems = append(res.Problems, fmt.Sprintf("proxy process is gone at the end (%s)", res.Proxy.Exit))
	}
	if pool.Duplicates > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("the pool saw %d duplicate shares: overlapping nonce space", pool.Duplicates))
	}
	if pool.Overlaps > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("the pool saw %d shares on another miner's coinbase: overlapping extranonce space", pool.Overlaps))
	}
	if final.FallbackTS > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d reads had no kernel timestamp (time.Now used)", final.FallbackTS))
	}
	if final.errorCount() > 0 {
		kinds := slices.Sorted(maps.Keys(final.Errors))
		parts := make([]string, 0, len(kinds))
		for _, k := range kinds {
			parts = append(parts, fmt.Sprintf("%s=%d", k, final.Errors[k]))
		}
		res.Problems = append(res.Problems, "miner errors: "+strings.Join(parts, ", "))
	}
	if nw := res.NeighboursWindow; nw.Busy {
		res.Problems = append(res.Problems, fmt.Sprintf("box busy during the window: other processes %.2f cores, unexplained %.2f cores (%s)",
			nw.Others, nw.Unexplained, topText(nw.Top)))
	}
}

// fillActivity derives the syscalls and context switches per share
// answered in the window from the proxy's counters at its two ends.
func fillActivity(res *RunResult, a0, a1 procActivity, w0, w1 swarmCounts) {
	if err := cmp.Or(a0.Err, a1.Err); err != nil {
		res.Notes = append(res.Notes, "syscalls per share: "+err.Error())
		return
	}
	answered := (w1.Accepted + w1.Rejected) - (w0.Accepted + w0.Rejected)
	s := &res.Summary
	if v, ok := perShare(a0.Syscalls(), a1.Syscalls(), answered); ok {
		s.SyscallsPerShare = round3(v)
		res.Syscalls = &syscallCounts{Read: a1.SyscR - a0.SyscR, Write: a1.SyscW - a0.SyscW, Answered: answered}
	} else {
		res.Notes = append(res.Notes, "syscalls per share: no share answered, or the counter went back")
	}
	if v, ok := perShare(a0.CtxSwitches, a1.CtxSwitches, answered); ok {
		s.CtxSwitchesPerShare = round3(v)
	} else {
		res.Notes = append(res.Notes, "context switches per share: no share answered, or a thread exited and took its count")
	}
}

// fillFanout derives the fan-out numbers from the jobs in the window.
func fillFanout(res *RunResult) {
	var lasts []float64
	var ds []dist
	for _, j := range res.Jobs {
		if !j.InWindow {
			continue
		}
		lasts = append(lasts, j.LastMs)
		ds = append(ds, j.samples)
		if int(j.Miners) < j.LoggedIn {
			res.Problems = append(res.Problems, fmt.Sprintf("job %s reached %d of the %d miners logged in when it was sent", j.ID, j.Miners, j.LoggedIn))
		}
	}
	if len(lasts) == 0 {
		res.Problems = append(res.Problems, "no job was sent in the measurement window (-jobs longer than -duration?)")
		return
	}
	res.fanout = mergeDists(ds...)
	res.FanoutLastMs = round3(median(lasts))
	res.FanoutLastMaxMs = slices.Max(lasts)
	res.FanoutP50Ms, res.FanoutP99Ms = ms(res.fanout.quantile(0.5)), ms(res.fanout.quantile(0.99))
}

// topText renders the top non-measurement processes.
func topText(top []procCPU) string {
	var parts []string
	for _, p := range top {
		if p.Role != "" {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s[%d] %.2f", p.Comm, p.PID, p.Cores))
		if len(parts) == 3 {
			break
		}
	}
	return strings.Join(parts, ", ")
}

// proxyLoops is the proxy's event-loop count as the fd budget sees it.
func proxyLoops(o *Options) int {
	if o.Loops > 0 {
		return o.Loops
	}
	return max(1, numCPU())
}

// swarmLoops is the swarm's loop count (its default: GOMAXPROCS).
func swarmLoops(o *Options) int { return min(o.Miners, max(1, numCPU())) }
