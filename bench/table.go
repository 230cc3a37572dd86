package main

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// tableRow is one line of the text table: a label, how to read the
// number from a Summary, its format and, when DESIGN §5 budgets it, the
// index of its budgetCheck.
type tableRow struct {
	label  string
	get    func(*Summary) float64
	format string
	budget int // index into Report.Budget, -1 for none
}

var tableRows = []tableRow{
	{"miners logged in", func(s *Summary) float64 { return s.LoggedIn }, "%.0f", -1},
	{"RSS per miner (bytes)", func(s *Summary) float64 { return s.RSSPerMiner }, "%.0f", 0},
	{"job to last miner, median of jobs (ms)", func(s *Summary) float64 { return s.FanoutLastMs }, "%.1f", 1},
	{"job to last miner, worst job (ms)", func(s *Summary) float64 { return s.FanoutLastMaxMs }, "%.1f", -1},
	{"job fan-out p50 (ms)", func(s *Summary) float64 { return s.FanoutP50Ms }, "%.1f", -1},
	{"job fan-out p99 (ms)", func(s *Summary) float64 { return s.FanoutP99Ms }, "%.1f", -1},
	{"submit RTT p50 (ms)", func(s *Summary) float64 { return s.SubmitP50Ms }, "%.2f", -1},
	{"submit RTT p99 (ms)", func(s *Summary) float64 { return s.SubmitP99Ms }, "%.2f", 2},
	{"login p50 (ms)", func(s *Summary) float64 { return s.LoginP50Ms }, "%.1f", -1},
	{"login p99 (ms)", func(s *Summary) float64 { return s.LoginP99Ms }, "%.1f", -1},
	{"proxy CPU s per 1000 shares", func(s *Summary) float64 { return s.CPUPer1000Shares }, "%.4f", 3},
	{"proxy syscalls per share (syscr+syscw)", func(s *Summary) float64 { return s.SyscallsPerShare }, "%.2f", -1},
	{"proxy context switches per share", func(s *Summary) float64 { return s.CtxSwitchesPerShare }, "%.2f", -1},
	{"accepted shares/s (miners)", func(s *Summary) float64 { return s.AcceptedPerSec }, "%.0f", -1},
	{"accepted shares/s (pool)", func(s *Summary) float64 { return s.PoolAcceptedPS }, "%.0f", -1},
	{"proxy CPU in window (cores)", func(s *Summary) float64 { return s.ProxyCores }, "%.3f", -1},
	{"harness CPU in window (cores)", func(s *Summary) float64 { return s.HarnessCores }, "%.3f", -1},
	{"proxy RSS idle (MiB)", func(s *Summary) float64 { return s.RSSIdle / (1 << 20) }, "%.1f", -1},
	{"proxy RSS after ramp (MiB)", func(s *Summary) float64 { return s.RSSRamp / (1 << 20) }, "%.1f", -1},
	{"proxy RSS at end (MiB)", func(s *Summary) float64 { return s.RSSEnd / (1 << 20) }, "%.1f", -1},
	{"proxy CPU s idle / ramp / end", nil, "", -1},
	{"kernel slab per TCP socket (bytes)", func(s *Summary) float64 { return s.KernelPerSocket }, "%.0f", -1},
	{"ramp (s)", func(s *Summary) float64 { return s.RampSeconds }, "%.1f", -1},
	{"miner errors", func(s *Summary) float64 { return s.Errors }, "%.0f", 4},
	{"pool rejected", func(s *Summary) float64 { return s.PoolRejected }, "%.0f", -1},
	{"pool duplicates", func(s *Summary) float64 { return s.Duplicates }, "%.0f", -1},
	{"pool overlaps (sv1)", func(s *Summary) float64 { return s.Overlaps }, "%.0f", -1},
}

// writeTable renders the report for humans.
func writeTable(w io.Writer, r *Report) error {
	o := &r.Options
	var b strings.Builder
	fmt.Fprintf(&b, "go-proxy bench: %s %s, %d miners, %.0f shares/s, job every %s, window %s, ramp %s, %d run(s)\n",
		o.Family, o.Mode, o.Miners, o.Shares, o.JobsText, o.DurationText, rampText(o.Ramp), len(r.Runs))
	fmt.Fprintf(&b, "target:  %s\n", r.Target)
	m := r.Machine
	fmt.Fprintf(&b, "machine: %s, %d cores, kernel %s, %s, open files %d\n", m.CPU, m.Cores, m.Kernel, m.Go, m.OpenFiles)
	fmt.Fprintf(&b, "date:    %s\ncommand: %s\n\n", r.Date, r.Command)

	if r.Peer != nil {
		if err := writeABTable(&b, r); err != nil {
			return err
		}
	} else if err := writeRunsTable(&b, r); err != nil {
		return err
	}
	for _, run := range r.allRuns() {
		name := fmt.Sprintf("run %d", run.Run)
		if run.Side != "" {
			name += " " + run.Side
		}
		if len(run.ErrorKinds) > 0 {
			fmt.Fprintf(&b, "%s errors by kind:", name)
			for _, k := range slices.Sorted(maps.Keys(run.ErrorKinds)) {
				fmt.Fprintf(&b, " %q=%d", k, run.ErrorKinds[k])
			}
			b.WriteByte('\n')
		}
		if api := run.Proxy.API; api != nil {
			fmt.Fprintf(&b, "%s proxy /1/summary: miners now %d max %d, upstreams %d, connections %d refused %d, accepted %d rejected %d invalid %d expired %d\n",
				name, api.Miners.Now, api.Miners.Max, api.Upstreams.Total, api.Connections.Total, api.Connections.Refused,
				api.Results.Accepted, api.Results.Rejected, api.Results.Invalid, api.Results.Expired)
		}
		fmt.Fprintf(&b, "%s CPU idle: %s; window: %s\n", name, neighbourText(run.NeighboursIdle), neighbourText(run.NeighboursWindow))
		if len(run.Profiles) > 0 {
			fmt.Fprintf(&b, "%s profiles: %s (go tool pprof -top FILE)\n", name, strings.Join(run.Profiles, " "))
		}
		if run.ListenOverflows > 0 {
			fmt.Fprintf(&b, "%s ramp: %d connects dropped by a full accept queue (TcpExt ListenOverflows, machine-wide), retried after >= 1 s\n", name, run.ListenOverflows)
		}
		for _, n := range run.Notes {
			fmt.Fprintf(&b, "%s note: %s\n", name, n)
		}
	}
	if len(r.Problems) > 0 {
		b.WriteString("problems:\n")
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "  - %s\n", p)
		}
	}
	verdict := "OK"
	if !r.OK {
		verdict = "NOT OK (proxy died, overlapping work, or runs missing)"
	}
	fmt.Fprintf(&b, "verdict: %s\n", verdict)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeRunsTable is the table of go-proxy's runs, their medians and
// DESIGN §5's budget.
func writeRunsTable(b *strings.Builder, r *Report) error {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{""}
	for _, run := range r.Runs {
		head = append(head, "run "+strconv.Itoa(run.Run))
	}
	head = append(head, "median", "budget", "xmrig-proxy")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, row := range tableRows {
		cells := []string{row.label}
		if row.get == nil { // CPU checkpoints: three numbers per cell
			for _, run := range r.Runs {
				cells = append(cells, fmt.Sprintf("%.2f/%.2f/%.2f", run.CPUIdle, run.CPURamp, run.CPUEnd))
			}
			cells = append(cells, fmt.Sprintf("%.2f/%.2f/%.2f", r.Median.CPUIdle, r.Median.CPURamp, r.Median.CPUEnd), "", "")
			fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
			continue
		}
		for _, run := range r.Runs {
			cells = append(cells, fmt.Sprintf(row.format, row.get(&run.Summary)))
		}
		cells = append(cells, fmt.Sprintf(row.format, row.get(&r.Median)))
		if row.budget >= 0 && row.budget < len(r.Budget) {
			bc := r.Budget[row.budget]
			cells = append(cells, fmt.Sprintf("<= %s %s", strconv.FormatFloat(bc.Limit, 'g', -1, 64), mark(bc.Pass)), bc.XMRig)
		} else {
			cells = append(cells, "", "")
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	alive := []string{"proxy alive at end"}
	busy := []string{"box busy (other procs / unexplained cores)"}
	for _, run := range r.Runs {
		alive = append(alive, strconv.FormatBool(run.Proxy.Alive))
		nw := run.NeighboursWindow
		busy = append(busy, fmt.Sprintf("%s %.2f/%.2f", yesNo(nw.Busy), nw.Others, nw.Unexplained))
	}
	fmt.Fprintln(tw, strings.Join(append(alive, strconv.FormatBool(r.ProxyAlive), "", ""), "\t")+"\t")
	fmt.Fprintln(tw, strings.Join(append(busy, yesNo(r.Busy), "", ""), "\t")+"\t")
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("table: %w", err)
	}

	b.WriteString("\n(budget: fixed limits at 15,000 CryptoNote NiceHash miners, a job every 5 s, 2000 shares/s; DESIGN §5 judges ratios to xmrig-proxy from an A/B run)\n")
	return nil
}

// writeABTable is the table of an A/B invocation: per pair go-proxy's
// value, the peer's and their ratio, then both medians and the median of
// the ratios.
func writeABTable(b *strings.Builder, r *Report) error {
	p := r.Peer
	peer := peerName(p.Bin)
	fmt.Fprintf(b, "A = go-proxy, B = %s (%s %s), order %s; ratio = A/B (below 1: go-proxy is lower)\n\n", peer, p.Bin, p.Args, p.Order)
	byPair := func(runs []*RunResult, pair int) *RunResult {
		for _, run := range runs {
			if run.Run == pair {
				return run
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{""}
	for i := 1; i <= r.Options.Runs; i++ {
		head = append(head, fmt.Sprintf("%d go-proxy", i), fmt.Sprintf("%d %s", i, peer), fmt.Sprintf("%d A/B", i))
	}
	head = append(head, "median go-proxy", "median "+peer, "median A/B")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	cell := func(run *RunResult, f abFigure) string {
		if run == nil {
			return "-"
		}
		return fmt.Sprintf(f.format, f.get(&run.Summary))
	}
	for _, f := range abFigures {
		cells := []string{f.label}
		for i := 1; i <= r.Options.Runs; i++ {
			a, c := byPair(r.Runs, i), byPair(p.Runs, i)
			ratio := "-"
			for _, pr := range p.Pairs {
				if pr.Pair == i {
					ratio = ratioText(pr.Ratios, f.key)
				}
			}
			cells = append(cells, cell(a, f), cell(c, f), ratio)
		}
		cells = append(cells, fmt.Sprintf(f.format, f.get(&r.Median)), fmt.Sprintf(f.format, f.get(&p.Median)), ratioText(p.RatioMedian, f.key))
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	order := []string{"order in the pair"}
	alive := []string{"alive at end"}
	busy := []string{"box busy (others / unexplained cores)"}
	for i := 1; i <= r.Options.Runs; i++ {
		o := "-"
		for _, pr := range p.Pairs {
			if pr.Pair == i {
				o = pr.Order
			}
		}
		order = append(order, o, "", "")
		for _, run := range []*RunResult{byPair(r.Runs, i), byPair(p.Runs, i)} {
			if run == nil {
				alive, busy = append(alive, "-"), append(busy, "-")
				continue
			}
			nw := run.NeighboursWindow
			alive = append(alive, strconv.FormatBool(run.Proxy.Alive))
			busy = append(busy, fmt.Sprintf("%s %.2f/%.2f", yesNo(nw.Busy), nw.Others, nw.Unexplained))
		}
		alive, busy = append(alive, ""), append(busy, "")
	}
	fmt.Fprintln(tw, strings.Join(append(order, "", "", ""), "\t")+"\t")
	fmt.Fprintln(tw, strings.Join(append(alive, strconv.FormatBool(r.ProxyAlive), strconv.FormatBool(p.Alive), ""), "\t")+"\t")
	fmt.Fprintln(tw, strings.Join(append(busy, yesNo(r.Busy), "", ""), "\t")+"\t")
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	b.WriteByte('\n')
	return nil
}

// peerName is the peer's column name: its binary's base name.
func peerName(bin string) string {
	if n := filepath.Base(bin); n != "." && n != "/" {
		return n
	}
	return "peer"
}

// neighbourText summarises who used the CPU.
func neighbourText(n neighbourReport) string {
	s := fmt.Sprintf("system %.2f cores (proxy %.2f, harness %.2f, others %.2f, unexplained %.2f)",
		n.SystemBusy, n.Proxy, n.Harness, n.Others, n.Unexplained)
	if t := topText(n.Top); t != "" {
		s += ", top others: " + t
	}
	return s
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func rampText(r int) string {
	if r == 0 {
		return "unlimited"
	}
	return strconv.Itoa(r) + "/s"
}
