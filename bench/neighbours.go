package main

import (
	"cmp"
	"context"
	"os"
	"slices"
	"time"
)

// Noisy-neighbour thresholds, in cores: above either the run is flagged
// "busy" (another workload shared the two cores).
const (
	busyOtherProcs  = 0.25 // user processes other than the harness and the proxy
	busyUnexplained = 0.5  // system CPU no live process accounts for (short-lived compilers, tests)
	topNeighbours   = 5
)

// cpuSnap is the machine's CPU counters at one instant.
type cpuSnap struct {
	At    time.Time
	Sys   cpuTimes
	Procs map[int]procStat
}

// takeCPUSnap reads /proc/stat and every /proc/PID/stat.
func takeCPUSnap() cpuSnap {
	s := cpuSnap{At: time.Now(), Procs: allProcesses()}
	s.Sys, _ = readCPUTimes()
	return s
}

// procCPU is one process's CPU use over an interval.
type procCPU struct {
	PID    int     `json:"pid"`
	Comm   string  `json:"comm"`
	Cores  float64 `json:"cores"`
	Kernel bool    `json:"kernel_thread,omitempty"`
	Role   string  `json:"role,omitempty"` // "harness", "proxy" or ""
}

// neighbourReport is who used the CPU over an interval.
type neighbourReport struct {
	Seconds float64 `json:"seconds"`
	// SystemBusy is all CPU in use (cores, from /proc/stat); Harness and
	// Proxy the two processes of the measurement; Others the other user
	// processes; Unexplained what no live process accounts for (processes
	// that came and went inside the interval, interrupts).
	SystemBusy  float64   `json:"system_busy_cores"`
	Harness     float64   `json:"harness_cores"`
	Proxy       float64   `json:"proxy_cores"`
	Others      float64   `json:"others_cores"`
	Unexplained float64   `json:"unexplained_cores"`
	Top         []procCPU `json:"top"`
	Busy        bool      `json:"busy"`
}

// isKernelThread reports whether s is a kernel thread (kthreadd's child).
func isKernelThread(s procStat) bool { return s.PID == 2 || s.PPID == 2 }

// neighbours compares two snapshots taken on a machine with cpus CPUs.
// self and proxy are the pids whose CPU is the measurement's own; a
// process born between the snapshots is charged all its CPU.
func neighbours(a, b cpuSnap, cpus, self, proxy int) neighbourReport {
	secs := b.At.Sub(a.At).Seconds()
	r := neighbourReport{Seconds: round3(secs)}
	if secs <= 0 {
		return r
	}
	totalTicks := float64(b.Sys.Total() - a.Sys.Total())
	if totalTicks > 0 {
		r.SystemBusy = float64(b.Sys.Busy()-a.Sys.Busy()) / totalTicks * float64(cpus)
	}
	var all []procCPU
	accounted := 0.0
	for pid, e := range b.Procs {
		var used uint64
		if s, ok := a.Procs[pid]; ok && s.StartTime == e.StartTime {
			used = e.UTime + e.STime - min(e.UTime+e.STime, s.UTime+s.STime)
		} else {
			used = e.UTime + e.STime
		}
		if used == 0 {
			continue
		}
		c := procCPU{PID: pid, Comm: e.Comm, Cores: float64(used) / clockTicks / secs, Kernel: isKernelThread(e)}
		accounted += c.Cores
		switch {
		case pid == self:
			c.Role = "harness"
			r.Harness += c.Cores
		case pid == proxy && proxy > 0:
			c.Role = "proxy"
			r.Proxy += c.Cores
		case !c.Kernel:
			r.Others += c.Cores
		}
		all = append(all, c)
	}
	r.Unexplained = max(0, r.SystemBusy-accounted)
	slices.SortFunc(all, func(x, y procCPU) int { return cmp.Compare(y.Cores, x.Cores) })
	for i := range all {
		all[i].Cores = round3(all[i].Cores)
	}
	r.Top = all[:min(len(all), topNeighbours+2)]
	r.SystemBusy, r.Harness, r.Proxy = round3(r.SystemBusy), round3(r.Harness), round3(r.Proxy)
	r.Others, r.Unexplained = round3(r.Others), round3(r.Unexplained)
	r.Busy = r.Others > busyOtherProcs || r.Unexplained > busyUnexplained
	return r
}

// onlineCPUs is the number of CPUs /proc/stat's total spans.
func onlineCPUs() int {
	_, n := parseCPUModel(readSmallFile("cpuinfo"))
	return max(n, 1)
}

// selfPID is the harness's pid.
var selfPID = os.Getpid()

// quietProbe is the sample length of waitQuiet.
const quietProbe = 2 * time.Second

// waitQuiet samples the CPU use of other processes until a quietProbe
// sample is not busy, at most for limit. It returns how long it waited and
// the last sample.
func waitQuiet(ctx context.Context, limit time.Duration) (time.Duration, neighbourReport, error) {
	start := time.Now()
	for {
		a := takeCPUSnap()
		if err := sleepCtx(ctx, quietProbe); err != nil {
			return time.Since(start), neighbourReport{}, err
		}
		n := neighbours(a, takeCPUSnap(), onlineCPUs(), selfPID, 0)
		if !n.Busy || time.Since(start) >= limit {
			return time.Since(start), n, nil
		}
	}
}
