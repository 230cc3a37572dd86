// Command vardiff is the per-miner difficulty scenario of go-proxy's bench:
// miners of mixed speeds on a pool whose difficulty is far above what any
// of them finds in a target interval, through a proxy with vardiff on.
//
//	go run ./bench/vardiff -family cryptonote -miners 200 -duration 5m
//	go run ./bench/vardiff -family sv1 -miners 10 -duration 5m
//
// It starts, in this process, a mock pool that checks every share
// (bench/mockpool or bench/sv1pool), the proxy (package reactor, one event
// loop unless -loops) and the miners (bench/simminer: CryptoNote miners
// draw their shares as a miner of their speed would find them; SV1 miners
// really hash sha256d, paced). Speeds are spread log-uniformly over
// [-min-rate, -max-rate]. At the end it reports, per miner and as
// percentiles over the miners:
//
//   - the difficulty reached against the one that gives a share per
//     target-seconds at the miner's speed, and the number of changes;
//   - the share interval over the last -window of the run;
//   - the settle time: from the miner's first job to the first share from
//     which every share was sent within a factor 2 of the ideal difficulty;
//   - the hashrate error of /1/workers (the proxy's 1-minute and 10-minute
//     windows at the end, against the miner's true speed: the one it kept,
//     which for SV1 miners on a busy machine is below the one set), and of the
//     miner's own accepted shares (Poisson noise, the floor any estimate
//     from the same shares has);
//   - what the pool saw (accepted, rejected, below its difficulty) and
//     what the proxy answered itself.
//
// The result is a table on stdout and one JSON line (-save appends it to a
// file too). Exit status 3 when the pool rejected a share or saw one below
// its difficulty, or a miner had a share refused.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/simminer"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/stats"
	"forge.lthn.ai/core/go-proxy/upstream"
	"forge.lthn.ai/core/go-proxy/vardiff"
)

// Options is the command line.
type Options struct {
	Family          string        `json:"family"`
	Miners          int           `json:"miners"`
	MinRate         float64       `json:"min_rate"`
	MaxRate         float64       `json:"max_rate"`
	PoolFactor      float64       `json:"pool_factor"`
	Duration        time.Duration `json:"-"`
	Window          time.Duration `json:"-"`
	TargetSeconds   float64       `json:"target_seconds"`
	RetargetSeconds float64       `json:"retarget_seconds"`
	Variance        float64       `json:"variance"`
	Loops           int           `json:"loops"`
	Seed            uint64        `json:"seed"`
	Save            string        `json:"-"`
	Quiet           bool          `json:"-"`
	DurationText    string        `json:"duration"`
	WindowText      string        `json:"window"`
}

const (
	familyCN  = "cryptonote"
	familySV1 = "sv1"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "vardiff:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var progress io.Writer = stderr
	if o.Quiet {
		progress = io.Discard
	}
	rep, err := execute(ctx, &o, progress)
	if err != nil {
		fmt.Fprintln(stderr, "vardiff:", err)
		return 1
	}
	rep.table(stdout)
	line, _ := json.Marshal(rep)
	fmt.Fprintln(stdout, string(line))
	if o.Save != "" {
		f, err := os.OpenFile(o.Save, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(stderr, "vardiff:", err)
			return 1
		}
		_, werr := fmt.Fprintln(f, string(line))
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			fmt.Fprintln(stderr, "vardiff: -save:", werr)
			return 1
		}
	}
	if !rep.OK {
		return 3
	}
	return 0
}

func parseOptions(args []string, w io.Writer) (Options, error) {
	o := Options{Family: familyCN, Miners: 200, Duration: 5 * time.Minute, Window: 2 * time.Minute,
		TargetSeconds: 5, RetargetSeconds: 15, Variance: 0.3, PoolFactor: 100, Loops: 1, Seed: 1}
	fs := flag.NewFlagSet("vardiff", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.StringVar(&o.Family, "family", o.Family, "cryptonote (simulated miners, no hashing) or sv1 (real sha256d, paced)")
	fs.IntVar(&o.Miners, "miners", o.Miners, "miners")
	fs.Float64Var(&o.MinRate, "min-rate", 0, "slowest miner, H/s (default 100 for cryptonote, 20000 for sv1)")
	fs.Float64Var(&o.MaxRate, "max-rate", 0, "fastest miner, H/s (default 10000 for cryptonote, 200000 for sv1)")
	fs.Float64Var(&o.PoolFactor, "pool-factor", o.PoolFactor, "pool difficulty = this × what the fastest miner finds in target-seconds")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "how long the miners mine")
	fs.DurationVar(&o.Window, "window", o.Window, "the end of the run over which share intervals are measured")
	fs.Float64Var(&o.TargetSeconds, "target-seconds", o.TargetSeconds, "vardiff target-seconds")
	fs.Float64Var(&o.RetargetSeconds, "retarget-seconds", o.RetargetSeconds, "vardiff retarget-seconds")
	fs.Float64Var(&o.Variance, "variance", o.Variance, "vardiff variance")
	fs.IntVar(&o.Loops, "loops", o.Loops, "proxy event loops")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the miners' speeds and draws")
	fs.StringVar(&o.Save, "save", "", "append the JSON line to this file too")
	fs.BoolVar(&o.Quiet, "q", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	switch o.Family {
	case familyCN:
		o.MinRate, o.MaxRate = cmp(o.MinRate, 100), cmp(o.MaxRate, 10_000)
	case familySV1:
		o.MinRate, o.MaxRate = cmp(o.MinRate, 20_000), cmp(o.MaxRate, 200_000)
	default:
		return o, fmt.Errorf("-family: cryptonote or sv1, got %q", o.Family)
	}
	switch {
	case o.Miners < 1:
		return o, errors.New("-miners: at least 1")
	case !(o.MinRate > 0) || o.MaxRate < o.MinRate:
		return o, errors.New("-min-rate, -max-rate: 0 < min ≤ max")
	case !(o.PoolFactor >= 1):
		return o, errors.New("-pool-factor: at least 1")
	case o.Duration <= 0 || o.Window <= 0 || o.Window > o.Duration:
		return o, errors.New("-duration, -window: positive, window ≤ duration")
	case o.Loops < 1:
		return o, errors.New("-loops: at least 1")
	}
	o.DurationText, o.WindowText = o.Duration.String(), o.Window.String()
	return o, nil
}

func cmp(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// Report is the JSON line.
type Report struct {
	Command   []string      `json:"command"`
	Options   Options       `json:"options"`
	Date      string        `json:"date"`
	GoVersion string        `json:"go"`
	CPUs      int           `json:"cpus"`
	PoolDiff  float64       `json:"pool_diff"`
	Miners    []MinerResult `json:"miners"`
	// Percentiles over the miners (p50, p90, max) of |hashrate error| and
	// of the share interval's ratio to the target.
	Summary Summary     `json:"summary"`
	Pool    PoolResult  `json:"pool"`
	Proxy   ProxyResult `json:"proxy"`
	OK      bool        `json:"ok"`
	Problem string      `json:"problem,omitempty"`
}

// MinerResult is one miner's outcome.
type MinerResult struct {
	Rate        float64 `json:"rate_hs"`
	Kept        float64 `json:"kept_hs"` // the speed it kept (SV1 miners may fall behind on a busy machine)
	Ideal       float64 `json:"ideal_diff"`
	Diff        float64 `json:"final_diff"`
	Changes     int     `json:"changes"`
	Shares      int     `json:"shares"`
	Interval    float64 `json:"interval_s"` // over the window; 0 = no share
	Settle      float64 `json:"settle_s"`   // -1 = never
	Err1m       float64 `json:"err_1m"`     // (proxy 1m − true) / true
	Err10m      float64 `json:"err_10m"`    // (proxy 10m − true) / true
	ErrShares   float64 `json:"err_shares"` // (the miner's accepted shares' rate − true) / true
	ErrCredited float64 `json:"err_credit"` // (proxy's hashes − Σ accepted share difficulty × K) / that
	Refused     int     `json:"refused"`    // shares the proxy or pool refused
	StopReason  string  `json:"err,omitempty"`
}

// Summary is percentiles over the miners.
type Summary struct {
	Err1m, Err10m, ErrShares [3]float64 // |error| p50, p90, max
	IntervalRatio            [3]float64 // interval / target: p10, p50, p90
	InBand                   float64    // share of miners whose interval is within target ± variance
	Settle                   [3]float64 // p50, p90, max seconds (never-settled miners count as the run's length)
	Changes                  [3]float64 // p50, p90, max
}

// PoolResult is what the pool saw.
type PoolResult struct {
	Submits, Accepted, Rejected, LowDiff int64
}

// ProxyResult is what the proxy counted.
type ProxyResult struct {
	Accepted, Custom, Invalid, Rejected uint64
}

func execute(ctx context.Context, o *Options, progress io.Writer) (*Report, error) {
	rep := &Report{Command: os.Args, Options: *o, Date: time.Now().UTC().Format(time.RFC3339), GoVersion: runtime.Version(), CPUs: runtime.NumCPU()}
	k := 1.0 // hashes per difficulty 1
	if o.Family == familySV1 {
		k = 1 << 32
	}
	rep.PoolDiff = o.PoolFactor * o.MaxRate * o.TargetSeconds / k
	if o.Family == familyCN {
		rep.PoolDiff = math.Round(rep.PoolDiff)
	}

	var poolAddr string
	var poolStats func() PoolResult
	if o.Family == familyCN {
		pool, err := mockpool.Start(mockpool.Config{Difficulty: uint64(rep.PoolDiff)})
		if err != nil {
			return nil, err
		}
		defer pool.Close()
		poolAddr = pool.Addr()
		poolStats = func() PoolResult {
			st := pool.Stats()
			return PoolResult{Submits: st.Submits, Accepted: st.Accepted, Rejected: st.Rejected, LowDiff: st.LowDiff}
		}
	} else {
		pool, err := sv1pool.Start(sv1pool.Config{Difficulty: rep.PoolDiff})
		if err != nil {
			return nil, err
		}
		defer pool.Close()
		poolAddr = pool.Addr()
		poolStats = func() PoolResult {
			st := pool.Stats()
			return PoolResult{Submits: st.Submits, Accepted: st.Accepted, Rejected: st.Rejected, LowDiff: st.LowDiff}
		}
	}

	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pc := upstream.PoolConfig{URL: poolAddr, User: "bench", Pass: "x"}
	if o.Family == familySV1 {
		pc.Family = upstream.SV1
	}
	cfg := &reactor.Config{
		EventLoops: o.Loops,
		Bind:       []reactor.BindConfig{{Host: "127.0.0.1", Port: port}},
		Pools:      []upstream.PoolConfig{pc},
		Vardiff: vardiff.Config{Enabled: true, TargetSeconds: o.TargetSeconds, RetargetSeconds: o.RetargetSeconds,
			Variance: o.Variance, MinDiff: math.Min(1, o.MinRate*o.TargetSeconds/k/100)},
	}
	p, err := reactor.New(cfg, reactor.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return nil, err
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = p.Start(startCtx)
	cancel()
	if err != nil {
		return nil, err
	}
	defer p.Stop(context.Background())

	rng := rand.New(rand.NewPCG(o.Seed, 0x7664))
	rates := make([]float64, o.Miners)
	for i := range rates {
		rates[i] = o.MinRate * math.Pow(o.MaxRate/o.MinRate, rng.Float64())
	}
	if o.Miners > 1 {
		rates[0], rates[1] = o.MinRate, o.MaxRate // both ends, always
	}
	type miner interface {
		Stats() simminer.Stats
		Close()
	}
	mctx, stopMiners := context.WithCancel(ctx)
	defer stopMiners()
	miners := make([]miner, o.Miners)
	for i, r := range rates {
		mc := simminer.Config{Addr: cfg.Bind[0].Address(), User: "WALLET", RigID: rigName(i), Hashrate: r, Seed: o.Seed*1000 + uint64(i)}
		var m miner
		if o.Family == familyCN {
			m, err = simminer.StartCN(mctx, mc)
		} else {
			mc.User = rigName(i)
			m, err = simminer.StartSV1(mctx, mc)
		}
		if err != nil {
			return nil, fmt.Errorf("miner %d: %w", i, err)
		}
		miners[i] = m
	}
	fmt.Fprintf(progress, "%d %s miners, %.4g..%.4g H/s, pool difficulty %.4g, target %v s; running %v\n",
		o.Miners, o.Family, o.MinRate, o.MaxRate, rep.PoolDiff, o.TargetSeconds, o.Duration)
	start := time.Now()
	tick := time.NewTicker(10 * time.Second)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
			if time.Since(start) >= o.Duration {
				done = true
				break
			}
			fmt.Fprintf(progress, "%4.0f s: pool accepted %d, proxy answered %d itself\n",
				time.Since(start).Seconds(), poolStats().Accepted, p.Summary().Counters.CustomAccepted)
		}
	}
	tick.Stop()
	end := time.Now()
	ws, err := p.Workers(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]stats.WorkerView{}
	for _, w := range ws {
		byName[w.Name] = w
	}
	for i, m := range miners {
		st := m.Stats()
		rep.Miners = append(rep.Miners, minerResult(o, st, byName[rigName(i)], k, start, end))
	}
	for _, m := range miners {
		m.Close()
	}
	rep.Pool = poolStats()
	c := p.Summary().Counters
	rep.Proxy = ProxyResult{Accepted: c.Accepted, Custom: c.CustomAccepted, Invalid: c.Invalid, Rejected: c.Rejected}
	rep.summarize(o)
	rep.OK = rep.Problem == ""
	return rep, nil
}

func rigName(i int) string { return "rig-" + strconv.Itoa(i) }

func minerResult(o *Options, st simminer.Stats, w stats.WorkerView, k float64, start, end time.Time) MinerResult {
	speed := st.Achieved(end) // an SV1 miner on a busy machine may fall behind its pace
	ideal := speed * o.TargetSeconds / k
	r := MinerResult{Rate: st.Hashrate, Kept: speed, Ideal: ideal, Diff: st.Diff, Changes: st.DiffChanges, Shares: len(st.Shares), Settle: -1}
	if st.Err != nil {
		r.StopReason = st.Err.Error()
	}
	if iv := st.ShareInterval(end.Add(-o.Window), end); iv > 0 {
		r.Interval = iv.Seconds()
	}
	for i := range st.Shares {
		ok := true
		for _, sh := range st.Shares[i:] {
			if sh.Diff < ideal/2 || sh.Diff > ideal*2 {
				ok = false
				break
			}
		}
		if ok {
			r.Settle = st.Shares[i].At.Sub(st.Started).Seconds()
			break
		}
	}
	r.Err1m = w.Hashrate[stats.Window60s]/speed - 1
	r.Err10m = w.Hashrate[stats.Window600s]/speed - 1
	r.ErrShares = st.MeasuredHashrate(st.Started, end, k)/speed - 1
	var credited float64
	for _, sh := range st.Shares {
		if sh.Accepted {
			credited += sh.Diff * k
		}
		if sh.Answered && !sh.Accepted {
			r.Refused++
		}
	}
	if credited > 0 {
		r.ErrCredited = w.Hashes/credited - 1
	}
	return r
}

func (rep *Report) summarize(o *Options) {
	var e1, e10, es, ratio, settle, changes []float64
	in := 0
	for _, m := range rep.Miners {
		e1 = append(e1, math.Abs(m.Err1m))
		e10 = append(e10, math.Abs(m.Err10m))
		es = append(es, math.Abs(m.ErrShares))
		ratio = append(ratio, m.Interval/o.TargetSeconds)
		if m.Interval > 0 && math.Abs(m.Interval/o.TargetSeconds-1) <= o.Variance {
			in++
		}
		s := m.Settle
		if s < 0 {
			s = o.Duration.Seconds()
		}
		settle = append(settle, s)
		changes = append(changes, float64(m.Changes))
		if m.Refused > 0 && rep.Problem == "" {
			rep.Problem = fmt.Sprintf("a miner (%.0f H/s) had %d shares refused", m.Rate, m.Refused)
		}
	}
	q := func(v []float64, ps ...float64) (out [3]float64) {
		slices.Sort(v)
		for i, p := range ps {
			out[i] = v[min(len(v)-1, int(p*float64(len(v))))]
		}
		return
	}
	rep.Summary = Summary{Err1m: q(e1, .5, .9, 1), Err10m: q(e10, .5, .9, 1), ErrShares: q(es, .5, .9, 1),
		IntervalRatio: q(ratio, .1, .5, .9), InBand: float64(in) / float64(len(rep.Miners)),
		Settle: q(settle, .5, .9, 1), Changes: q(changes, .5, .9, 1)}
	if rep.Pool.Rejected > 0 || rep.Pool.LowDiff > 0 {
		rep.Problem = fmt.Sprintf("the pool rejected %d shares (%d below its difficulty)", rep.Pool.Rejected, rep.Pool.LowDiff)
	}
}

func (rep *Report) table(w io.Writer) {
	o := &rep.Options
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rate H/s\tideal diff\tfinal diff\tchanges\tshares\tinterval s\tsettle s\terr 1m\terr 10m\terr shares\t")
	rows := slices.Clone(rep.Miners)
	slices.SortFunc(rows, func(a, b MinerResult) int { return int(math.Copysign(1, a.Rate-b.Rate)) })
	if len(rows) > 24 { // every tenth, and both ends
		var pick []MinerResult
		for i := range rows {
			if i%(len(rows)/10) == 0 || i == len(rows)-1 {
				pick = append(pick, rows[i])
			}
		}
		rows = pick
	}
	for _, m := range rows {
		fmt.Fprintf(tw, "%.4g\t%.4g\t%.4g\t%d\t%d\t%.2f\t%.0f\t%+.1f%%\t%+.1f%%\t%+.1f%%\t\n",
			m.Rate, m.Ideal, m.Diff, m.Changes, m.Shares, m.Interval, m.Settle, 100*m.Err1m, 100*m.Err10m, 100*m.ErrShares)
	}
	tw.Flush()
	s := rep.Summary
	fmt.Fprintf(w, "\n%d %s miners, %.4g..%.4g H/s, pool difficulty %.4g (%.0f× the fastest's target work), target %v s, %v\n",
		len(rep.Miners), o.Family, o.MinRate, o.MaxRate, rep.PoolDiff, o.PoolFactor, o.TargetSeconds, o.DurationText)
	fmt.Fprintf(w, "share interval / target over the last %v: p10 %.2f, p50 %.2f, p90 %.2f; within ±%.0f%%: %.0f%% of miners\n",
		o.WindowText, s.IntervalRatio[0], s.IntervalRatio[1], s.IntervalRatio[2], 100*o.Variance, 100*s.InBand)
	fmt.Fprintf(w, "settled (every later share within ×2 of the ideal difficulty) after: p50 %.0f s, p90 %.0f s, max %.0f s; changes p50 %.0f, max %.0f\n",
		s.Settle[0], s.Settle[1], s.Settle[2], s.Changes[0], s.Changes[2])
	fmt.Fprintf(w, "|hashrate error| p50 / p90 / max: /1/workers 1m %.1f / %.1f / %.1f %%, 10m %.1f / %.1f / %.1f %%; the miner's own shares %.1f / %.1f / %.1f %%\n",
		100*s.Err1m[0], 100*s.Err1m[1], 100*s.Err1m[2], 100*s.Err10m[0], 100*s.Err10m[1], 100*s.Err10m[2],
		100*s.ErrShares[0], 100*s.ErrShares[1], 100*s.ErrShares[2])
	fmt.Fprintf(w, "pool: %d submits, %d accepted, %d rejected, %d below its difficulty; proxy: %d accepted, %d answered itself, %d invalid\n",
		rep.Pool.Submits, rep.Pool.Accepted, rep.Pool.Rejected, rep.Pool.LowDiff, rep.Proxy.Accepted, rep.Proxy.Custom, rep.Proxy.Invalid)
	if rep.Problem != "" {
		fmt.Fprintln(w, "PROBLEM:", rep.Problem)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
