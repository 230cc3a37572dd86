package main

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
)

// reportSchema versions the JSON line.
const reportSchema = 1

// Summary holds the headline numbers of one run, or their medians over
// the runs of an invocation. Latencies are milliseconds, RSS bytes, CPU
// seconds (cumulative since the proxy started) or cores (CPU seconds per
// second over the measurement window).
type Summary struct {
	LoggedIn         float64 `json:"logged_in"`
	RSSPerMiner      float64 `json:"rss_per_miner_bytes"`
	FanoutLastMs     float64 `json:"fanout_last_median_ms"`
	FanoutLastMaxMs  float64 `json:"fanout_last_max_ms"`
	FanoutP50Ms      float64 `json:"fanout_p50_ms"`
	FanoutP99Ms      float64 `json:"fanout_p99_ms"`
	SubmitP50Ms      float64 `json:"submit_p50_ms"`
	SubmitP99Ms      float64 `json:"submit_p99_ms"`
	LoginP50Ms       float64 `json:"login_p50_ms"`
	LoginP99Ms       float64 `json:"login_p99_ms"`
	CPUPer1000Shares float64 `json:"cpu_s_per_1000_shares"`
	AcceptedPerSec   float64 `json:"accepted_per_s"`
	PoolAcceptedPS   float64 `json:"pool_accepted_per_s"`
	ProxyCores       float64 `json:"proxy_cpu_cores"`
	HarnessCores     float64 `json:"harness_cpu_cores"`
	RSSIdle          float64 `json:"rss_idle_bytes"`
	RSSRamp          float64 `json:"rss_after_ramp_bytes"`
	RSSEnd           float64 `json:"rss_end_bytes"`
	CPUIdle          float64 `json:"cpu_idle_s"`
	CPURamp          float64 `json:"cpu_after_ramp_s"`
	CPUEnd           float64 `json:"cpu_end_s"`
	RampSeconds      float64 `json:"ramp_s"`
	Errors           float64 `json:"errors"`
	PoolRejected     float64 `json:"pool_rejected"`
	Duplicates       float64 `json:"pool_duplicates"`
	Overlaps         float64 `json:"pool_overlaps"`
	// KernelPerSocket is the machine's slab growth over the ramp divided
	// by the TCP sockets opened (both ends of each loopback connection
	// count): kernel memory per idle TCP socket, outside any RSS.
	KernelPerSocket float64 `json:"kernel_slab_per_tcp_socket_bytes"`
	// SyscallsPerShare is the proxy's read-like + write-like syscalls
	// (/proc/PID/io syscr + syscw) over the window ÷ shares answered;
	// epoll_wait, futex and the rest are not in it (procActivity).
	// CtxSwitchesPerShare is its threads' context switches over the
	// window ÷ shares answered: the wake-ups.
	SyscallsPerShare    float64 `json:"syscalls_per_share"`
	CtxSwitchesPerShare float64 `json:"ctx_switches_per_share"`
}

// fields lists every number of s, in a fixed order, for medians.
func (s *Summary) fields() []*float64 {
	return []*float64{
		&s.LoggedIn, &s.RSSPerMiner, &s.FanoutLastMs, &s.FanoutLastMaxMs, &s.FanoutP50Ms, &s.FanoutP99Ms,
		&s.SubmitP50Ms, &s.SubmitP99Ms, &s.LoginP50Ms, &s.LoginP99Ms, &s.CPUPer1000Shares,
		&s.AcceptedPerSec, &s.PoolAcceptedPS, &s.ProxyCores, &s.HarnessCores,
		&s.RSSIdle, &s.RSSRamp, &s.RSSEnd, &s.CPUIdle, &s.CPURamp, &s.CPUEnd,
		&s.RampSeconds, &s.Errors, &s.PoolRejected, &s.Duplicates, &s.Overlaps, &s.KernelPerSocket,
		&s.SyscallsPerShare, &s.CtxSwitchesPerShare,
	}
}

// medianSummary returns the field-by-field median of runs.
func medianSummary(runs []Summary) Summary {
	var out Summary
	dst := out.fields()
	for i := range dst {
		xs := make([]float64, 0, len(runs))
		for k := range runs {
			xs = append(xs, *runs[k].fields()[i])
		}
		*dst[i] = round6(median(xs))
	}
	return out
}

// syscallCounts are the proxy's read-like and write-like syscalls
// (/proc/PID/io syscr, syscw) in the window and the shares answered in it.
type syscallCounts struct {
	Read     uint64 `json:"syscr"`
	Write    uint64 `json:"syscw"`
	Answered int64  `json:"shares_answered"`
}

// RunResult is everything one run measured.
type RunResult struct {
	Run int `json:"run"`
	// Side is "go-proxy" or "peer" in an A/B invocation (-peer-bin), Run
	// then being the pair; Seq is the run's place in the invocation.
	Side string `json:"side,omitempty"`
	Seq  int    `json:"seq"`
	Summary
	WindowSeconds float64 `json:"window_s"`
	// WaitedQuiet is how long -wait-quiet held the run back (seconds).
	WaitedQuiet float64 `json:"waited_quiet_s,omitempty"`
	// Proxy is the measured process; Alive is checked at the end, before
	// the harness stops it.
	Proxy struct {
		PID     int           `json:"pid"`
		Alive   bool          `json:"alive"`
		Exit    string        `json:"exit,omitempty"`
		Threads int           `json:"threads"`
		HWM     int64         `json:"rss_peak_bytes"`
		API     *proxySummary `json:"summary,omitempty"`
		LogTail string        `json:"log_tail,omitempty"`
		// Argv is the peer's command line as started (ports filled in).
		Argv []string `json:"argv,omitempty"`
	} `json:"proxy"`
	Pool  poolCounts `json:"pool"`
	Swarm struct {
		Miners     int   `json:"miners"`
		LoggedIn   int   `json:"logged_in"`
		Closed     int   `json:"closed"`
		SharesSent int64 `json:"shares_sent"`
		Accepted   int64 `json:"accepted"`
		Rejected   int64 `json:"rejected"`
		KernelTS   int64 `json:"kernel_timestamps"`
		FallbackTS int64 `json:"fallback_timestamps"`
		Hashes     int64 `json:"hashes,omitempty"`
	} `json:"swarm"`
	// ErrorKinds are the swarm's errors by kind over the whole run.
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
	Jobs       []jobResult      `json:"jobs"`
	// NeighboursIdle is CPU use while the proxy idled before the miners,
	// NeighboursWindow over the measurement window.
	NeighboursIdle   neighbourReport `json:"neighbours_idle"`
	NeighboursWindow neighbourReport `json:"neighbours_window"`
	FDs              fdBudget        `json:"fd_budget"`
	// KernelIdle and KernelRamp are machine-wide kernel memory readings
	// at the idle and after-ramp samples.
	KernelIdle kernelMem `json:"kernel_idle"`
	KernelRamp kernelMem `json:"kernel_after_ramp"`
	// ListenOverflows is the machine's TcpExt ListenOverflows growth from
	// the idle sample to the after-ramp one: connects the proxy's accept
	// queue (or another listener's) dropped, each retried a second or
	// more later, which lengthens the ramp.
	ListenOverflows int64    `json:"listen_overflows_ramp"`
	Timeline        []sample `json:"timeline"`
	// Syscalls are the proxy's raw syscr/syscw deltas over the window
	// behind SyscallsPerShare; nil when /proc/PID/io was unreadable.
	Syscalls *syscallCounts `json:"syscalls,omitempty"`
	Profiles []string       `json:"profiles,omitempty"`
	Problems []string       `json:"problems,omitempty"`
	// Notes are figures a peer could not give (its API is optional); they
	// do not make the run a problem.
	Notes []string `json:"notes,omitempty"`

	login, submit, fanout dist // for the HTML report
}

// sample is one point of the 500 ms timeline.
type sample struct {
	T        float64 `json:"t"` // seconds since the proxy was up
	RSS      int64   `json:"rss"`
	CPU      float64 `json:"cpu"`
	LoggedIn int     `json:"logged_in"`
	Accepted int64   `json:"accepted"`
}

// machineInfo describes where the numbers were taken.
type machineInfo struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	OpenFiles int    `json:"open_files"`
	PortRange int    `json:"port_range"`
}

// readMachine collects machineInfo from /proc.
func readMachine() machineInfo {
	model, cpus := parseCPUModel(readSmallFile("cpuinfo"))
	return machineInfo{
		CPU:       model,
		Cores:     max(cpus, runtime.NumCPU()),
		Kernel:    strings.TrimSpace(readSmallFile("sys/kernel/osrelease")),
		Go:        runtime.Version(),
		OpenFiles: openFilesLimit(),
		PortRange: parsePortRange(readSmallFile("sys/net/ipv4/ip_local_port_range")),
	}
}

// budgetCheck is one fixed limit of the performance budget.
type budgetCheck struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	Unit   string  `json:"unit"`
	Pass   bool    `json:"pass"`
	XMRig  string  `json:"xmrig_proxy"`
	Remark string  `json:"remark,omitempty"`
}

// budget compares medians with fixed limits (DESIGN §5 states the budget
// as ratios to xmrig-proxy in the same run, which an A/B run gives and the
// README judges; these are absolute, defined at 15,000 CryptoNote
// NiceHash miners, a job every 5 s, 2000 shares/s) and lists xmrig-proxy's
// reference numbers measured on the same machine.
func budget(m Summary, errorsTotal, dupTotal int64) []budgetCheck {
	lim := func(name string, v, limit float64, unit, xmrig string) budgetCheck {
		return budgetCheck{Name: name, Value: v, Limit: limit, Unit: unit, Pass: v <= limit, XMRig: xmrig}
	}
	return []budgetCheck{
		lim("RSS per miner", m.RSSPerMiner, 700, "bytes", "1,488 bytes"),
		lim("job to the last miner (median)", m.FanoutLastMs, 60, "ms", "172 ms (p99 207 ms)"),
		lim("submit round trip p99", m.SubmitP99Ms, 10, "ms", "127 ms"),
		lim("CPU per 1000 shares", m.CPUPer1000Shares, 0.05, "s", "0.058 s"),
		lim("errors and duplicate shares", float64(errorsTotal+dupTotal), 0, "", "-"),
	}
}

// Report is the result of one invocation: every run and the medians.
type Report struct {
	Schema  int          `json:"schema"`
	Date    string       `json:"date"`
	Command string       `json:"command"`
	Target  string       `json:"target"`
	Options Options      `json:"options"`
	Machine machineInfo  `json:"machine"`
	Runs    []*RunResult `json:"runs"`
	Median  Summary      `json:"median"`
	// ErrorsTotal and DuplicatesTotal add up every run (a correctness
	// failure must not hide behind a median); Overlaps likewise (SV1).
	ErrorsTotal     int64         `json:"errors_total"`
	DuplicatesTotal int64         `json:"duplicates_total"`
	OverlapsTotal   int64         `json:"overlaps_total"`
	ProxyAlive      bool          `json:"proxy_alive"`
	Busy            bool          `json:"busy"`
	Budget          []budgetCheck `json:"budget"`
	OK              bool          `json:"ok"`
	Problems        []string      `json:"problems,omitempty"`
	// Failures are runs that did not complete (they count in no median).
	Failures []string `json:"failures,omitempty"`
	// Peer is the -peer-bin side of an A/B invocation; Runs, Median and
	// the totals above are then go-proxy's.
	Peer *peerReport `json:"peer,omitempty"`
}

// finish computes medians, totals, the budget and the verdict (and the
// peer's side and the ratios in an A/B invocation).
func (r *Report) finish() {
	sums := make([]Summary, 0, len(r.Runs))
	r.ProxyAlive = len(r.Runs) > 0
	r.Problems = append([]string(nil), r.Failures...)
	r.ErrorsTotal, r.DuplicatesTotal, r.OverlapsTotal, r.Busy = 0, 0, 0, false
	for _, run := range r.Runs {
		sums = append(sums, run.Summary)
		r.ErrorsTotal += int64(run.Errors)
		r.DuplicatesTotal += run.Pool.Duplicates
		r.OverlapsTotal += run.Pool.Overlaps
		r.ProxyAlive = r.ProxyAlive && run.Proxy.Alive
	}
	for _, run := range r.allRuns() {
		r.Busy = r.Busy || run.NeighboursWindow.Busy
		name := fmt.Sprintf("run %d", run.Run)
		if run.Side != "" {
			name += " " + run.Side
		}
		for _, p := range run.Problems {
			r.Problems = append(r.Problems, name+": "+p)
		}
	}
	r.Median = medianSummary(sums)
	r.Budget = budget(r.Median, r.ErrorsTotal, r.DuplicatesTotal)
	r.OK = r.ProxyAlive && r.DuplicatesTotal == 0 && r.OverlapsTotal == 0 && len(r.Runs) == r.Options.Runs
	if p := r.Peer; p != nil {
		p.finish(r.Runs)
		// The comparison holds only when the peer, too, ran every pair,
		// stayed up and handed out no overlapping work.
		r.OK = r.OK && p.Alive && p.DuplicatesTotal == 0 && p.OverlapsTotal == 0 && len(p.Runs) == r.Options.Runs
	}
}

// allRuns is every completed run of both sides in the order they ran.
func (r *Report) allRuns() []*RunResult {
	if r.Peer == nil {
		return r.Runs
	}
	runs := slices.Concat(r.Runs, r.Peer.Runs)
	slices.SortStableFunc(runs, func(a, b *RunResult) int { return a.Seq - b.Seq })
	return runs
}

// jsonLine renders the report as one line of JSON.
func (r *Report) jsonLine() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("report JSON: %w", err)
	}
	return append(b, '\n'), nil
}

// round3 rounds to three decimals (and NaN/Inf to 0, which JSON cannot hold).
func round3(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1000) / 1000
}

// round6 rounds to six decimals: figures whose A/B ratio matters at
// the percent level and whose values are small (CPU s per 1000 shares
// is ~0.05, so three decimals would be 2 % steps).
func round6(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1e6) / 1e6
}

// dateNow is the report date; tests pin it.
var dateNow = func() time.Time { return time.Now() }
