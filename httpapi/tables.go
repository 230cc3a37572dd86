package httpapi

import (
	"encoding/json"
	"sort"

	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/stats"
)

// WorkersResponse is the /1/workers body. Workers rows are arrays, as in
// xmrig-proxy and the RFC; the table's bounds follow: Limit is
// workers-max, Expire workers-expire in seconds, Evicted the workers
// forgotten for idleness and Dropped the logins not tracked because the
// table was full, since start.
type WorkersResponse struct {
	Mode    string      `json:"mode"`
	Workers []WorkerRow `json:"workers"`
	Limit   int         `json:"limit"`
	Expire  int         `json:"expire"`
	Evicted uint64      `json:"evicted"`
	Dropped uint64      `json:"dropped"`
}

// WorkerRow is one worker, encoded as the array [name, last_ip,
// connections, accepted, rejected, invalid, hashes, last_hash_unix,
// hashrate_60s, hashrate_600s, hashrate_3600s, hashrate_12h,
// hashrate_24h] (hashrates in H/s; last_hash_unix 0 = never).
type WorkerRow struct {
	Name        string
	LastIP      string
	Connections uint64
	Accepted    uint64
	Rejected    uint64
	Invalid     uint64
	Hashes      uint64
	LastHash    int64
	Hashrate    [stats.NumWindows - 1]float64
}

// MarshalJSON encodes the row as an array.
func (w WorkerRow) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{w.Name, w.LastIP, w.Connections, w.Accepted, w.Rejected, w.Invalid, w.Hashes, w.LastHash,
		w.Hashrate[0], w.Hashrate[1], w.Hashrate[2], w.Hashrate[3], w.Hashrate[4]})
}

// NewWorkersResponse builds the /1/workers body from worker views.
func NewWorkersResponse(views []stats.WorkerView, s *stats.Summary, cfg *reactor.Config) WorkersResponse {
	r := WorkersResponse{
		Mode: string(cfg.Workers), Workers: make([]WorkerRow, 0, len(views)),
		Limit: cfg.WorkersMax, Expire: cfg.WorkersExpire, Evicted: s.WorkersEvicted, Dropped: s.WorkersDropped,
	}
	for i := range views {
		v := &views[i]
		row := WorkerRow{
			Name: v.Name, Connections: v.Connections, Accepted: v.Accepted, Rejected: v.Rejected,
			Invalid: v.Invalid, Hashes: roundU64(v.Hashes), LastHash: v.LastShare,
		}
		if v.LastIP.IsValid() {
			row.LastIP = v.LastIP.String()
		}
		for k, h := range v.Hashrate {
			row.Hashrate[k] = round2(h)
		}
		r.Workers = append(r.Workers, row)
	}
	return r
}

// MinersFormat returns the column names of a /1/miners row.
func MinersFormat() [10]string {
	return [10]string{"id", "ip", "tx", "rx", "state", "diff", "user", "password", "rig_id", "agent"}
}

// MinersResponse is the /1/miners body.
type MinersResponse struct {
	Format [10]string `json:"format"`
	Miners []MinerRow `json:"miners"`
}

// MinerRow is one miner connection, encoded as the array [id, ip:port,
// tx, rx, state, diff, user, "********", rig_id, agent]: bytes sent to and
// received from the miner, state 0 WaitLogin, 1 WaitReady, 2 Ready,
// 3 Closing. The password column is always masked.
type MinerRow struct {
	ID     uint64
	Addr   string
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
	return json.Marshal([]any{m.ID, m.Addr, m.Tx, m.Rx, m.State, m.Diff, m.User, passwordMask, m.RigID, m.Agent})
}

// NewMinersResponse builds the /1/miners body, miners in id order.
func NewMinersResponse(views []reactor.MinerView) MinersResponse {
	r := MinersResponse{Format: MinersFormat(), Miners: make([]MinerRow, 0, len(views))}
	for i := range views {
		v := &views[i]
		row := MinerRow{ID: v.ID, Tx: v.Tx, Rx: v.Rx, State: uint8(v.State), Diff: v.Diff, User: v.User, RigID: v.RigID, Agent: v.Agent}
		if v.Addr.IsValid() {
			row.Addr = v.Addr.String()
		}
		r.Miners = append(r.Miners, row)
	}
	sort.Slice(r.Miners, func(i, j int) bool { return r.Miners[i].ID < r.Miners[j].ID })
	return r
}
