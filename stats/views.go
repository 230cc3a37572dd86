package stats

import (
	"net/netip"
	"sort"
)

// WorkerView is one worker as the API shows it: merged across event loops,
// rates evaluated at one instant. A value, safe to keep.
type WorkerView struct {
	Name        string
	LastIP      netip.Addr
	Connections uint64
	Accepted    uint64
	Rejected    uint64
	Invalid     uint64
	Hashes      float64
	LastShare   int64 // unix seconds, 0 = never
	// Hashrate is H/s over 60 s, 600 s, 1 h, 12 h, 24 h.
	Hashrate [NumWindows - 1]float64
	// Seed-metric fields (see Worker).
	Submitted    uint64
	SubmittedOne float64
	OneAccepted  float64
	Speed        float64
	Family       uint8
	User         string
	Pool         string
	Algo         string
	Divider      float64
	Difficulty   float64
	// Route and Target are the routing target of its latest placement.
	Route, Target string
	lastSeen      int64
}

// View returns the worker as seen at unix second now.
func (w *Worker) View(now int64) WorkerView {
	v := WorkerView{
		Name: w.Name, LastIP: w.LastIP(), Connections: uint64(max(w.Connections, 0)),
		Accepted: w.Accepted, Rejected: uint64(w.Rejected), Invalid: uint64(w.Invalid), Hashes: w.Hashes,
		LastShare: int64(w.LastShare), Hashrate: w.Rates.At(now), lastSeen: int64(w.LastSeen),
		Submitted: w.Submitted, SubmittedOne: w.SubmittedOne, OneAccepted: w.OneAccepted(), Speed: w.Speed(),
		Family: w.Family, Difficulty: w.Difficulty,
	}
	if p := w.Where; p != nil {
		v.User, v.Pool, v.Algo, v.Divider, v.Route, v.Target = p.User, p.Pool, p.Algo, p.Divider, p.Route, p.Target
	}
	return v
}

// MergeWorkers merges per-loop views of the same worker names (summing
// counters and rates, keeping the latest address) and sorts by name.
func MergeWorkers(parts ...[]WorkerView) []WorkerView {
	byName := map[string]int{}
	var out []WorkerView
	for _, part := range parts {
		for _, v := range part {
			i, ok := byName[v.Name]
			if !ok {
				byName[v.Name] = len(out)
				out = append(out, v)
				continue
			}
			o := &out[i]
			o.Connections += v.Connections
			o.Accepted += v.Accepted
			o.Rejected += v.Rejected
			o.Invalid += v.Invalid
			o.Hashes += v.Hashes
			o.Submitted += v.Submitted
			o.SubmittedOne += v.SubmittedOne
			o.OneAccepted += v.OneAccepted
			o.Speed += v.Speed
			o.LastShare = max(o.LastShare, v.LastShare)
			for k := range o.Hashrate {
				o.Hashrate[k] += v.Hashrate[k]
			}
			if v.lastSeen > o.lastSeen {
				o.lastSeen, o.LastIP = v.lastSeen, v.LastIP
				o.User, o.Pool, o.Algo, o.Divider, o.Difficulty = v.User, v.Pool, v.Algo, v.Divider, v.Difficulty
				o.Route, o.Target = v.Route, v.Target
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
