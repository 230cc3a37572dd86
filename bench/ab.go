package main

import (
	"fmt"
	"slices"
)

// Sides of an A/B invocation: A is go-proxy, B the peer.
const (
	sideGo   = "go-proxy"
	sidePeer = "peer"
)

// Orders of the runs of a pair (-peer-order).
const (
	orderABBA = "abba" // pair 1 A then B, pair 2 B then A, ...: a drift over the invocation cancels out
	orderAB   = "ab"   // A then B in every pair
)

// abStep is one run of an invocation: pair (1-based) and side.
type abStep struct {
	Pair int
	Side string
}

// abSequence returns the order of the runs: n runs of go-proxy alone, or
// n pairs of go-proxy and the peer in the given order.
func abSequence(n int, withPeer bool, order string) []abStep {
	steps := make([]abStep, 0, 2*n)
	for i := 1; i <= n; i++ {
		switch {
		case !withPeer:
			steps = append(steps, abStep{i, sideGo})
		case order == orderABBA && i%2 == 0:
			steps = append(steps, abStep{i, sidePeer}, abStep{i, sideGo})
		default:
			steps = append(steps, abStep{i, sideGo}, abStep{i, sidePeer})
		}
	}
	return steps
}

// abFigure is one figure the A/B report compares: the Summary field's
// JSON name, a label, how to read it and its format.
type abFigure struct {
	key    string
	label  string
	get    func(*Summary) float64
	format string
}

// abFigures are the figures with a go-proxy/peer ratio. Every other
// number is in the JSON for both sides, without a ratio.
var abFigures = []abFigure{
	{"rss_per_miner_bytes", "RSS per miner (bytes)", func(s *Summary) float64 { return s.RSSPerMiner }, "%.0f"},
	{"rss_after_ramp_bytes", "RSS after ramp (MiB)", func(s *Summary) float64 { return s.RSSRamp / (1 << 20) }, "%.1f"},
	{"fanout_last_median_ms", "job to last miner, median (ms)", func(s *Summary) float64 { return s.FanoutLastMs }, "%.1f"},
	{"fanout_p50_ms", "job fan-out p50 (ms)", func(s *Summary) float64 { return s.FanoutP50Ms }, "%.1f"},
	{"fanout_p99_ms", "job fan-out p99 (ms)", func(s *Summary) float64 { return s.FanoutP99Ms }, "%.1f"},
	{"submit_p50_ms", "submit RTT p50 (ms)", func(s *Summary) float64 { return s.SubmitP50Ms }, "%.2f"},
	{"submit_p99_ms", "submit RTT p99 (ms)", func(s *Summary) float64 { return s.SubmitP99Ms }, "%.2f"},
	{"cpu_s_per_1000_shares", "CPU s per 1000 shares", func(s *Summary) float64 { return s.CPUPer1000Shares }, "%.4f"},
	{"syscalls_per_share", "syscalls per share (syscr+syscw)", func(s *Summary) float64 { return s.SyscallsPerShare }, "%.2f"},
	{"ctx_switches_per_share", "context switches per share", func(s *Summary) float64 { return s.CtxSwitchesPerShare }, "%.2f"},
	{"proxy_cpu_cores", "proxy CPU in window (cores)", func(s *Summary) float64 { return s.ProxyCores }, "%.3f"},
	{"accepted_per_s", "accepted shares/s", func(s *Summary) float64 { return s.AcceptedPerSec }, "%.0f"},
	{"errors", "miner errors", func(s *Summary) float64 { return s.Errors }, "%.0f"},
	{"ramp_s", "ramp (s)", func(s *Summary) float64 { return s.RampSeconds }, "%.2f"},
	{"login_p50_ms", "login p50 (ms)", func(s *Summary) float64 { return s.LoginP50Ms }, "%.1f"},
	{"login_p99_ms", "login p99 (ms)", func(s *Summary) float64 { return s.LoginP99Ms }, "%.1f"},
}

// ratio returns a/b and whether it is defined (b not 0).
func ratio(a, b float64) (float64, bool) {
	if b == 0 {
		return 0, false
	}
	return round3(a / b), true
}

// pairResult is one completed pair: both sides' run numbers (Seq) and the
// ratio go-proxy/peer of every abFigure whose peer value is not 0.
type pairResult struct {
	Pair    int                `json:"pair"`
	Order   string             `json:"order"` // "AB": go-proxy ran first; "BA": the peer did
	GoSeq   int                `json:"go_seq"`
	PeerSeq int                `json:"peer_seq"`
	Ratios  map[string]float64 `json:"ratios"`
}

// peerReport is the peer's side of an A/B invocation: its runs (every
// raw number, as for go-proxy), medians and totals, the pairs and the
// median over pairs of each ratio.
type peerReport struct {
	Bin             string       `json:"bin"`
	Args            string       `json:"args"` // the template as given
	Order           string       `json:"order"`
	Runs            []*RunResult `json:"runs"`
	Median          Summary      `json:"median"`
	ErrorsTotal     int64        `json:"errors_total"`
	DuplicatesTotal int64        `json:"duplicates_total"`
	OverlapsTotal   int64        `json:"overlaps_total"`
	Alive           bool         `json:"alive"`
	Pairs           []pairResult `json:"pairs"`
	// RatioMedian is, per figure, the median of the pairs' ratios
	// go-proxy/peer (not the ratio of the medians); a figure with no
	// defined ratio in any pair is absent.
	RatioMedian map[string]float64 `json:"ratio_median"`
}

// finish computes the peer's medians and totals and pairs its runs with
// go-proxy's by pair number; a pair with a failed side has no ratios.
func (p *peerReport) finish(goRuns []*RunResult) {
	sums := make([]Summary, 0, len(p.Runs))
	p.Alive = len(p.Runs) > 0
	p.ErrorsTotal, p.DuplicatesTotal, p.OverlapsTotal = 0, 0, 0
	for _, run := range p.Runs {
		sums = append(sums, run.Summary)
		p.ErrorsTotal += int64(run.Errors)
		p.DuplicatesTotal += run.Pool.Duplicates
		p.OverlapsTotal += run.Pool.Overlaps
		p.Alive = p.Alive && run.Proxy.Alive
	}
	p.Median = medianSummary(sums)
	p.Pairs = pairRuns(goRuns, p.Runs)
	p.RatioMedian = medianRatios(p.Pairs)
}

// pairRuns matches runs of the two sides with the same pair number, in
// pair order.
func pairRuns(goRuns, peerRuns []*RunResult) []pairResult {
	var out []pairResult
	for _, a := range goRuns {
		i := slices.IndexFunc(peerRuns, func(b *RunResult) bool { return b.Run == a.Run })
		if i < 0 {
			continue
		}
		b := peerRuns[i]
		pr := pairResult{Pair: a.Run, Order: "AB", GoSeq: a.Seq, PeerSeq: b.Seq, Ratios: map[string]float64{}}
		if b.Seq < a.Seq {
			pr.Order = "BA"
		}
		for _, f := range abFigures {
			if r, ok := ratio(f.get(&a.Summary), f.get(&b.Summary)); ok {
				pr.Ratios[f.key] = r
			}
		}
		out = append(out, pr)
	}
	slices.SortFunc(out, func(x, y pairResult) int { return x.Pair - y.Pair })
	return out
}

// medianRatios is the median over pairs of each figure's ratio.
func medianRatios(pairs []pairResult) map[string]float64 {
	out := map[string]float64{}
	for _, f := range abFigures {
		var xs []float64
		for _, p := range pairs {
			if r, ok := p.Ratios[f.key]; ok {
				xs = append(xs, r)
			}
		}
		if len(xs) > 0 {
			out[f.key] = round3(median(xs))
		}
	}
	return out
}

// ratioText renders a ratio cell ("-" when undefined).
func ratioText(m map[string]float64, key string) string {
	if r, ok := m[key]; ok {
		return fmt.Sprintf("%.2f", r)
	}
	return "-"
}
