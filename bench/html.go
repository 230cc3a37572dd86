package main

import (
	"fmt"
	"html"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Chart geometry (SVG user units).
const (
	chartW, chartH            = 720.0, 260.0
	padL, padR, padT, padB    = 64.0, 16.0, 28.0, 40.0
	histBins                  = 48
	plotW                     = chartW - padL - padR
	plotH                     = chartH - padT - padB
	reportCSS                 = `body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.ok{color:#080}.bad{color:#b00}svg{display:block;margin:8px 0 20px;background:#fafafa;border:1px solid #ddd}h2{margin-top:28px}code{background:#f2f2f2;padding:1px 4px}`
	seriesColours             = "#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #8c564b"
	defaultRSSChartTitle      = "proxy RSS over time (MiB, sampled every 500 ms)"
	defaultLoggedInChartTitle = "miners logged in over time"
	histogramTitleFanout      = "job fan-out: pool send to miner kernel receive (jobs in the window, all runs)"
	histogramTitleSubmit      = "submit round trip (measurement window, all runs)"
	histogramTitleLogin       = "connect + login latency (all runs)"
	histogramEmptyText        = "no samples"
)

// writeHTMLFile writes the self-contained HTML report to path.
func writeHTMLFile(path string, r *Report) error {
	if err := os.WriteFile(path, []byte(renderHTML(r)), 0o644); err != nil {
		return fmt.Errorf("-html: %w", err)
	}
	return nil
}

// renderHTML renders the report as one self-contained, well-formed
// (XML-parsable) HTML document with inline SVG charts and no external
// assets.
func renderHTML(r *Report) string {
	var b strings.Builder
	esc := html.EscapeString
	o := &r.Options
	b.WriteString("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>")
	fmt.Fprintf(&b, "<title>go-proxy bench: %s, %d miners</title><style>%s</style></head><body>\n", esc(o.Family), o.Miners, reportCSS)
	fmt.Fprintf(&b, "<h1>go-proxy bench: %s %s, %d miners</h1>\n", esc(o.Family), esc(o.Mode), o.Miners)
	fmt.Fprintf(&b, "<p>%.0f shares/s, a job every %s, %s window, ramp %s, %d run(s). Target: %s.</p>\n",
		o.Shares, esc(o.JobsText), esc(o.DurationText), esc(rampText(o.Ramp)), len(r.Runs), esc(r.Target))
	m := r.Machine
	fmt.Fprintf(&b, "<p>Machine: %s, %d cores, kernel %s, %s, open files %d. Date %s.</p>\n<p>Command: <code>%s</code></p>\n",
		esc(m.CPU), m.Cores, esc(m.Kernel), esc(m.Go), m.OpenFiles, esc(r.Date), esc(r.Command))
	verdict := `<span class="ok">OK</span>`
	if !r.OK {
		verdict = `<span class="bad">NOT OK</span>`
	}
	fmt.Fprintf(&b, "<p>Verdict: %s. Proxy alive at the end: %t. Box busy: %t.</p>\n", verdict, r.ProxyAlive, r.Busy)

	b.WriteString("<h2>Results</h2>\n<table><tr><th></th>")
	for _, run := range r.Runs {
		fmt.Fprintf(&b, "<th>run %d</th>", run.Run)
	}
	b.WriteString("<th>median</th></tr>\n")
	for _, row := range tableRows {
		if row.get == nil {
			continue
		}
		fmt.Fprintf(&b, "<tr><td>%s</td>", esc(row.label))
		for _, run := range r.Runs {
			fmt.Fprintf(&b, "<td>%s</td>", esc(fmt.Sprintf(row.format, row.get(&run.Summary))))
		}
		fmt.Fprintf(&b, "<td>%s</td></tr>\n", esc(fmt.Sprintf(row.format, row.get(&r.Median))))
	}
	b.WriteString("</table>\n")
	if r.Peer != nil {
		writeABHTML(&b, r)
	}

	b.WriteString("<h2>Fixed limits (at 15,000 CryptoNote NiceHash miners; DESIGN §5 judges ratios to xmrig-proxy from an A/B run)</h2>\n<table><tr><th>item</th><th>median</th><th>budget</th><th></th><th>xmrig-proxy</th></tr>\n")
	for _, c := range r.Budget {
		cls := "ok"
		if !c.Pass {
			cls = "bad"
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s %s</td><td>≤ %s</td><td class=\"%s\">%s</td><td>%s</td></tr>\n",
			esc(c.Name), esc(strconv.FormatFloat(c.Value, 'g', 6, 64)), esc(c.Unit),
			esc(strconv.FormatFloat(c.Limit, 'g', -1, 64)), cls, mark(c.Pass), esc(c.XMRig))
	}
	b.WriteString("</table>\n")

	var fan, sub, login []dist
	var rss, logged []series
	for _, run := range r.Runs {
		fan, sub, login = append(fan, run.fanout), append(sub, run.submit), append(login, run.login)
		var pr, pl []point
		for _, s := range run.Timeline {
			pr = append(pr, point{s.T, float64(s.RSS) / (1 << 20)})
			pl = append(pl, point{s.T, float64(s.LoggedIn)})
		}
		name := "run " + strconv.Itoa(run.Run)
		rss, logged = append(rss, series{name, pr}), append(logged, series{name, pl})
	}
	b.WriteString("<h2>Latency histograms</h2>\n")
	b.WriteString(histogramSVG(histogramTitleFanout, mergeDists(fan...)))
	b.WriteString(histogramSVG(histogramTitleSubmit, mergeDists(sub...)))
	b.WriteString(histogramSVG(histogramTitleLogin, mergeDists(login...)))
	b.WriteString("<h2>Memory and miners over time</h2>\n")
	b.WriteString(lineChartSVG(defaultRSSChartTitle, "seconds since the proxy was up", rss))
	b.WriteString(lineChartSVG(defaultLoggedInChartTitle, "seconds since the proxy was up", logged))

	b.WriteString("<h2>Jobs</h2>\n<table><tr><th>run</th><th>job</th><th>sent (ms after window start)</th><th>in window</th><th>miners</th><th>p50 ms</th><th>p99 ms</th><th>last ms</th></tr>\n")
	for _, run := range r.Runs {
		for _, j := range run.Jobs {
			fmt.Fprintf(&b, "<tr><td>%d</td><td>%s</td><td>%.0f</td><td>%t</td><td>%d/%d</td><td>%.1f</td><td>%.1f</td><td>%.1f</td></tr>\n",
				run.Run, esc(j.ID), j.SentMs, j.InWindow, j.Miners, j.LoggedIn, j.P50Ms, j.P99Ms, j.LastMs)
		}
	}
	b.WriteString("</table>\n")

	b.WriteString("<h2>CPU use on the box</h2>\n<ul>\n")
	for _, run := range r.Runs {
		fmt.Fprintf(&b, "<li>run %d idle: %s</li>\n<li>run %d window: %s</li>\n",
			run.Run, esc(neighbourText(run.NeighboursIdle)), run.Run, esc(neighbourText(run.NeighboursWindow)))
	}
	b.WriteString("</ul>\n")
	if len(r.Problems) > 0 {
		b.WriteString("<h2>Problems</h2>\n<ul>\n")
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "<li>%s</li>\n", esc(p))
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

// writeABHTML is the side-by-side table of an A/B invocation.
func writeABHTML(b *strings.Builder, r *Report) {
	esc := html.EscapeString
	p := r.Peer
	peer := peerName(p.Bin)
	fmt.Fprintf(b, "<h2>Side by side: go-proxy (A) and %s (B)</h2>\n<p>Peer: <code>%s %s</code>, order %s. Ratio = A/B. The other sections show go-proxy's runs.</p>\n",
		esc(peer), esc(p.Bin), esc(p.Args), esc(p.Order))
	b.WriteString("<table><tr><th></th>")
	for _, pr := range p.Pairs {
		fmt.Fprintf(b, "<th>%d go-proxy</th><th>%d %s</th><th>%d A/B (%s)</th>", pr.Pair, pr.Pair, esc(peer), pr.Pair, esc(pr.Order))
	}
	fmt.Fprintf(b, "<th>median go-proxy</th><th>median %s</th><th>median A/B</th></tr>\n", esc(peer))
	find := func(runs []*RunResult, seq int) *RunResult {
		for _, run := range runs {
			if run.Seq == seq {
				return run
			}
		}
		return &RunResult{}
	}
	for _, f := range abFigures {
		fmt.Fprintf(b, "<tr><td>%s</td>", esc(f.label))
		for _, pr := range p.Pairs {
			a, c := find(r.Runs, pr.GoSeq), find(p.Runs, pr.PeerSeq)
			fmt.Fprintf(b, "<td>%s</td><td>%s</td><td>%s</td>", esc(fmt.Sprintf(f.format, f.get(&a.Summary))),
				esc(fmt.Sprintf(f.format, f.get(&c.Summary))), esc(ratioText(pr.Ratios, f.key)))
		}
		fmt.Fprintf(b, "<td>%s</td><td>%s</td><td>%s</td></tr>\n", esc(fmt.Sprintf(f.format, f.get(&r.Median))),
			esc(fmt.Sprintf(f.format, f.get(&p.Median))), esc(ratioText(p.RatioMedian, f.key)))
	}
	b.WriteString("</table>\n")
}

// point and series are line-chart data.
type point struct{ X, Y float64 }
type series struct {
	Name   string
	Points []point
}

// histogramSVG draws d as bars over logarithmic latency bins, with the
// p50 and p99 marked.
func histogramSVG(title string, d dist) string {
	var b strings.Builder
	svgOpen(&b, title)
	if d.count() == 0 {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text>`, chartW/2-30, chartH/2, histogramEmptyText)
		b.WriteString("</svg>\n")
		return b.String()
	}
	lo := math.Log10(float64(max(d.b[0].V, time.Microsecond)))
	hi := math.Log10(float64(max(d.max(), time.Microsecond)))
	if hi-lo < 0.5 { // at least half a decade wide
		lo, hi = lo-0.25, hi+0.25
	}
	var bins [histBins]int64
	binOf := func(v time.Duration) int {
		x := math.Log10(float64(max(v, time.Microsecond)))
		i := int((x - lo) / (hi - lo) * histBins)
		return min(max(i, 0), histBins-1)
	}
	var top int64
	for _, bk := range d.b {
		i := binOf(bk.V)
		bins[i] += bk.N
		top = max(top, bins[i])
	}
	xOf := func(logv float64) float64 { return padL + (logv-lo)/(hi-lo)*plotW }
	bw := plotW / histBins
	for i, n := range bins {
		if n == 0 {
			continue
		}
		h := float64(n) / float64(top) * plotH
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1f77b4"><title>%d samples</title></rect>`,
			padL+float64(i)*bw, padT+plotH-h, math.Max(bw-1, 1), h, n)
	}
	b.WriteByte('\n')
	// Axis ticks at 1-2-5 steps of the latency range.
	for e := math.Floor(lo); e <= math.Ceil(hi); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := e + math.Log10(m)
			if v < lo || v > hi {
				continue
			}
			x := xOf(v)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999"/>`, x, padT+plotH, x, padT+plotH+5)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%s</text>`,
				x, padT+plotH+18, html.EscapeString(durationLabel(time.Duration(math.Pow(10, v)))))
		}
	}
	for _, q := range []struct {
		name string
		v    time.Duration
	}{{"p50", d.quantile(0.5)}, {"p99", d.quantile(0.99)}} {
		x := xOf(math.Log10(float64(max(q.v, time.Microsecond))))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d62728" stroke-dasharray="4 3"/>`, x, padT, x, padT+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" fill="#d62728">%s %s</text>`,
			x+3, padT+12, q.name, html.EscapeString(durationLabel(q.v)))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11">n=%d, max %s; bars: samples per bin (log latency axis)</text>`,
		padL, chartH-6, d.count(), html.EscapeString(durationLabel(d.max())))
	axes(&b)
	b.WriteString("</svg>\n")
	return b.String()
}

// lineChartSVG draws each series as a polyline on linear axes.
func lineChartSVG(title, xLabel string, ss []series) string {
	var b strings.Builder
	svgOpen(&b, title)
	var maxX, maxY float64
	for _, s := range ss {
		for _, p := range s.Points {
			maxX, maxY = math.Max(maxX, p.X), math.Max(maxY, p.Y)
		}
	}
	if maxX <= 0 || maxY <= 0 {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text></svg>`+"\n", chartW/2-30, chartH/2, histogramEmptyText)
		return b.String()
	}
	maxY *= 1.05
	colours := strings.Fields(seriesColours)
	for i, s := range ss {
		var pts []string
		for _, p := range s.Points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", padL+p.X/maxX*plotW, padT+plotH-p.Y/maxY*plotH))
		}
		c := colours[i%len(colours)]
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, c, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" fill="%s">%s</text>`, padL+8+float64(i)*60, padT+12, c, html.EscapeString(s.Name))
	}
	for i := 0; i <= 4; i++ {
		y := padT + plotH - float64(i)/4*plotH
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="end">%s</text>`, padL-4, y+4, numLabel(maxY*float64(i)/4))
		x := padL + float64(i)/4*plotW
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%s</text>`, x, padT+plotH+16, numLabel(maxX*float64(i)/4))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%s</text>`, padL+plotW/2, chartH-6, html.EscapeString(xLabel))
	axes(&b)
	b.WriteString("</svg>\n")
	return b.String()
}

// svgOpen starts a chart with its title.
func svgOpen(b *strings.Builder, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img">`,
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(b, `<text x="%.1f" y="18" font-size="13" font-weight="bold">%s</text>`, padL, html.EscapeString(title))
}

// axes draws the plot frame's left and bottom edges.
func axes(b *strings.Builder) {
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444"/>`, padL, padT, padL, padT+plotH)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444"/>`, padL, padT+plotH, padL+plotW, padT+plotH)
}

// durationLabel is a short latency label: "850µs", "12ms", "1.5s".
func durationLabel(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e3, 'g', 3, 64) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'g', 3, 64) + "ms"
	default:
		return strconv.FormatFloat(float64(d)/1e9, 'g', 3, 64) + "s"
	}
}

// numLabel is a short axis number.
func numLabel(v float64) string {
	switch {
	case v >= 10000:
		return strconv.FormatFloat(v/1000, 'f', 0, 64) + "k"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}
