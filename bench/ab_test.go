package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestABSequence_Good(t *testing.T) {
	require.Equal(t, []abStep{{1, sideGo}, {2, sideGo}}, abSequence(2, false, orderABBA), "no peer: go-proxy only")
	require.Equal(t, []abStep{{1, sideGo}, {1, sidePeer}, {2, sidePeer}, {2, sideGo}, {3, sideGo}, {3, sidePeer}},
		abSequence(3, true, orderABBA))
	require.Equal(t, []abStep{{1, sideGo}, {1, sidePeer}, {2, sideGo}, {2, sidePeer}}, abSequence(2, true, orderAB))
	require.Empty(t, abSequence(0, true, orderAB))
}

func TestRatio_Good(t *testing.T) {
	r, ok := ratio(600, 1488)
	require.True(t, ok)
	require.Equal(t, 0.403, r)
	r, ok = ratio(3, 0)
	require.False(t, ok, "undefined when the peer's value is 0")
	require.Equal(t, 0.0, r)
	r, ok = ratio(0, 2)
	require.True(t, ok)
	require.Equal(t, 0.0, r)
}

// abRuns returns go-proxy's and the peer's runs of n pairs in ABBA order:
// go-proxy's value of each figure is k times the peer's, k = ks[pair-1].
func abRuns(ks ...float64) (goRuns, peerRuns []*RunResult) {
	seq := 0
	for i, k := range ks {
		a, b := fakeRun(i+1, k), fakeRun(i+1, 1)
		a.Side, b.Side = sideGo, sidePeer
		a.AcceptedPerSec, b.AcceptedPerSec = 2000*k, 2000
		a.Errors, b.Errors = 0, 0
		a.ErrorKinds, b.ErrorKinds = nil, nil
		if i%2 == 0 {
			a.Seq, b.Seq = seq+1, seq+2
		} else {
			b.Seq, a.Seq = seq+1, seq+2
		}
		seq += 2
		goRuns, peerRuns = append(goRuns, a), append(peerRuns, b)
	}
	return goRuns, peerRuns
}

func TestPairRuns_Good(t *testing.T) {
	a, b := abRuns(0.5, 0.8, 2)
	pairs := pairRuns(a, b)
	require.Len(t, pairs, 3)
	require.Equal(t, "AB", pairs[0].Order)
	require.Equal(t, "BA", pairs[1].Order)
	require.Equal(t, 4, pairs[1].GoSeq)
	require.Equal(t, 3, pairs[1].PeerSeq)
	require.Equal(t, 0.5, pairs[0].Ratios["rss_per_miner_bytes"])
	require.Equal(t, 0.8, pairs[1].Ratios["submit_p99_ms"])
	require.Equal(t, 2.0, pairs[2].Ratios["accepted_per_s"])
	require.NotContains(t, pairs[0].Ratios, "errors", "0/0 has no ratio")
	require.NotContains(t, pairs[0].Ratios, "ramp_s", "the fake runs have no ramp time")

	m := medianRatios(pairs)
	require.Equal(t, 0.8, m["fanout_last_median_ms"], "median of 0.5, 0.8, 2")
	require.Equal(t, 0.8, m["cpu_s_per_1000_shares"])
	require.NotContains(t, m, "errors")

	// A failed run on either side leaves its pair out; an even count of
	// pairs takes the mean of the middle two ratios.
	pairs = pairRuns(a, b[:2])
	require.Len(t, pairs, 2)
	require.Equal(t, 0.65, medianRatios(pairs)["rss_per_miner_bytes"])
	require.Empty(t, pairRuns(a[:0], b))
	require.Empty(t, medianRatios(nil))
}

// fakeABReport is fakeReport with a peer: two pairs, go-proxy at 0.5 and
// 0.8 of the peer.
func fakeABReport() *Report {
	rep := fakeReport()
	rep.Options.Runs = 2
	rep.Options.PeerBin, rep.Options.PeerArgs, rep.Options.PeerOrder = "/opt/xmrig-proxy", xmrigProxyArgs, orderABBA
	a, b := abRuns(0.5, 0.8)
	b[1].Errors, b[1].ErrorKinds = 4, map[string]int64{"closed by peer": 4}
	b[1].Notes = []string{"peer /1/summary: GET: 404"}
	b[1].Problems = []string{"job reached 10 of the 15000 miners"}
	b[1].ListenOverflows = 247
	rep.Runs = a
	rep.Peer = &peerReport{Bin: "/opt/xmrig-proxy", Args: xmrigProxyArgs, Order: orderABBA, Runs: b}
	rep.finish()
	return rep
}

func TestReport_Finish_Peer_Good(t *testing.T) {
	rep := fakeABReport()
	p := rep.Peer
	require.True(t, rep.OK)
	require.True(t, p.Alive)
	require.Equal(t, int64(4), p.ErrorsTotal)
	require.Equal(t, int64(0), rep.ErrorsTotal, "go-proxy's totals are its own")
	require.Equal(t, 600.0, p.Median.RSSPerMiner)
	require.Equal(t, 390.0, rep.Median.RSSPerMiner, "median of 300 and 480")
	require.Len(t, p.Pairs, 2)
	require.Equal(t, 0.65, p.RatioMedian["rss_per_miner_bytes"])
	require.Equal(t, 0.65, p.RatioMedian["accepted_per_s"])
	var order []string
	for _, r := range rep.allRuns() {
		order = append(order, fmt.Sprintf("run %d %s", r.Run, r.Side))
	}
	require.Equal(t, []string{"run 1 go-proxy", "run 1 peer", "run 2 peer", "run 2 go-proxy"}, order)
	require.Contains(t, strings.Join(rep.Problems, "\n"), "run 2 peer: ", "problems name the side")

	// The verdict needs the peer too: a dead peer, overlapping work on the
	// peer or a missing peer run make it NOT OK.
	p.Runs[0].Proxy.Alive = false
	rep.finish()
	require.False(t, rep.OK)
	p.Runs[0].Proxy.Alive = true
	p.Runs[1].Pool.Duplicates = 1
	rep.finish()
	require.False(t, rep.OK)
	p.Runs[1].Pool.Duplicates = 0
	p.Runs = p.Runs[:1]
	rep.finish()
	require.False(t, rep.OK)
	require.Len(t, p.Pairs, 1)
}

func TestReport_JSON_Peer_Good(t *testing.T) {
	line, err := fakeABReport().jsonLine()
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(line, &back))
	peer := back["peer"].(map[string]any)
	require.Equal(t, "/opt/xmrig-proxy", peer["bin"])
	require.Equal(t, xmrigProxyArgs, peer["args"])
	require.Equal(t, "abba", peer["order"])
	require.Len(t, peer["runs"], 2)
	require.Equal(t, 0.65, peer["ratio_median"].(map[string]any)["submit_p99_ms"])
	pairs := peer["pairs"].([]any)
	require.Equal(t, "BA", pairs[1].(map[string]any)["order"])
	run := peer["runs"].([]any)[0].(map[string]any)
	require.Equal(t, "peer", run["side"])
	require.NotNil(t, run["timeline"], "the raw values of the peer's runs are kept")
	require.NotContains(t, back["options"], "peer_bin", "recorded once, in the peer object")
	_, err = fakeReport().jsonLine()
	require.NoError(t, err)
	plain, _ := fakeReport().jsonLine()
	require.NotContains(t, string(plain), `"peer"`)
}

func TestWriteTable_Peer_Good(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeTable(&b, fakeABReport()))
	out := b.String()
	for _, want := range []string{"A = go-proxy, B = xmrig-proxy", "1 go-proxy", "1 xmrig-proxy", "2 A/B",
		"median A/B", "RSS per miner (bytes)", "0.50", "0.65", "order in the pair", "AB", "BA",
		"run 2 peer errors by kind", "run 2 peer note: peer /1/summary", "verdict: OK",
		"run 2 peer ramp: 247 connects dropped by a full accept queue"} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "budget", "no DESIGN budget column in the A/B table")

	// A pair without its peer run shows dashes.
	rep := fakeABReport()
	rep.Peer.Runs = rep.Peer.Runs[:1]
	rep.finish()
	b.Reset()
	require.NoError(t, writeTable(&b, rep))
	require.Contains(t, b.String(), "verdict: NOT OK")
}

func TestRenderHTML_Peer_Good(t *testing.T) {
	doc := renderHTML(fakeABReport())
	require.Contains(t, doc, "Side by side: go-proxy (A) and xmrig-proxy (B)")
	require.Contains(t, doc, "median A/B")
	dec := xml.NewDecoder(strings.NewReader(strings.ReplaceAll(doc, `xmlns="http://www.w3.org/1999/xhtml"`, "")))
	dec.Strict = true
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "well-formed")
	}
}
