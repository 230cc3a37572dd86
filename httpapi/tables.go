package httpapi

import (
	"encoding/json"
	"sort"

	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/stats"
)

// WorkersResponse is the /1/workers body: xmrig-proxy's keys (the
// proxy's hashrate, the workers mode by xmrig-proxy's names, one array
// per worker), then go-proxy's additions: Format names the row columns,
// Limit is workers-max, Expire workers-expire in seconds, Evicted the
// workers forgotten for idleness and Dropped the logins not tracked
// because the table was full, since start.
type WorkersResponse struct {
	Hashrate HashrateResponse `json:"hashrate"`
	Mode     string           `json:"mode"`
	Workers  []WorkerRow      `json:"workers"`
	Format   [20]string       `json:"format"`
	Limit    int              `json:"limit"`
	Expire   int              `json:"expire"`
	Evicted  uint64           `json:"evicted"`
	Dropped  uint64           `json:"dropped"`
}

// WorkersFormat names the columns of a /1/workers row: xmrig-proxy's 13
// (hashrates in kH/s, last_hash in milliseconds since the epoch), then
// go-proxy's hashrates in H/s and the route and target the worker mines
// on ("" when not routed).
func WorkersFormat() [20]string {
	return [20]string{"name", "ip", "connections", "accepted", "rejected", "invalid", "hashes", "last_hash",
		"hashrate_1m", "hashrate_10m", "hashrate_1h", "hashrate_12h", "hashrate_24h",
		"hashrate_1m_hs", "hashrate_10m_hs", "hashrate_1h_hs", "hashrate_12h_hs", "hashrate_24h_hs",
		"route", "target"}
}

// WorkerRow is one worker, encoded as an array in WorkersFormat's order
// (last_hash 0 = never).
type WorkerRow struct {
	Name        string
	LastIP      string
	Connections uint64
	Accepted    uint64
	Rejected    uint64
	Invalid     uint64
	Hashes      uint64
	LastHashMs  int64
	Hashrate    [stats.NumWindows - 1]float64 // H/s
	Route       string
	Target      string
}

// MarshalJSON encodes the row as an array.
func (w WorkerRow) MarshalJSON() ([]byte, error) {
	row := make([]any, 0, 20)
	row = append(row, w.Name, w.LastIP, w.Connections, w.Accepted, w.Rejected, w.Invalid, w.Hashes, w.LastHashMs)
	for _, h := range w.Hashrate {
		row = append(row, kilo(h))
	}
	for _, h := range w.Hashrate {
		row = append(row, round2(h))
	}
	row = append(row, w.Route, w.Target)
	return json.Marshal(row)
}

// xmrigWorkersMode is a workers mode by xmrig-proxy's name.
func xmrigWorkersMode(m reactor.WorkersMode) string {
	switch m {
	case reactor.WorkersByRigID:
		return "rig_id"
	case reactor.WorkersDisabled:
		return "none"
	}
	return string(m) // user, password, agent, ip: the same names
}

// NewWorkersResponse builds the /1/workers body from worker views.
func NewWorkersResponse(views []stats.WorkerView, s *stats.Summary, cfg *reactor.Config) WorkersResponse {
	r := WorkersResponse{
		Hashrate: newHashrate(s.Hashrate),
		Mode:     xmrigWorkersMode(cfg.Workers), Workers: make([]WorkerRow, 0, len(views)), Format: WorkersFormat(),
		Limit: cfg.WorkersMax, Expire: cfg.WorkersExpire, Evicted: s.WorkersEvicted, Dropped: s.WorkersDropped,
	}
	for i := range views {
		v := &views[i]
		row := WorkerRow{
			Name: v.Name, Connections: v.Connections, Accepted: v.Accepted, Rejected: v.Rejected,
			Invalid: v.Invalid, Hashes: roundU64(v.Hashes), LastHashMs: v.LastShare * 1000,
			Route: v.Route, Target: v.Target,
		}
		if v.LastIP.IsValid() {
			row.LastIP = v.LastIP.String()
		}
		row.Hashrate = v.Hashrate
		r.Workers = append(r.Workers, row)
	}
	return r
}

// MinersFormat returns the column names of a /1/miners row: xmrig-proxy's
// ten, then go-proxy's "port" (the miner's source port; "ip" is the bare
// address, as in xmrig-proxy).
func MinersFormat() [11]string {
	return [11]string{"id", "ip", "tx", "rx", "state", "diff", "user", "password", "rig_id", "agent", "port"}
}

// MinersResponse is the /1/miners body.
type MinersResponse struct {
	Format [11]string `json:"format"`
	Miners []MinerRow `json:"miners"`
}

// MinerRow is one miner connection, encoded as the array [id, ip, tx, rx,
// state, diff, user, "********", rig_id, agent, port]: bytes sent to and
// received from the miner, state 0 WaitLogin, 1 WaitReady, 2 Ready,
// 3 Closing. The password column is always masked (xmrig-proxy shows it;
// go-proxy never lets a secret out).
type MinerRow struct {
	ID     uint64
	IP     string
	Port   uint16
	Tx, Rx uint64
	State  uint8
	Diff   uint64
	User   string
	RigID  string
	Agent  string
}

// passwordMask stands in for every miner password.
const passwordMask = "********"

// MarshalJSON encodes the row as an array.
func (m MinerRow) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{m.ID, m.IP, m.Tx, m.Rx, m.State, m.Diff, m.User, passwordMask, m.RigID, m.Agent, m.Port})
}

// NewMinersResponse builds the /1/miners body, miners in id order.
func NewMinersResponse(views []reactor.MinerView) MinersResponse {
	r := MinersResponse{Format: MinersFormat(), Miners: make([]MinerRow, 0, len(views))}
	for i := range views {
		v := &views[i]
		row := MinerRow{ID: v.ID, Tx: v.Tx, Rx: v.Rx, State: uint8(v.State), Diff: v.Diff, User: v.User, RigID: v.RigID, Agent: v.Agent}
		if v.Addr.IsValid() {
			row.IP, row.Port = v.Addr.Addr().String(), v.Addr.Port()
		}
		r.Miners = append(r.Miners, row)
	}
	sort.Slice(r.Miners, func(i, j int) bool { return r.Miners[i].ID < r.Miners[j].ID })
	return r
}
