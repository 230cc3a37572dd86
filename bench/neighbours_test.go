package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/internal/hist"
)

func TestNeighbours_Good(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := cpuSnap{At: t0, Sys: cpuTimes{User: 1000, Idle: 1000}, Procs: map[int]procStat{
		10: {PID: 10, Comm: "bench", UTime: 100, StartTime: 5},
		20: {PID: 20, Comm: "go-proxy", UTime: 50, StartTime: 6},
		30: {PID: 30, Comm: "xmrig", UTime: 500, StartTime: 7},
		40: {PID: 40, Comm: "ksoftirqd/0", PPID: 2, STime: 10, StartTime: 1},
		50: {PID: 50, Comm: "old", UTime: 900, StartTime: 8}, // pid reused below
	}}
	// 10 s later on 2 CPUs: 2000 ticks elapsed, 1500 busy.
	b := cpuSnap{At: t0.Add(10 * time.Second), Sys: cpuTimes{User: 2500, Idle: 1500}, Procs: map[int]procStat{
		10: {PID: 10, Comm: "bench", UTime: 300, StartTime: 5},               // 0.2 cores
		20: {PID: 20, Comm: "go-proxy", UTime: 150, StartTime: 6},            // 0.1
		30: {PID: 30, Comm: "xmrig", UTime: 1500, StartTime: 7},              // 1.0
		40: {PID: 40, Comm: "ksoftirqd/0", PPID: 2, STime: 60, StartTime: 1}, // 0.05, kernel
		50: {PID: 50, Comm: "cc1", UTime: 20, StartTime: 900},                // born in between: 0.02
	}}
	r := neighbours(a, b, 2, 10, 20)
	require.Equal(t, 10.0, r.Seconds)
	require.Equal(t, 1.5, r.SystemBusy)
	require.Equal(t, 0.2, r.Harness)
	require.Equal(t, 0.1, r.Proxy)
	require.Equal(t, 1.02, r.Others)
	require.Equal(t, 0.13, r.Unexplained)
	require.True(t, r.Busy)
	require.Equal(t, "xmrig", r.Top[0].Comm)
	require.True(t, r.Top[len(r.Top)-2].Kernel || r.Top[len(r.Top)-1].Kernel)
	require.Equal(t, "xmrig[30] 1.00, ksoftirqd/0[40] 0.05, cc1[50] 0.02", topText(r.Top))

	quiet := neighbours(a, a, 2, 10, 20)
	require.False(t, quiet.Busy)
	require.Zero(t, quiet.SystemBusy)
}

func TestAnalyseJobs_Good(t *testing.T) {
	var rec hist.Recorder
	snap0 := rec.Snapshot()
	for i := 1; i <= 100; i++ {
		rec.Record(time.Duration(i) * time.Millisecond)
	}
	snap1 := rec.Snapshot()
	for i := 1; i <= 100; i++ {
		rec.Record(time.Duration(i) * 100 * time.Microsecond)
	}
	snap2 := rec.Snapshot()
	from := time.Unix(100, 0)
	jobs := []*jobRecord{
		{ID: "a", SentAt: from.Add(-time.Second), LoggedIn: 100, Before: snap0, After: snap1},
		{ID: "b", SentAt: from.Add(5 * time.Second), LoggedIn: 120, Before: snap1, After: snap2},
	}
	res := analyseJobs(jobs, from, from.Add(20*time.Second))
	require.Len(t, res, 2)
	require.False(t, res[0].InWindow)
	require.Equal(t, -1000.0, res[0].SentMs)
	require.InDelta(t, 100, res[0].LastMs, 0.01)
	require.True(t, res[1].InWindow)
	require.Equal(t, int64(100), res[1].Miners)
	require.InDelta(t, 10, res[1].LastMs, 0.1)

	run := &RunResult{Jobs: res}
	fillFanout(run)
	require.InDelta(t, 10, run.FanoutLastMs, 0.1, "only the job in the window")
	require.Len(t, run.Problems, 1, "job b reached 100 of 120")
	empty := &RunResult{}
	fillFanout(empty)
	require.Contains(t, empty.Problems[0], "no job was sent")
}
