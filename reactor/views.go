package reactor

import (
	"context"
	"net/netip"
	"time"

	"forge.lthn.ai/core/go-proxy/stats"
)

// MinerView is one miner connection as /1/miners shows it.
type MinerView struct {
	ID          uint64
	Addr        netip.AddrPort
	Family      Family
	State       MinerState
	Diff        uint64 // difficulty of the last job sent
	Tx, Rx      uint64 // bytes sent to / received from the miner
	User        string
	RigID       string
	Agent       string
	Worker      string
	ConnectedAt int64  // unix seconds
	Upstream    uint64 // id of the pool session serving it, 0 = none
	// Account: User is the registered account the miner authorized with
	// (SV1 passthrough), a mining credential.
	Account bool
	// Shard is the event loop serving the miner (0-based, as in
	// UpstreamView).
	Shard int
	// Session is the subscription id of an authorized SV1 passthrough
	// miner ("" for others), for renewing its record in a shared store
	// (KeptSessions.Record). It lets the miner resume its account's
	// session: the API never shows it.
	Session string
}

// UpstreamView is one pool session.
type UpstreamView struct {
	ID     uint64
	Family Family
	Mode   string // "nicehash", "simple", "aggregate", "passthrough"
	State  string // "active", "connecting", "retry", "idle"
	Pool   string // URL of the pool in use or being tried
	Miners int
	Shard  int
	// Difficulty is the pool's current job difficulty (CryptoNote);
	// SV1Difficulty the pool's share difficulty (SV1).
	Difficulty    uint64
	SV1Difficulty float64
	// Algo and Divider describe an SV1 pool's algorithm (hashrate = 2^32 ×
	// difficulty ÷ divider per share).
	Algo    string
	Divider float64
	// JobID is the id of the pool's newest job on this session ("" until
	// the first one).
	JobID string
}

// Miners returns every miner connection. It asks each event loop for a
// copy (one task per loop), so it costs a few milliseconds with tens of
// thousands of miners; the loops are never blocked on the caller.
func (p *Proxy) Miners(ctx context.Context) ([]MinerView, error) {
	var out []MinerView
	for _, s := range p.shardList() {
		part, err := onLoop(ctx, s, func() []MinerView {
			v := make([]MinerView, 0, s.count)
			for _, m := range s.miners {
				if m == nil {
					continue
				}
				mv := MinerView{ID: m.id, Addr: m.addr.AddrPort(), Family: m.family, State: m.state.public(), Diff: m.diff,
					Tx: m.tx, Rx: m.rx, User: m.userName(), RigID: m.rigID, Agent: m.agentName(), Worker: m.workerName(), ConnectedAt: m.connectedAt,
					Account: m.isAccount() && m.loggedIn, Shard: s.idx}
				if m.mp != nil {
					mv.Upstream = m.mp.id
				}
				if mv.Account && m.sv != nil {
					mv.Session = string(m.sessionID())
				}
				v = append(v, mv)
			}
			return v
		})
		if err != nil {
			return nil, err
		}
		out = append(out, part...)
	}
	return out, nil
}

// Workers returns every worker, merged across event loops and sorted by
// name, with hashrates evaluated now.
func (p *Proxy) Workers(ctx context.Context) ([]stats.WorkerView, error) {
	now := time.Now().Unix()
	parts := make([][]stats.WorkerView, 0, len(p.shardList()))
	for _, s := range p.shardList() {
		part, err := onLoop(ctx, s, func() []stats.WorkerView {
			v := make([]stats.WorkerView, 0, s.st.workers.Len())
			s.st.workers.Each(func(w *stats.Worker) { v = append(v, w.View(now)) })
			return v
		})
		if err != nil {
			return nil, err
		}
		parts = append(parts, part)
	}
	return stats.MergeWorkers(parts...), nil
}

// Upstreams returns every pool session.
func (p *Proxy) Upstreams(ctx context.Context) ([]UpstreamView, error) {
	var out []UpstreamView
	for _, s := range p.shardList() {
		part, err := onLoop(ctx, s, func() []UpstreamView {
			v := make([]UpstreamView, 0, len(s.mappers))
			for _, mp := range s.mappers {
				v = append(v, mp.view())
			}
			return v
		})
		if err != nil {
			return nil, err
		}
		out = append(out, part...)
	}
	return out, nil
}

func (mp *mapper) view() UpstreamView {
	v := UpstreamView{ID: mp.id, Family: mp.family, Shard: mp.s.idx, Difficulty: mp.jobDiff}
	if mp.hasJob {
		v.JobID = mp.job.JobID
	}
	switch mp.kind {
	case kindNiceHash:
		v.Mode, v.Miners = "nicehash", mp.table.Len()
	case kindSimple:
		v.Mode = "simple"
		if mp.single != nil {
			v.Miners = 1
		}
	case kindSV1Agg, kindSV1Pass:
		v.Mode = "aggregate"
		if mp.kind == kindSV1Pass {
			v.Mode = "passthrough"
		}
		if mp.table != nil {
			v.Miners = mp.table.Len()
		}
		v.Algo, v.Divider, v.SV1Difficulty = mp.sv.algo, mp.sv.divider, mp.sv.diff
		if n := len(mp.sv.jobs); n > 0 {
			v.JobID = mp.sv.jobs[n-1].job.JobID
		}
	}
	switch mp.state {
	case mapperActive:
		v.State = "active"
	case mapperConnecting:
		v.State = "connecting"
	case mapperRetry:
		v.State = "retry"
	case mapperIdle:
		v.State = "idle"
	default:
		v.State = "closed"
	}
	if mp.conn != nil {
		v.Pool = mp.conn.pool.URL
	} else if len(mp.pools) > 0 {
		v.Pool = mp.pools[mp.fo.Current()].URL
	}
	if mp.sv == nil {
		v.Algo, v.Divider = mp.job.Algo, 1
	}
	return v
}
