package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/sv1swarm"
	"forge.lthn.ai/core/go-proxy/bench/swarm"
)

// The routing scenario (-scenario routing): two mock pools of -family,
// a go-proxy process with one route splitting the hashrate over them by
// -weight-a (70/30 by default), and -miners miners of two speeds: half of
// them slow, half four times faster, -shares shares/s in all. After the
// ramp and a settling period it measures the split for -hold from the
// pools' own accepted difficulty, changes the weights (-weight-a-next,
// 50/50 by default) through PUT /1/config, and measures the split per
// rebalance interval after the change and then for -hold again. It
// reports the split over time, the convergence in rebalance intervals, the
// miners moved and any disconnect.

// routingSchema versions the routing report's JSON line.
const routingSchema = "go-proxy-bench-routing/1"

// routingToken is the API token of the proxy the scenario starts.
const routingToken = "bench-routing"

// RoutingReport is the routing scenario's result (one JSON line).
type RoutingReport struct {
	Schema    string      `json:"schema"`
	Date      string      `json:"date"`
	Command   string      `json:"command"`
	Machine   machineInfo `json:"machine"`
	Family    string      `json:"family"`
	Miners    int         `json:"miners"`
	Shares    float64     `json:"shares_per_s"`
	Rebalance float64     `json:"rebalance_s"`
	Hold      float64     `json:"hold_s"`
	// Weights and WeightsNext are pool a's goal before and after the
	// change (0..1).
	Weights     float64 `json:"weight_a"`
	WeightsNext float64 `json:"weight_a_next"`
	// Timeline is pool a's part of the accepted difficulty per sample
	// period, from the start of the first hold.
	Timeline []RoutingSample `json:"timeline"`
	// SplitHold and SplitHoldNext are pool a's part over each hold.
	SplitHold     float64 `json:"split_a_hold"`
	SplitHoldNext float64 `json:"split_a_hold_next"`
	// AfterChange is pool a's part over each rebalance interval after the
	// weight change; ConvergedAfter the intervals after which every
	// interval is within ±5 points of the new goal (-1: never).
	AfterChange    []float64 `json:"split_a_per_interval_after_change"`
	ConvergedAfter int       `json:"converged_after_intervals"`
	Moves          float64   `json:"moves"`
	Rebalances     float64   `json:"rebalances"`
	// Disconnects counts miners whose connection ended; Reconnects the
	// client.reconnect requests SV1 miners followed.
	Disconnects int              `json:"disconnects"`
	Reconnects  int64            `json:"reconnects"`
	Errors      map[string]int64 `json:"errors"`
	Duplicates  int64            `json:"pool_duplicates"`
	OK          bool             `json:"ok"`
	Problems    []string         `json:"problems,omitempty"`
}

// RoutingSample is pool a's part of the difficulty the pools accepted in
// one sample period ending At seconds after the first hold began.
type RoutingSample struct {
	At    float64 `json:"t"`
	Phase string  `json:"phase"`
	A     float64 `json:"split_a"`
	Diff  float64 `json:"accepted_diff"`
}

// routingPools is the two mock pools of the scenario's family.
type routingPools struct {
	cn   [2]*mockpool.Pool
	sv1  [2]*sv1pool.Pool
	addr [2]string
}

func startRoutingPools(o *Options) (*routingPools, error) {
	rp := &routingPools{}
	for i := range 2 {
		if o.Family == familySV1 {
			p, err := sv1pool.Start(sv1pool.Config{Difficulty: o.SV1Diff, Seed: int64(i + 1), JobInterval: o.Jobs})
			if err != nil {
				rp.close()
				return nil, err
			}
			rp.sv1[i], rp.addr[i] = p, p.Addr()
			continue
		}
		p, err := mockpool.Start(mockpool.Config{Seed: int64(i + 1), JobInterval: o.Jobs})
		if err != nil {
			rp.close()
			return nil, err
		}
		rp.cn[i], rp.addr[i] = p, p.Addr()
	}
	return rp, nil
}

// accepted returns each pool's accepted difficulty, duplicates and logins.
func (rp *routingPools) accepted() (diff [2]float64, dups int64, logins int) {
	for i := range 2 {
		if p := rp.sv1[i]; p != nil {
			st := p.Stats()
			diff[i], dups, logins = st.AcceptedDiff, dups+st.Duplicates+st.Overlaps, logins+st.Authorizes
		}
		if p := rp.cn[i]; p != nil {
			st := p.Stats()
			diff[i], dups, logins = st.AcceptedDiff, dups+st.Duplicates, logins+st.Logins
		}
	}
	return diff, dups, logins
}

func (rp *routingPools) close() {
	for i := range 2 {
		if rp.sv1[i] != nil {
			rp.sv1[i].Close()
		}
		if rp.cn[i] != nil {
			rp.cn[i].Close()
		}
	}
}

// routingSwarms is the slow and the fast half of the miners.
type routingSwarms struct {
	cn  []*swarm.Swarm
	sv1 []*sv1swarm.Swarm
}

func startRoutingSwarms(ctx context.Context, o *Options, addr string) (*routingSwarms, error) {
	rs := &routingSwarms{}
	slow := o.Miners / 2
	perSlow := o.Shares / (float64(slow) + 4*float64(o.Miners-slow)) // shares/s of a slow miner
	for i, g := range []struct {
		n    int
		rate float64
		name string
	}{{o.Miners - slow, 4 * perSlow, "fast"}, {slow, perSlow, "slow"}} {
		if g.n == 0 {
			continue
		}
		if o.Family == familySV1 {
			sw, err := sv1swarm.Start(ctx, sv1swarm.Config{ProxyAddr: addr, Miners: g.n, User: "farm", WorkerPrefix: g.name,
				ExtranonceSubscribe: true, SharesPerSecond: float64(g.n) * g.rate, Workers: o.SV1Workers,
				ConnectRate: o.Ramp, Timeout: o.SwarmTimeout})
			if err != nil {
				rs.close()
				return nil, err
			}
			rs.sv1 = append(rs.sv1, sw)
			continue
		}
		sw, err := swarm.Start(ctx, swarm.Config{ProxyAddr: addr, Miners: g.n, RigIDPrefix: g.name + strconv.Itoa(i) + "-",
			SharesPerSecond: float64(g.n) * g.rate, ConnectRate: o.Ramp, Timeout: o.SwarmTimeout})
		if err != nil {
			rs.close()
			return nil, err
		}
		rs.cn = append(rs.cn, sw)
	}
	return rs, nil
}

// state returns the miners logged in, those closed, the reconnects
// followed and the errors by kind.
func (rs *routingSwarms) state() (loggedIn, closed int, reconnects int64, errs map[string]int64) {
	errs = map[string]int64{}
	for _, sw := range rs.cn {
		st := sw.Stats()
		loggedIn, closed = loggedIn+st.LoggedIn, closed+st.Closed
		for k, v := range st.Errors {
			errs[k] += v
		}
	}
	for _, sw := range rs.sv1 {
		st := sw.Stats()
		loggedIn, closed, reconnects = loggedIn+st.Authorized, closed+st.Closed, reconnects+st.Reconnects
		for k, v := range st.Errors {
			errs[k] += v
		}
	}
	return loggedIn, closed, reconnects, errs
}

func (rs *routingSwarms) close() {
	for _, sw := range rs.cn {
		sw.Close()
	}
	for _, sw := range rs.sv1 {
		sw.Close()
	}
}

// routingConfig is the proxy's configuration: the pools a and b, one route
// over them with pool a's weight wa (of 100), the API on with a token.
func routingConfig(o *Options, bind, api int, pools [2]string, wa float64) ([]byte, error) {
	fam := "cryptonote"
	if o.Family == familySV1 {
		fam = "sv1"
	}
	cfg := map[string]any{
		"bind": []any{map[string]any{"host": "127.0.0.1", "port": bind}},
		"pools": []any{
			map[string]any{"name": "a", "url": pools[0], "user": "BENCH-WALLET", "pass": "x", "family": fam},
			map[string]any{"name": "b", "url": pools[1], "user": "BENCH-WALLET", "pass": "x", "family": fam},
		},
		"routes": []any{map[string]any{"name": "farm", "targets": []any{
			map[string]any{"pools": []string{"a"}, "weight": wa},
			map[string]any{"pools": []string{"b"}, "weight": 100 - wa},
		}}},
		"rebalance":   int(o.Rebalance / time.Second),
		"event-loops": o.Loops,
		"retries":     5, "retry-pause": 1, "log-level": "info",
		"http": map[string]any{"enabled": true, "host": "127.0.0.1", "port": api, "access-token": routingToken, "restricted": false},
	}
	return json.MarshalIndent(cfg, "", "  ")
}

// routingAPI calls the proxy's API.
func routingAPI(ctx context.Context, method string, port int, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+routingToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// routeFigures reads the route's moves and rebalance rounds.
func routeFigures(ctx context.Context, api int) (moves, rounds float64, err error) {
	var r struct {
		Routes []struct {
			Name       string  `json:"name"`
			Moves      float64 `json:"moves"`
			Rebalances float64 `json:"rebalances"`
		} `json:"routes"`
	}
	if err := routingAPI(ctx, "GET", api, "/1/routes", nil, &r); err != nil {
		return 0, 0, err
	}
	for _, x := range r.Routes {
		if x.Name == "farm" {
			return x.Moves, x.Rebalances, nil
		}
	}
	return 0, 0, errors.New("/1/routes: no route farm")
}

// splitSampler reads the pools' accepted difficulty every period.
type splitSampler struct {
	mu    sync.Mutex
	phase string
	start time.Time
	last  [2]float64
	out   []RoutingSample
	stop  chan struct{}
	done  chan struct{}
}

func startSplitSampler(rp *routingPools, period time.Duration) *splitSampler {
	s := &splitSampler{phase: "hold", start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	s.last, _, _ = rp.accepted()
	go func() {
		defer close(s.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			cur, _, _ := rp.accepted()
			s.mu.Lock()
			da, db := cur[0]-s.last[0], cur[1]-s.last[1]
			s.last = cur
			sm := RoutingSample{At: round3(time.Since(s.start).Seconds()), Phase: s.phase, Diff: da + db}
			if da+db > 0 {
				sm.A = round3(da / (da + db))
			}
			s.out = append(s.out, sm)
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *splitSampler) setPhase(p string) { s.mu.Lock(); s.phase = p; s.mu.Unlock() }

func (s *splitSampler) finish() []RoutingSample {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out
}

// partA measures pool a's part of what the pools accept during d.
func partA(ctx context.Context, rp *routingPools, d time.Duration) (float64, error) {
	a, _, _ := rp.accepted()
	if err := sleepCtx(ctx, d); err != nil {
		return 0, err
	}
	b, _, _ := rp.accepted()
	da, db := b[0]-a[0], b[1]-a[1]
	if da+db <= 0 {
		return 0, errors.New("the pools accepted nothing")
	}
	return da / (da + db), nil
}

// runRouting performs the routing scenario and writes its report.
func runRouting(ctx context.Context, o *Options, stdout io.Writer, progress io.Writer) (int, error) {
	env := &runEnv{o: o, progress: progress}
	timeout := o.Timeout
	if timeout <= 0 {
		// The build, the ramp and settles, two holds and the rebalance
		// intervals measured after the change, with room to spare.
		timeout = buildTimeout + o.runTimeout() + 2*o.Hold + 12*o.Rebalance
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tmp, err := os.MkdirTemp("", "go-proxy-bench-routing-*")
	if err != nil {
		return exitFailed, err
	}
	defer os.RemoveAll(tmp)
	bin, _, err := proxyBinary(ctx, o.ProxyBin, tmp, env.logf)
	if err != nil {
		return exitFailed, err
	}
	rep := &RoutingReport{Schema: routingSchema, Date: dateNow().UTC().Format(time.RFC3339), Command: commandLine(o.Args),
		Machine: readMachine(), Family: o.Family, Miners: o.Miners, Shares: o.Shares,
		Rebalance: o.Rebalance.Seconds(), Hold: o.Hold.Seconds(), Weights: o.WeightA / 100, WeightsNext: o.WeightANext / 100,
		ConvergedAfter: -1}
	if err := routingRun(ctx, env, bin, tmp, rep); err != nil {
		return exitFailed, err
	}
	rep.OK = len(rep.Problems) == 0
	line, err := json.Marshal(rep)
	if err != nil {
		return exitFailed, err
	}
	line = append(line, '\n')
	if o.Save != "" {
		if err := appendLine(o.Save, line); err != nil {
			return exitFailed, err
		}
	}
	if !o.JSONOnly {
		writeRoutingTable(stdout, rep)
	}
	if _, err := stdout.Write(line); err != nil {
		return exitFailed, err
	}
	if !rep.OK {
		return exitProblem, nil
	}
	return exitOK, nil
}

// routingRun is the scenario itself; it fills rep.
func routingRun(ctx context.Context, env *runEnv, bin, tmp string, rep *RoutingReport) error {
	o := env.o
	rp, err := startRoutingPools(o)
	if err != nil {
		return fmt.Errorf("mock pools: %w", err)
	}
	defer rp.close()
	bind, err := freePort()
	if err != nil {
		return err
	}
	api, err := freePort()
	if err != nil {
		return err
	}
	cfg, err := routingConfig(o, bind, api, rp.addr, o.WeightA)
	if err != nil {
		return err
	}
	proc, err := startProxy(bin, tmp, cfg, nil)
	if err != nil {
		return err
	}
	defer proc.Stop(stopGrace)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(bind))
	lctx, cancel := context.WithTimeout(ctx, listenTimeout)
	err = proc.waitListening(lctx, addr)
	cancel()
	if err != nil {
		return fmt.Errorf("proxy: %w\n%s", err, proc.LogTail(10))
	}
	env.logf("proxy pid %d on %s, pools %s and %s, route %.0f/%.0f (rebalance %s), %d %s miners (half 4x faster), %.0f shares/s",
		proc.PID, addr, rp.addr[0], rp.addr[1], o.WeightA, 100-o.WeightA, o.Rebalance, o.Miners, o.Family, o.Shares)
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	rs, err := startRoutingSwarms(sctx, o, addr)
	if err != nil {
		return err
	}
	defer rs.close()
	deadline := time.Now().Add(o.rampTimeout())
	for {
		in, closed, _, _ := rs.state()
		if in >= o.Miners {
			break
		}
		if closed > 0 || time.Now().After(deadline) {
			return fmt.Errorf("ramp: %d of %d miners logged in, %d closed", in, o.Miners, closed)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	// Settle: the meters warm (half their window: the rebalance interval,
	// at least 10 s) and a few rebalances run.
	settle := max(3*o.Rebalance, 12*time.Second)
	env.logf("all %d miners mining; settling %s", o.Miners, settle)
	if err := sleepCtx(ctx, settle); err != nil {
		return err
	}
	smp := startSplitSampler(rp, o.Rebalance)
	env.logf("hold at %.0f/%.0f for %s", o.WeightA, 100-o.WeightA, o.Hold)
	if rep.SplitHold, err = partA(ctx, rp, o.Hold); err != nil {
		return err
	}
	rep.SplitHold = round3(rep.SplitHold)
	env.logf("pool a took %.3f over the hold (goal %.2f)", rep.SplitHold, rep.Weights)

	next, err := routingConfig(o, bind, api, rp.addr, o.WeightANext)
	if err != nil {
		return err
	}
	smp.setPhase("change")
	if err := routingAPI(ctx, "PUT", api, "/1/config", next, nil); err != nil {
		return err
	}
	env.logf("weights changed to %.0f/%.0f through PUT /1/config", o.WeightANext, 100-o.WeightANext)
	const intervals = 6
	for range intervals {
		p, err := partA(ctx, rp, o.Rebalance)
		if err != nil {
			return err
		}
		rep.AfterChange = append(rep.AfterChange, round3(p))
	}
	for k := 0; k <= len(rep.AfterChange); k++ {
		ok := true
		for _, p := range rep.AfterChange[k:] {
			ok = ok && math.Abs(p-rep.WeightsNext) <= 0.05
		}
		if ok && k < len(rep.AfterChange) {
			rep.ConvergedAfter = k
			break
		}
	}
	smp.setPhase("hold-next")
	if rep.SplitHoldNext, err = partA(ctx, rp, o.Hold); err != nil {
		return err
	}
	rep.SplitHoldNext = round3(rep.SplitHoldNext)
	env.logf("pool a took %.3f over the second hold (goal %.2f), converged after %d intervals", rep.SplitHoldNext, rep.WeightsNext, rep.ConvergedAfter)
	rep.Timeline = smp.finish()

	actx, acancel := context.WithTimeout(ctx, 5*time.Second)
	rep.Moves, rep.Rebalances, err = routeFigures(actx, api)
	acancel()
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
	}
	_, rep.Disconnects, rep.Reconnects, rep.Errors = rs.state()
	_, rep.Duplicates, _ = rp.accepted()
	if math.Abs(rep.SplitHold-rep.Weights) > 0.05 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("split %.3f over the hold, goal %.2f ± 0.05", rep.SplitHold, rep.Weights))
	}
	if math.Abs(rep.SplitHoldNext-rep.WeightsNext) > 0.05 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("split %.3f over the second hold, goal %.2f ± 0.05", rep.SplitHoldNext, rep.WeightsNext))
	}
	if rep.ConvergedAfter < 0 || rep.ConvergedAfter > 2 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the weight change took %d rebalance intervals (at most 2)", rep.ConvergedAfter))
	}
	if rep.Disconnects > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d miners disconnected", rep.Disconnects))
	}
	if rep.Duplicates > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the pools saw %d duplicate or overlapping shares", rep.Duplicates))
	}
	if !proc.Alive() {
		rep.Problems = append(rep.Problems, "the proxy is gone: "+proc.ExitText())
	}
	return nil
}

// writeRoutingTable prints the routing report for humans.
func writeRoutingTable(w io.Writer, r *RoutingReport) {
	fmt.Fprintf(w, "routing: %d %s miners (half 4x faster), %.0f shares/s, rebalance %gs, hold %gs\n",
		r.Miners, r.Family, r.Shares, r.Rebalance, r.Hold)
	fmt.Fprintf(w, "  weights %.0f/%.0f: pool a took %.1f %% over the hold\n", 100*r.Weights, 100-100*r.Weights, 100*r.SplitHold)
	parts := make([]string, len(r.AfterChange))
	for i, p := range r.AfterChange {
		parts[i] = fmt.Sprintf("%.1f", 100*p)
	}
	fmt.Fprintf(w, "  weights %.0f/%.0f (PUT /1/config): pool a per interval after the change: %s %%; converged after %d intervals\n",
		100*r.WeightsNext, 100-100*r.WeightsNext, strings.Join(parts, ", "), r.ConvergedAfter)
	fmt.Fprintf(w, "  pool a took %.1f %% over the next hold\n", 100*r.SplitHoldNext)
	fmt.Fprintf(w, "  moves %.0f in %.0f rebalances; disconnects %d, reconnects %d, duplicates %d, errors %v\n",
		r.Moves, r.Rebalances, r.Disconnects, r.Reconnects, r.Duplicates, r.Errors)
	fmt.Fprintf(w, "  timeline (pool a %%, per %gs):", r.Rebalance)
	for _, s := range r.Timeline {
		fmt.Fprintf(w, " %.0f", 100*s.A)
	}
	fmt.Fprintln(w)
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  PROBLEM: %s\n", p)
	}
}
