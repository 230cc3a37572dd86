package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"forge.lthn.ai/core/go-proxy/internal/segrelay"
)

// Options is the harness's command line.
type Options struct {
	Miners   int           `json:"miners"`
	Family   string        `json:"family"` // "cryptonote" or "sv1"
	Jobs     time.Duration `json:"-"`
	Shares   float64       `json:"shares_per_s"`
	Ramp     int           `json:"ramp_per_s"`
	Duration time.Duration `json:"-"`
	Reject   float64       `json:"reject"`
	Mode     string        `json:"mode"`
	Loops    int           `json:"loops"`
	Runs     int           `json:"runs"`
	SrcIPs   int           `json:"src_ips"`
	// MaxConnections is the proxy's max-connections (0 = its default cap).
	MaxConnections int  `json:"max_connections"`
	RigIDs         bool `json:"rig_ids"`
	// SV1Diff is the SV1 pool's share difficulty; SV1Workers the swarm's
	// nonce-search goroutines.
	SV1Diff    float64 `json:"sv1_diff,omitempty"`
	SV1Workers int     `json:"sv1_workers,omitempty"`
	// Relay, when set, is the segrelay mode of the relays put between the
	// miners and the proxy and between the proxy and the mock pool.
	Relay string `json:"relay,omitempty"`
	// Scenario is "" (the load run) or "routing" (routing.go): two pools, a
	// route over them with pool a's weight WeightA (of 100), changed to
	// WeightANext after a Hold; the route rebalances every Rebalance.
	Scenario    string        `json:"scenario,omitempty"`
	Rebalance   time.Duration `json:"-"`
	Hold        time.Duration `json:"-"`
	WeightA     float64       `json:"weight_a,omitempty"`
	WeightANext float64       `json:"weight_a_next,omitempty"`
	// PeerBin, when set, is a second proxy run on the same load as
	// go-proxy in every pair of runs (A/B); PeerArgs is its command line
	// as a template (peer.go), PeerOrder the order within pairs. The
	// report's "peer" object records them.
	PeerBin   string `json:"-"`
	PeerArgs  string `json:"-"`
	PeerOrder string `json:"-"`
	peerTmpl  peerTemplate

	JSONOnly bool   `json:"-"`
	HTML     string `json:"-"`
	Profile  string `json:"-"`
	Save     string `json:"-"`
	ProxyBin string `json:"-"`
	Target   string `json:"target,omitempty"`
	PoolAddr string `json:"-"`
	PID      int    `json:"-"`
	// Timeout bounds the whole invocation (0 = derived from the run length).
	Timeout time.Duration `json:"-"`
	// Settle is the pause after the proxy is up (idle sample) and after
	// the ramp (after-ramp sample); tests shorten it.
	Settle time.Duration `json:"-"`
	// SwarmTimeout is the swarm's connect/login/submit timeout.
	SwarmTimeout time.Duration `json:"-"`
	Quiet        bool          `json:"-"`
	// WaitQuiet, when positive, delays each run (at most this long) until
	// no other workload uses the CPU.
	WaitQuiet time.Duration `json:"-"`

	// Args is the command line as given, for the report.
	Args []string `json:"-"`

	// JobsText and DurationText are the durations as written, for the JSON.
	JobsText     string `json:"jobs"`
	DurationText string `json:"duration"`
}

// Families and modes.
const (
	familyCN  = "cryptonote"
	familySV1 = "sv1"
)

// defaultOptions are the flag defaults.
func defaultOptions() Options {
	return Options{
		Miners:       1000,
		Family:       familyCN,
		Jobs:         5 * time.Second,
		Shares:       2000,
		Duration:     20 * time.Second,
		Mode:         "nicehash",
		Runs:         1,
		RigIDs:       true,
		SV1Diff:      1.0 / (1 << 20),
		SV1Workers:   1,
		PeerOrder:    orderABBA,
		Settle:       time.Second,
		SwarmTimeout: 30 * time.Second,
		Rebalance:    10 * time.Second,
		Hold:         60 * time.Second,
		WeightA:      70,
		WeightANext:  50,
	}
}

// parseOptions parses the command line. Usage goes to w.
func parseOptions(args []string, w io.Writer) (Options, error) {
	o := defaultOptions()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.IntVar(&o.Miners, "miners", o.Miners, "simulated miners")
	fs.StringVar(&o.Family, "family", o.Family, "stratum family: cryptonote or sv1")
	fs.DurationVar(&o.Jobs, "jobs", o.Jobs, "mock pool job interval")
	fs.Float64Var(&o.Shares, "shares", o.Shares, "total shares per second across all miners")
	fs.IntVar(&o.Ramp, "ramp", o.Ramp, "new connections per second during the ramp (0 = as fast as possible)")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "measurement window after the ramp")
	fs.Float64Var(&o.Reject, "reject", o.Reject, "fraction of good shares the pool rejects (0..1)")
	fs.StringVar(&o.Mode, "mode", o.Mode, "proxy mode: nicehash or simple (cryptonote); aggregate for sv1")
	fs.IntVar(&o.Loops, "loops", o.Loops, "proxy event loops (0 = the proxy's default, GOMAXPROCS)")
	fs.IntVar(&o.Runs, "runs", o.Runs, "repeat the run N times (fresh proxy each) and report medians")
	fs.BoolVar(&o.JSONOnly, "json", false, "print only the JSON line on stdout")
	fs.StringVar(&o.HTML, "html", "", "write a self-contained HTML report to this file")
	fs.StringVar(&o.Profile, "profile", "", "capture the proxy's CPU (measurement window) and heap profiles into this directory")
	fs.StringVar(&o.Save, "save", "", "append the JSON line to this file too")
	fs.IntVar(&o.SrcIPs, "src-ips", 0, "source addresses 127.0.0.2, .3, ... for miner sockets (0 = one per 5000 miners)")
	fs.StringVar(&o.ProxyBin, "proxy-bin", "", "go-proxy binary to start (default: go build ./cmd/go-proxy into a temp dir)")
	fs.StringVar(&o.Target, "target", "", "measure the proxy already listening at HOST:PORT instead of starting one")
	fs.StringVar(&o.PoolAddr, "pool-addr", "", "listen address of the mock pool (default 127.0.0.1:random)")
	fs.IntVar(&o.PID, "pid", 0, "with -target: the proxy's process id for RSS/CPU (default: the process listening on the target port)")
	fs.IntVar(&o.MaxConnections, "max-connections", 0, "the started proxy's max-connections (0 = its default cap)")
	fs.BoolVar(&o.RigIDs, "rig-ids", o.RigIDs, "give every miner its own rig id (one worker each)")
	fs.Float64Var(&o.SV1Diff, "sv1-diff", o.SV1Diff, "sv1: pool share difficulty (a share costs 2^32 x diff hashes)")
	fs.IntVar(&o.SV1Workers, "sv1-workers", o.SV1Workers, "sv1: nonce-search goroutines in the harness")
	fs.DurationVar(&o.Timeout, "timeout", 0, "hard limit for the whole invocation (0 = derived from the run length)")
	fs.DurationVar(&o.SwarmTimeout, "swarm-timeout", o.SwarmTimeout, "miners' connect/login/submit timeout")
	fs.StringVar(&o.Relay, "relay", "", "re-cut every stream as a real network does: a segmenting relay (mixed, random, byte-by-byte, segments, coalesce) between miners and proxy and between proxy and pool; 2 descriptors per miner in the harness, so at most "+strconv.Itoa(maxRelayMiners)+" miners")
	fs.StringVar(&o.Scenario, "scenario", "", "routing: two mock pools, a route split -weight-a/100-(-weight-a), miners of two speeds (1:4), then a weight change to -weight-a-next through the API; reports the split from the pools' accepted difficulty")
	fs.DurationVar(&o.Rebalance, "rebalance", o.Rebalance, "routing: the route's rebalance interval (whole seconds)")
	fs.DurationVar(&o.Hold, "hold", o.Hold, "routing: how long the split is measured at each weight")
	fs.Float64Var(&o.WeightA, "weight-a", o.WeightA, "routing: pool a's weight of 100 at start")
	fs.Float64Var(&o.WeightANext, "weight-a-next", o.WeightANext, "routing: pool a's weight of 100 after the change")
	fs.StringVar(&o.PeerBin, "peer-bin", "", "also measure this proxy binary on the same load: go-proxy and it alternate, -runs pairs, ratios go-proxy/peer")
	fs.StringVar(&o.PeerArgs, "peer-args", "", "the peer's command line, with placeholders {"+strings.Join(peerPlaceholders, "} {")+"} (see README)")
	fs.StringVar(&o.PeerOrder, "peer-order", o.PeerOrder, "order of the runs in each pair: abba (go-proxy first in odd pairs, the peer first in even ones) or ab (go-proxy always first)")
	fs.BoolVar(&o.Quiet, "q", false, "no progress lines on stderr")
	fs.DurationVar(&o.WaitQuiet, "wait-quiet", 0, "before each run, wait up to this long until other processes leave the CPU alone")
	fs.DurationVar(&o.Settle, "settle", o.Settle, "pause before the idle sample and after the ramp")
	fs.Usage = func() {
		fmt.Fprintf(w, "usage: go run ./bench [flags]\n\nStarts a mock pool, a go-proxy process (or uses -target) and a swarm of\nsimulated miners, then reports latency, throughput, memory and CPU.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.Family == familySV1 && o.Mode == "nicehash" {
		o.Mode = "aggregate"
	}
	o.JobsText, o.DurationText = o.Jobs.String(), o.Duration.String()
	o.Args = append([]string(nil), args...)
	return o, o.validate()
}

// validate rejects impossible combinations with a message naming the flag.
func (o *Options) validate() error {
	switch {
	case o.Miners < 1:
		return errors.New("-miners: must be at least 1")
	case o.Family != familyCN && o.Family != familySV1:
		return fmt.Errorf("-family: must be %s or %s, got %q", familyCN, familySV1, o.Family)
	case o.Family == familyCN && o.Mode != "nicehash" && o.Mode != "simple":
		return fmt.Errorf("-mode: cryptonote modes are nicehash or simple, got %q", o.Mode)
	case o.Family == familySV1 && o.Mode != "aggregate":
		return fmt.Errorf("-mode: the sv1 bench runs aggregate mode, got %q", o.Mode)
	case o.Jobs <= 0:
		return errors.New("-jobs: must be positive")
	case o.Shares < 0:
		return errors.New("-shares: must not be negative")
	case o.Ramp < 0:
		return errors.New("-ramp: must not be negative")
	case o.Duration <= 0:
		return errors.New("-duration: must be positive")
	case o.Reject < 0 || o.Reject > 1:
		return errors.New("-reject: must be in 0..1")
	case o.Loops < 0:
		return errors.New("-loops: must not be negative")
	case o.Runs < 1:
		return errors.New("-runs: must be at least 1")
	case o.SrcIPs < 0 || o.SrcIPs > 250:
		return errors.New("-src-ips: must be 0..250")
	case o.MaxConnections < 0:
		return errors.New("-max-connections: must not be negative")
	case o.SV1Diff <= 0:
		return errors.New("-sv1-diff: must be positive")
	case o.Settle < 0:
		return errors.New("-settle: must not be negative")
	case o.SV1Workers < 1:
		return errors.New("-sv1-workers: must be at least 1")
	case o.Target != "" && o.ProxyBin != "":
		return errors.New("-target and -proxy-bin exclude each other")
	case o.Target != "" && o.Profile != "":
		return errors.New("-profile needs a proxy the harness starts (not -target)")
	case o.PID != 0 && o.Target == "":
		return errors.New("-pid only applies with -target")
	case o.Scenario != "" && o.Scenario != "routing":
		return fmt.Errorf("-scenario: only \"routing\" (or none), got %q", o.Scenario)
	case o.Scenario == "routing" && (o.Target != "" || o.Relay != "" || o.Runs != 1 || o.Profile != ""):
		return errors.New("-scenario routing starts its own proxy and pools: no -target, -relay, -runs or -profile")
	case o.Scenario == "routing" && (o.Rebalance < time.Second || o.Rebalance%time.Second != 0 || o.Hold < time.Second):
		return errors.New("-rebalance: whole seconds, at least 1; -hold at least 1s")
	case o.Scenario == "routing" && (o.WeightA <= 0 || o.WeightA >= 100 || o.WeightANext <= 0 || o.WeightANext >= 100):
		return errors.New("-weight-a and -weight-a-next: between 0 and 100 (pool b gets the rest)")
	case o.Relay != "" && o.Miners > maxRelayMiners:
		return fmt.Errorf("-relay: at most %d miners (each costs the harness three descriptors)", maxRelayMiners)
	}
	switch {
	case o.PeerBin == "" && o.PeerArgs != "":
		return errors.New("-peer-args needs -peer-bin")
	case o.PeerBin != "" && o.PeerArgs == "":
		return errors.New("-peer-bin needs -peer-args (the peer's command line, see README)")
	case o.PeerBin != "" && o.Target != "":
		return errors.New("-peer-bin and -target exclude each other (A/B starts both proxies fresh for every run)")
	case o.PeerOrder != orderABBA && o.PeerOrder != orderAB:
		return fmt.Errorf("-peer-order: %s or %s, got %q", orderABBA, orderAB, o.PeerOrder)
	}
	if o.PeerBin != "" {
		t, err := parsePeerTemplate(o.PeerArgs)
		if err != nil {
			return fmt.Errorf("-peer-args: %w", err)
		}
		o.peerTmpl = t
	}
	if o.Relay != "" {
		if _, err := segrelay.ParseMode(o.Relay); err != nil {
			return fmt.Errorf("-relay: %w", err)
		}
	}
	if o.Target != "" {
		if _, _, err := net.SplitHostPort(o.Target); err != nil {
			return fmt.Errorf("-target: %w", err)
		}
	}
	if o.PoolAddr != "" {
		if _, _, err := net.SplitHostPort(o.PoolAddr); err != nil {
			return fmt.Errorf("-pool-addr: %w", err)
		}
	}
	return nil
}

// maxRelayMiners bounds -miners with -relay: the harness holds three
// descriptors per miner (its socket and the relay's two) under the
// 20,000 open files a process may have here.
const maxRelayMiners = 6000

// relayConfig is the -relay setting for the pools and the miners' relay,
// nil when off.
func (o *Options) relayConfig() *segrelay.Config {
	if o.Relay == "" {
		return nil
	}
	m, _ := segrelay.ParseMode(o.Relay)
	return &segrelay.Config{Mode: m, Seed: 1}
}

// sourceIPs returns the -src-ips addresses, nil for the swarm's default.
func (o *Options) sourceIPs() []string {
	if o.SrcIPs == 0 {
		return nil
	}
	ips := make([]string, o.SrcIPs)
	for i := range ips {
		ips[i] = fmt.Sprintf("127.0.0.%d", i+2)
	}
	return ips
}

// srcIPCount is the number of source addresses the swarm will use.
func (o *Options) srcIPCount() int {
	if o.SrcIPs > 0 {
		return o.SrcIPs
	}
	return (o.Miners + 4999) / 5000 // swarm.DefaultFillPerSourceIP
}

// runTimeout is the hard limit of one run: the ramp at the requested
// rate (or a generous estimate when unlimited), the settles, the window,
// the profile and the shutdown.
func (o *Options) runTimeout() time.Duration {
	ramp := 60*time.Second + time.Duration(o.Miners)*time.Millisecond // ~1 ms per miner when unlimited
	if o.Ramp > 0 {
		ramp += time.Duration(float64(o.Miners) / float64(o.Ramp) * float64(time.Second))
	}
	return ramp + 2*o.Duration + 4*o.Settle + o.Jobs + 90*time.Second
}
