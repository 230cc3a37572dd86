package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/internal/hist"
)

// fakeRun builds a run with plausible numbers scaled by k.
func fakeRun(idx int, k float64) *RunResult {
	r := &RunResult{Run: idx}
	r.LoggedIn = 15000
	r.RSSPerMiner = 600 * k
	r.FanoutLastMs, r.FanoutP50Ms, r.FanoutP99Ms = 50*k, 20*k, 45*k
	r.SubmitP50Ms, r.SubmitP99Ms = 0.1*k, 8*k
	r.CPUPer1000Shares = 0.04 * k
	r.AcceptedPerSec = 2000
	r.RSSIdle, r.RSSRamp, r.RSSEnd = 14<<20, 23<<20, 24<<20
	r.Proxy.Alive = true
	r.Proxy.API = &proxySummary{}
	r.ErrorKinds = map[string]int64{"closed by peer": int64(idx)}
	r.Errors = float64(idx)
	r.Jobs = []jobResult{{ID: "job<1>&", InWindow: true, Miners: 15000, LoggedIn: 15000, LastMs: 50 * k}}
	r.Timeline = []sample{{T: 0, RSS: 14 << 20}, {T: 0.5, RSS: 20 << 20, LoggedIn: 9000}, {T: 1, RSS: 23 << 20, LoggedIn: 15000}}
	var rec hist.Recorder
	for i := 1; i <= 2000; i++ {
		rec.Record(time.Duration(float64(i)*k) * 20 * time.Microsecond)
	}
	r.fanout, r.submit, r.login = distOf(rec.Snapshot()), distOf(rec.Snapshot()), dist{}
	r.NeighboursWindow = neighbourReport{Top: []procCPU{{PID: 9, Comm: "cc1<x>", Cores: 0.9}}, Others: 0.9, Busy: true}
	return r
}

func fakeReport() *Report {
	o := defaultOptions()
	o.Miners, o.Runs = 15000, 3
	o.JobsText, o.DurationText = "5s", "20s"
	rep := &Report{Schema: reportSchema, Date: "2026-01-02T03:04:05Z", Command: "go run ./bench -miners 15000 -runs 3",
		Target: "go-proxy", Options: o, Machine: machineInfo{CPU: "Test CPU", Cores: 2, Go: "go1.26"}}
	rep.Runs = []*RunResult{fakeRun(1, 1), fakeRun(2, 1.5), fakeRun(3, 0.5)}
	rep.finish()
	return rep
}

func TestReport_Finish_Good(t *testing.T) {
	rep := fakeReport()
	require.Equal(t, 600.0, rep.Median.RSSPerMiner, "median of 300, 600, 900")
	require.Equal(t, 50.0, rep.Median.FanoutLastMs)
	require.Equal(t, int64(6), rep.ErrorsTotal, "errors add up over runs")
	require.True(t, rep.ProxyAlive)
	require.True(t, rep.Busy)
	require.True(t, rep.OK)
	require.Len(t, rep.Budget, 5)
	require.True(t, rep.Budget[0].Pass)
	require.False(t, rep.Budget[4].Pass, "errors fail the zero-error line")

	rep.Runs[1].Proxy.Alive = false
	rep.Runs[2].Pool.Duplicates = 3
	rep.ErrorsTotal = 0
	rep.finish()
	require.False(t, rep.ProxyAlive)
	require.False(t, rep.OK)
}

func TestMedianSummary_Good(t *testing.T) {
	a, b, c := Summary{RSSPerMiner: 1, Errors: 5}, Summary{RSSPerMiner: 3, Errors: 0}, Summary{RSSPerMiner: 2, Errors: 1}
	m := medianSummary([]Summary{a, b, c})
	require.Equal(t, 2.0, m.RSSPerMiner)
	require.Equal(t, 1.0, m.Errors)
	require.Len(t, m.fields(), 29)
}

// TestMedianSummary_Precision_Good: the median keeps CPU per 1000 shares
// (~0.05) to the microsecond, so A/B ratios are not in 2 % steps, and
// carries the syscall figures.
func TestMedianSummary_Precision_Good(t *testing.T) {
	runs := []Summary{
		{CPUPer1000Shares: 0.047123, SyscallsPerShare: 4.406, CtxSwitchesPerShare: 2.508},
		{CPUPer1000Shares: 0.048456, SyscallsPerShare: 4.39, CtxSwitchesPerShare: 2.523},
		{CPUPer1000Shares: 0.046001, SyscallsPerShare: 4.417, CtxSwitchesPerShare: 2.909},
	}
	m := medianSummary(runs)
	require.Equal(t, 0.047123, m.CPUPer1000Shares)
	require.Equal(t, 4.406, m.SyscallsPerShare)
	require.Equal(t, 2.523, m.CtxSwitchesPerShare)
	m = medianSummary(runs[:2])
	require.InDelta(t, 0.04779, m.CPUPer1000Shares, 1e-6, "mean of the middle two, not rounded to 0.048")
}

func TestReport_JSON_Good(t *testing.T) {
	rep := fakeReport()
	line, err := rep.jsonLine()
	require.NoError(t, err)
	require.Equal(t, 1, bytes.Count(line, []byte("\n")), "one line")
	var back map[string]any
	require.NoError(t, json.Unmarshal(line, &back))
	med := back["median"].(map[string]any)
	require.Equal(t, 600.0, med["rss_per_miner_bytes"])
	require.Len(t, back["runs"], 3)
	require.Equal(t, "5s", back["options"].(map[string]any)["jobs"])
}

func TestWriteTable_Good(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeTable(&b, fakeReport()))
	out := b.String()
	for _, want := range []string{"RSS per miner (bytes)", "job to last miner, median of jobs (ms)", "submit RTT p99 (ms)",
		"run 1", "run 3", "median", "✓", "✗", "1,488 bytes", "errors by kind", "proxy alive at end", "verdict: OK", "Test CPU"} {
		require.Contains(t, out, want)
	}
}

func TestRenderHTML_Good(t *testing.T) {
	rep := fakeReport()
	doc := renderHTML(rep)
	require.Equal(t, 5, strings.Count(doc, "<svg "), "three histograms and two time charts")
	require.Contains(t, doc, "<rect ")
	require.Contains(t, doc, "<polyline ")
	require.Contains(t, doc, "job&lt;1&gt;&amp;", "text is escaped")
	require.False(t, strings.Contains(doc, "src=") || strings.Contains(doc, "href=") || strings.Contains(doc, "@import"),
		"no external assets")
	dec := xml.NewDecoder(strings.NewReader(strings.ReplaceAll(doc, `xmlns="http://www.w3.org/1999/xhtml"`, "")))
	dec.Strict = true
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "well-formed")
	}

	path := filepath.Join(t.TempDir(), "r.html")
	require.NoError(t, writeHTMLFile(path, rep))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, doc, string(b))
}

func TestHistogramSVG_Ugly(t *testing.T) {
	require.Contains(t, histogramSVG("empty", dist{}), "no samples")
	one := dist{b: []bucket{{V: 5 * time.Millisecond, N: 1}}, n: 1}
	require.Contains(t, histogramSVG("one", one), "<rect ")
	require.Contains(t, lineChartSVG("none", "s", nil), "no samples")
	require.Equal(t, "850µs", durationLabel(850*time.Microsecond))
	require.Equal(t, "1.5s", durationLabel(1500*time.Millisecond))
	require.Equal(t, "20k", numLabel(20000))
}
