package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
// It is 100 on every Linux architecture Go supports (sysconf(_SC_CLK_TCK)
// is not reachable without cgo).
const clockTicks = 100

// procRoot is where /proc is mounted; tests point it at fixtures.
var procRoot = "/proc"

// procStat is what the harness reads from /proc/PID/stat.
type procStat struct {
	PID       int
	Comm      string
	State     byte
	PPID      int
	UTime     uint64 // clock ticks
	STime     uint64 // clock ticks
	Threads   int
	StartTime uint64 // clock ticks after boot
}

// CPUSeconds returns utime+stime in seconds.
func (s procStat) CPUSeconds() float64 { return float64(s.UTime+s.STime) / clockTicks }

// parseProcStat parses the one line of /proc/PID/stat. The command name is
// in parentheses and may itself hold spaces and parentheses, so the fields
// are counted from the last ')'.
func parseProcStat(line string) (procStat, error) {
	open := strings.IndexByte(line, '(')
	closing := strings.LastIndexByte(line, ')')
	if open < 1 || closing < open {
		return procStat{}, errors.New("stat: no (comm)")
	}
	var s procStat
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return s, fmt.Errorf("stat: pid: %w", err)
	}
	s.PID = pid
	s.Comm = line[open+1 : closing]
	// Fields after comm start at field 3 (state).
	f := strings.Fields(line[closing+1:])
	if len(f) < 20 {
		return s, fmt.Errorf("stat: %d fields after comm, want at least 20", len(f))
	}
	s.State = f[0][0]
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return s, fmt.Errorf("stat: ppid: %w", err)
	}
	s.PPID = ppid
	field := func(n int) (uint64, error) { // n is the man-page field number
		v, err := strconv.ParseUint(f[n-3], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: field %d: %w", n, err)
		}
		return v, nil
	}
	if s.UTime, err = field(14); err != nil {
		return s, err
	}
	if s.STime, err = field(15); err != nil {
		return s, err
	}
	th, err := field(20)
	if err != nil {
		return s, err
	}
	s.Threads = int(th)
	if s.StartTime, err = field(22); err != nil {
		return s, err
	}
	return s, nil
}

// readProcStat reads /proc/PID/stat.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	s, err := parseProcStat(string(bytes.TrimSpace(b)))
	if err != nil {
		return s, fmt.Errorf("pid %d: %w", pid, err)
	}
	return s, nil
}

// procStatus is what the harness reads from /proc/PID/status, in bytes.
type procStatus struct {
	RSS, HWM, Size int64
	Threads        int
}

// parseProcStatus parses /proc/PID/status (VmRSS, VmHWM, VmSize in kB,
// Threads).
func parseProcStatus(text string) (procStatus, error) {
	var s procStatus
	found := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmRSS":
			s.RSS, found = n*1024, true
		case "VmHWM":
			s.HWM = n * 1024
		case "VmSize":
			s.Size = n * 1024
		case "Threads":
			s.Threads = int(n)
		}
	}
	if !found {
		return s, errors.New("status: no VmRSS line (a zombie process?)")
	}
	return s, nil
}

// readProcStatus reads /proc/PID/status.
func readProcStatus(pid int) (procStatus, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "status"))
	if err != nil {
		return procStatus{}, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	s, err := parseProcStatus(string(b))
	if err != nil {
		return s, fmt.Errorf("pid %d: %w", pid, err)
	}
	return s, nil
}

// cpuTimes is the aggregate "cpu" line of /proc/stat, in clock ticks.
type cpuTimes struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal uint64
}

// Total returns every tick counted.
func (c cpuTimes) Total() uint64 {
	return c.User + c.Nice + c.System + c.Idle + c.IOWait + c.IRQ + c.SoftIRQ + c.Steal
}

// Busy returns the ticks not spent idle or waiting for I/O.
func (c cpuTimes) Busy() uint64 { return c.Total() - c.Idle - c.IOWait }

// parseCPUTimes parses the first line of /proc/stat.
func parseCPUTimes(text string) (cpuTimes, error) {
	line, _, _ := strings.Cut(text, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}, fmt.Errorf("/proc/stat: first line %q is not the cpu total", line)
	}
	var v [8]uint64
	for i := range v {
		n, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("/proc/stat: cpu field %d: %w", i+1, err)
		}
		v[i] = n
	}
	return cpuTimes{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]}, nil
}

// readCPUTimes reads /proc/stat.
func readCPUTimes() (cpuTimes, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read /proc/stat: %w", err)
	}
	return parseCPUTimes(string(b))
}

// parseCPUModel returns the first "model name" of /proc/cpuinfo and the
// number of processors listed.
func parseCPUModel(text string) (model string, cpus int) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "model name":
			if model == "" {
				model = strings.TrimSpace(val)
			}
		case "processor":
			cpus++
		}
	}
	return model, cpus
}

// allProcesses reads /proc/PID/stat of every process; processes that end
// while being read are skipped.
func allProcesses() map[int]procStat {
	out := make(map[int]procStat)
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		if s, err := readProcStat(pid); err == nil {
			out[pid] = s
		}
	}
	return out
}

// parseListenInodes returns the socket inodes of /proc/net/tcp (or tcp6)
// entries in LISTEN state on port.
func parseListenInodes(text string, port int) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != "0A" {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil || int(p) != port {
			continue
		}
		out = append(out, f[9])
	}
	return out
}

// listenerPID finds the process listening on TCP port, by matching the
// socket inode of /proc/net/tcp{,6} against every process's open files.
// It returns 0 when none is found (another user's process, or none).
func listenerPID(port int) int {
	want := map[string]bool{}
	for _, name := range []string{"net/tcp", "net/tcp6"} {
		b, err := os.ReadFile(filepath.Join(procRoot, name))
		if err != nil {
			continue
		}
		for _, ino := range parseListenInodes(string(b), port) {
			want["socket:["+ino+"]"] = true
		}
	}
	if len(want) == 0 {
		return 0
	}
	self := os.Getpid()
	for pid := range allProcesses() {
		if pid == self {
			continue
		}
		dir := filepath.Join(procRoot, strconv.Itoa(pid), "fd")
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if link, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && want[link] {
				return pid
			}
		}
	}
	return 0
}

// readSmallFile returns a /proc file's text, "" when unreadable.
func readSmallFile(rel string) string {
	b, err := os.ReadFile(filepath.Join(procRoot, rel))
	if err != nil {
		return ""
	}
	return string(b)
}

// kernelMem is the machine-wide kernel memory that grows with TCP
// connections: slab (socket, inode, dentry, epoll item objects) from
// /proc/meminfo and TCP sockets in use plus their buffer pages from
// /proc/net/sockstat. ListenOverflows (/proc/net/netstat, TcpExt) counts
// connection attempts dropped because a listener's accept queue was full:
// the client retries its SYN after a second or more.
type kernelMem struct {
	Slab            int64 `json:"slab_bytes"`
	TCPInUse        int64 `json:"tcp_inuse"`
	TCPMemPages     int64 `json:"tcp_mem_pages"`
	ListenOverflows int64 `json:"listen_overflows"`
}

// parseMeminfoSlab returns the "Slab:" line of /proc/meminfo in bytes.
func parseMeminfoSlab(text string) int64 {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || key != "Slab" {
			continue
		}
		if f := strings.Fields(val); len(f) > 0 {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				return n * 1024
			}
		}
	}
	return 0
}

// parseSockstatTCP returns "inuse" and "mem" of the TCP line of
// /proc/net/sockstat ("TCP: inuse 5 orphan 0 tw 0 alloc 7 mem 1").
func parseSockstatTCP(text string) (inuse, memPages int64) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "TCP:" {
			continue
		}
		for i := 1; i+1 < len(f); i += 2 {
			n, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil {
				continue
			}
			switch f[i] {
			case "inuse":
				inuse = n
			case "mem":
				memPages = n
			}
		}
	}
	return inuse, memPages
}

// parseNetstat returns the counter name of the section prefix ("TcpExt")
// of /proc/net/netstat (a header line of names, then a line of values),
// 0 when absent.
func parseNetstat(text, prefix, name string) int64 {
	var head []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 16<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != prefix+":" {
			continue
		}
		if head == nil {
			head = f
			continue
		}
		if i := slices.Index(head, name); i > 0 && i < len(f) {
			if n, err := strconv.ParseInt(f[i], 10, 64); err == nil {
				return n
			}
		}
		return 0
	}
	return 0
}

// readKernelMem reads kernelMem; zeros when /proc is not readable.
func readKernelMem() kernelMem {
	var k kernelMem
	k.Slab = parseMeminfoSlab(readSmallFile("meminfo"))
	k.TCPInUse, k.TCPMemPages = parseSockstatTCP(readSmallFile("net/sockstat"))
	k.ListenOverflows = parseNetstat(readSmallFile("net/netstat"), "TcpExt", "ListenOverflows")
	return k
}

// procActivity is a process's syscall and scheduling counters at one
// instant. SyscR and SyscW are /proc/PID/io's syscr and syscw: the
// read(2)/readv/pread and write(2)/writev/pwrite calls (those that go
// through the VFS) of every thread, live or exited. They do not count
// recvmsg/sendmsg, epoll_wait, epoll_ctl, futex, accept4, timers or any
// other syscall; CtxSwitches (voluntary + involuntary, summed over the
// /proc/PID/task/*/status of the live threads) stands in for those: every
// blocking epoll_wait or futex sleep is one voluntary switch.
type procActivity struct {
	SyscR, SyscW uint64
	CtxSwitches  uint64
	Err          error
}

// Syscalls returns syscr+syscw.
func (a procActivity) Syscalls() uint64 { return a.SyscR + a.SyscW }

// parseProcIO returns syscr and syscw of /proc/PID/io.
func parseProcIO(text string) (syscr, syscw uint64, err error) {
	var gotR, gotW bool
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, perr := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
		if perr != nil {
			continue
		}
		switch key {
		case "syscr":
			syscr, gotR = n, true
		case "syscw":
			syscw, gotW = n, true
		}
	}
	if !gotR || !gotW {
		return 0, 0, errors.New("io: no syscr/syscw lines")
	}
	return syscr, syscw, nil
}

// parseCtxSwitches returns voluntary_ctxt_switches +
// nonvoluntary_ctxt_switches of one /proc/PID/task/TID/status.
func parseCtxSwitches(text string) uint64 {
	var n uint64
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "voluntary_ctxt_switches" && key != "nonvoluntary_ctxt_switches") {
			continue
		}
		if v, err := strconv.ParseUint(strings.TrimSpace(val), 10, 64); err == nil {
			n += v
		}
	}
	return n
}

// readProcActivity reads /proc/PID/io and every /proc/PID/task/*/status.
// Reading another user's io file needs ptrace rights: Err says so.
func readProcActivity(pid int) procActivity {
	if pid <= 0 {
		return procActivity{Err: errors.New("pid unknown")}
	}
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	b, err := os.ReadFile(filepath.Join(dir, "io"))
	if err != nil {
		return procActivity{Err: fmt.Errorf("read io of pid %d: %w", pid, err)}
	}
	var a procActivity
	if a.SyscR, a.SyscW, err = parseProcIO(string(b)); err != nil {
		return procActivity{Err: fmt.Errorf("pid %d: %w", pid, err)}
	}
	tasks, _ := os.ReadDir(filepath.Join(dir, "task"))
	for _, t := range tasks {
		if st, err := os.ReadFile(filepath.Join(dir, "task", t.Name(), "status")); err == nil {
			a.CtxSwitches += parseCtxSwitches(string(st))
		}
	}
	return a
}

// perShare returns (b-a)/shares per counter, false when no share was
// answered or the counter went backwards (a thread exited and took its
// context switches with it).
func perShare(a, b uint64, shares int64) (float64, bool) {
	if shares <= 0 || b < a {
		return 0, false
	}
	return float64(b-a) / float64(shares), true
}
