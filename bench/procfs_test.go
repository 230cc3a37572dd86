package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Fixtures: real /proc text shapes (a command name with spaces and
// parentheses, tab-separated status lines).
const (
	fixtureStat   = "4242 (go-proxy (v2) x) S 4200 4242 4200 0 -1 4194560 12000 0 3 0 1234 567 0 0 20 0 9 0 98765 1300000000 3500 18446744073709551615 1 1 0 0 0 0 0 0 2143420159 0 0 0 17 1 0 0 0 0 0"
	fixtureStatus = "Name:\tgo-proxy\nState:\tS (sleeping)\nPid:\t4242\nVmPeak:\t 1305096 kB\nVmSize:\t 1300000 kB\nVmHWM:\t   21500 kB\nVmRSS:\t   18432 kB\nRssAnon:\t    9000 kB\nThreads:\t9\n"
	fixtureCPU    = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n"
	fixtureNetTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0D05 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 81234 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0D06 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 81235 1 0000000000000000 100 0 0 10 0
   2: 0100007F:0D05 0200007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 81236 1 0000000000000000 20 4 30 10 -1
`
	fixtureProcStat = "cpu  1000 20 300 5000 40 0 10 0 0 0\ncpu0 500 10 150 2500 20 0 5 0 0 0\n"
)

func TestParseProcStat_Good(t *testing.T) {
	s, err := parseProcStat(fixtureStat)
	require.NoError(t, err)
	require.Equal(t, 4242, s.PID)
	require.Equal(t, "go-proxy (v2) x", s.Comm)
	require.Equal(t, byte('S'), s.State)
	require.Equal(t, 4200, s.PPID)
	require.Equal(t, uint64(1234), s.UTime)
	require.Equal(t, uint64(567), s.STime)
	require.Equal(t, 9, s.Threads)
	require.Equal(t, uint64(98765), s.StartTime)
	require.InDelta(t, 18.01, s.CPUSeconds(), 1e-9)
}

func TestParseProcStat_Bad(t *testing.T) {
	for _, line := range []string{"", "4242 go-proxy S 1", "x (a) S 1 2 3", "4242 (a) S 1 2", "4242 (a) S 1 2 3 4 5 6 7 8 9 10 x 12 13 14 15 16 17 18 19 20"} {
		_, err := parseProcStat(line)
		require.Error(t, err, "%q", line)
	}
}

func TestParseProcStatus_Good(t *testing.T) {
	s, err := parseProcStatus(fixtureStatus)
	require.NoError(t, err)
	require.Equal(t, int64(18432*1024), s.RSS)
	require.Equal(t, int64(21500*1024), s.HWM)
	require.Equal(t, int64(1300000*1024), s.Size)
	require.Equal(t, 9, s.Threads)
}

func TestParseProcStatus_Bad(t *testing.T) {
	_, err := parseProcStatus("Name:\tzombie\nState:\tZ (zombie)\n")
	require.Error(t, err)
}

func TestParseCPUTimes_Good(t *testing.T) {
	c, err := parseCPUTimes(fixtureProcStat)
	require.NoError(t, err)
	require.Equal(t, uint64(6370), c.Total())
	require.Equal(t, uint64(1330), c.Busy())
	_, err = parseCPUTimes("intr 1 2 3\n")
	require.Error(t, err)
	_, err = parseCPUTimes("cpu 1 2 x 4 5 6 7 8\n")
	require.Error(t, err)
}

func TestParseCPUModel_Good(t *testing.T) {
	model, n := parseCPUModel(fixtureCPU)
	require.Equal(t, "Intel(R) Xeon(R) Processor", model)
	require.Equal(t, 2, n)
}

func TestParseListenInodes_Good(t *testing.T) {
	require.Equal(t, []string{"81234"}, parseListenInodes(fixtureNetTCP, 3333))
	require.Equal(t, []string{"81235"}, parseListenInodes(fixtureNetTCP, 3334))
	require.Empty(t, parseListenInodes(fixtureNetTCP, 40000), "only LISTEN entries")
	require.Empty(t, parseListenInodes("garbage\n", 3333))
}

// procFixture points procRoot at an empty temporary tree for the test and
// returns it with a function that writes a file into it.
func procFixture(t *testing.T) (root string, write func(rel, text string)) {
	root = t.TempDir()
	old := procRoot
	procRoot = root
	t.Cleanup(func() { procRoot = old })
	return root, func(rel, text string) {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}
}

// TestProcFixtureTree_Good points procRoot at a fixture tree: the readers,
// the process table, the noisy-neighbour arithmetic and the listener
// lookup all run on it.
func TestProcFixtureTree_Good(t *testing.T) {
	root, write := procFixture(t)
	write("4242/stat", fixtureStat)
	write("4242/status", fixtureStatus)
	write("77/stat", "77 (kdamond.0) S 2 0 0 0 -1 0 0 0 0 0 5 5 0 0 20 0 1 0 10 0 0 0")
	write("stat", fixtureProcStat)
	write("cpuinfo", fixtureCPU)
	write("net/tcp", fixtureNetTCP)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "4242/fd"), 0o755))
	require.NoError(t, os.Symlink("socket:[81234]", filepath.Join(root, "4242/fd/7")))

	r := readProxy(4242)
	require.NoError(t, r.Err)
	require.Equal(t, int64(18432*1024), r.RSS)
	require.Equal(t, 9, r.Threads)
	require.True(t, procAlive(4242))
	require.False(t, procAlive(999))
	require.Error(t, readProxy(999).Err)
	require.Error(t, readProxy(0).Err)

	procs := allProcesses()
	require.Len(t, procs, 2)
	require.True(t, isKernelThread(procs[77]))
	require.Equal(t, 4242, listenerPID(3333))
	require.Equal(t, 0, listenerPID(3334), "no process holds that socket")
	require.Equal(t, 2, onlineCPUs())
	require.Equal(t, "Intel(R) Xeon(R) Processor", readMachine().CPU)
}

func TestParseKernelMem_Good(t *testing.T) {
	require.Equal(t, int64(183764*1024), parseMeminfoSlab("MemTotal:       24000000 kB\nSlab:             183764 kB\nSReclaimable:    50000 kB\n"))
	require.Zero(t, parseMeminfoSlab("garbage"))
	netstat := "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 247 250\nIpExt: InNoRoutes ListenOverflows\nIpExt: 0 9\n"
	require.Equal(t, int64(247), parseNetstat(netstat, "TcpExt", "ListenOverflows"))
	require.Equal(t, int64(9), parseNetstat(netstat, "IpExt", "ListenOverflows"))
	require.Zero(t, parseNetstat(netstat, "TcpExt", "Nope"))
	require.Zero(t, parseNetstat("TcpExt: ListenOverflows\n", "TcpExt", "ListenOverflows"), "no value line")
	require.Zero(t, parseNetstat("garbage", "TcpExt", "ListenOverflows"))
	in, mem := parseSockstatTCP("sockets: used 2048\nTCP: inuse 2030 orphan 0 tw 57 alloc 2030 mem 16\nUDP: inuse 0 mem 0\n")
	require.Equal(t, int64(2030), in)
	require.Equal(t, int64(16), mem)
}

const fixtureIO = "rchar: 9000\nwchar: 8000\nsyscr: 1200\nsyscw: 3400\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n"

func TestParseProcIO_Good(t *testing.T) {
	r, w, err := parseProcIO(fixtureIO)
	require.NoError(t, err)
	require.Equal(t, uint64(1200), r)
	require.Equal(t, uint64(3400), w)
}

func TestParseProcIO_Bad(t *testing.T) {
	for _, text := range []string{"", "rchar: 9000\n", "syscr: 1\nsyscw: x\n", "syscr 1\nsyscw 2\n"} {
		_, _, err := parseProcIO(text)
		require.Error(t, err, "%q", text)
	}
}

// TestReadProcActivity_Good reads /proc/PID/io and sums the context
// switches of every thread of a fixture tree; a thread whose status
// vanished is skipped, an unreadable io file is an error.
func TestReadProcActivity_Good(t *testing.T) {
	root, write := procFixture(t)
	write("4242/io", fixtureIO)
	write("4242/task/4242/status", fixtureStatus+"voluntary_ctxt_switches:\t100\nnonvoluntary_ctxt_switches:\t7\n")
	write("4242/task/4243/status", "voluntary_ctxt_switches:\t20\nnonvoluntary_ctxt_switches:\t3\n")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "4242/task/4244"), 0o755)) // exited mid-read

	a := readProcActivity(4242)
	require.NoError(t, a.Err)
	require.Equal(t, uint64(4600), a.Syscalls())
	require.Equal(t, uint64(130), a.CtxSwitches)
	require.Error(t, readProcActivity(999).Err)
	require.Error(t, readProcActivity(0).Err)
}

// TestFillActivity_Good derives the per-share figures from two readings
// and the shares answered between them; a failed reading or a counter
// that went backwards leaves the figure at 0 with a note, never a
// negative or infinite number.
func TestFillActivity_Good(t *testing.T) {
	w0 := swarmCounts{Accepted: 1000, Rejected: 10}
	w1 := swarmCounts{Accepted: 2990, Rejected: 20} // 2000 answered
	a0 := procActivity{SyscR: 100, SyscW: 200, CtxSwitches: 50}
	a1 := procActivity{SyscR: 2100, SyscW: 5200, CtxSwitches: 1050}
	res := &RunResult{}
	fillActivity(res, a0, a1, w0, w1)
	require.Equal(t, 3.5, res.SyscallsPerShare)
	require.Equal(t, 0.5, res.CtxSwitchesPerShare)
	require.Equal(t, &syscallCounts{Read: 2000, Write: 5000, Answered: 2000}, res.Syscalls)
	require.Empty(t, res.Notes)

	res = &RunResult{}
	fillActivity(res, a0, procActivity{Err: os.ErrPermission}, w0, w1)
	require.Zero(t, res.SyscallsPerShare)
	require.Nil(t, res.Syscalls)
	require.Len(t, res.Notes, 1)

	res = &RunResult{}
	fillActivity(res, a0, procActivity{SyscR: 2100, SyscW: 5200, CtxSwitches: 10}, w0, w0)
	require.Zero(t, res.SyscallsPerShare, "no share answered")
	require.Zero(t, res.CtxSwitchesPerShare)
	require.Len(t, res.Notes, 2)
	res = &RunResult{}
	fillActivity(res, a0, procActivity{SyscR: 2100, SyscW: 5200, CtxSwitches: 10}, w0, w1)
	require.Equal(t, 3.5, res.SyscallsPerShare)
	require.Zero(t, res.CtxSwitchesPerShare, "a thread exited: switches went backwards")
	require.Len(t, res.Notes, 1)
	require.Contains(t, res.Notes[0], "context switches")
}

// A relative program path is the harness's, not the run directory's: the
// A/B peer is given as bench/peers/... and runs in its own work directory.
func TestStartProcess_RelativeBin_Good(t *testing.T) {
	home := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(home, "peers"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(home, "peers", "p.sh"), []byte("#!/bin/sh\necho ran > ./marker\n"), 0o755))
	t.Chdir(home)
	run := t.TempDir()
	p, err := startProcess("peers/p.sh", nil, run, "peer.log", nil)
	require.NoError(t, err)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the process did not end")
	}
	require.NoError(t, p.waitErr)
	b, err := os.ReadFile(filepath.Join(run, "marker"))
	require.NoError(t, err, "it ran in the run directory")
	require.Equal(t, "ran\n", string(b))
}
