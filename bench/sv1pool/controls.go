package sv1pool

import (
	"fmt"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// Pool-side pushes for proxy tests. Each one applies to the connections
// open when it is called; none is sent while the behaviour is Silent.

// SetDifficulty makes d the share difficulty: new connections get it, and
// every connection that has received a job gets mining.set_difficulty now
// (unless Silent). Shares on jobs sent before are still accepted at the
// difficulty they were sent with, if that is easier. It fails for a
// difficulty that is not finite and in (0, 2^64].
func (p *Pool) SetDifficulty(d float64) error {
	if !validDifficulty(d) {
		return fmt.Errorf("sv1pool: set difficulty %v: not a finite number in (0, 2^64]", d)
	}
	p.mu.Lock()
	p.diff = d
	targets := p.srv.Sessions(started)
	p.mu.Unlock()
	if !p.behavior.Load().Silent {
		for _, s := range targets {
			s.Push(func(dst []byte) []byte {
				s.diff = d
				return stratum.AppendSV1SetDifficulty(dst, d)
			})
		}
	}
	p.srv.Notify()
	return nil
}

// SetExtranonce gives a fresh extranonce1 to every open connection that
// subscribed to extranonce updates and for which match returns true (all of
// them when match is nil), sends it mining.set_extranonce [extranonce1,
// extranonce2_size] and then, if it has received jobs, a new job
// (clean_jobs false, the pool's new current job) so that the miner switches
// over. From then on shares verify with the new extranonce1; shares on jobs
// sent before also verify with the old one. Connections that did not
// subscribe keep their extranonce1. It returns the number of connections
// changed. match receives snapshots and may call Pool methods. Nothing is
// sent while Silent (and nothing changes).
func (p *Pool) SetExtranonce(match func(Session) bool) int {
	if p.behavior.Load().Silent {
		return 0
	}
	var chosen []*session
	for _, s := range p.srv.Sessions(nil) {
		snap := s.snapshot()
		if snap.ExtranonceSubscribed && snap.Connected && (match == nil || match(snap)) {
			chosen = append(chosen, s)
		}
	}
	if len(chosen) == 0 {
		return 0
	}

	p.mu.Lock()
	e1s := make([][]byte, len(chosen))
	for i := range chosen {
		e1s[i] = p.nextExtranonce1Locked()
	}
	rec := p.newJobLocked(false)
	p.stats.JobsBroadcast++
	p.mu.Unlock()

	e2Size := p.cfg.Extranonce2Size
	for i, s := range chosen {
		s.Lock()
		old := s.e1
		s.e1 = e1s[i]
		_ = s.SendLocked(func(dst []byte) []byte {
			dst = stratum.AppendSV1SetExtranonce(dst, s.e1, e2Size)
			if s.started.Load() {
				dst = s.appendJobLocked(dst, rec, false)
			}
			return dst
		})
		s.Unlock()
		p.srv.Logf("%s extranonce1 %x -> %x", s.RemoteAddr(), old, e1s[i])
	}
	p.srv.Notify()
	return len(chosen)
}

// SetVersionMask makes mask the pool's version-rolling mask: later
// mining.configure requests get mask & the miner's mask, and every
// connection that negotiated version rolling gets its new mask (mask & the
// mask it asked for) as mining.set_version_mask now. Shares are checked
// against the connection's current mask.
func (p *Pool) SetVersionMask(mask uint32) {
	p.mu.Lock()
	p.versionMask = mask
	targets := p.srv.Sessions(nil)
	p.mu.Unlock()
	if !p.behavior.Load().Silent {
		for _, s := range targets {
			s.Push(func(dst []byte) []byte {
				if !s.rolling {
					return dst
				}
				s.mask = mask & s.minerMask
				return stratum.AppendSV1SetVersionMask(dst, s.mask)
			})
		}
	}
	p.srv.Notify()
}

// SendReconnect sends client.reconnect [host, port, 0] to every subscribed
// connection (unless Silent).
func (p *Pool) SendReconnect(host string, port int) {
	if p.behavior.Load().Silent {
		return
	}
	for _, s := range p.srv.Sessions(listed) {
		s.Push(func(dst []byte) []byte { return stratum.AppendSV1Reconnect(dst, host, port, 0) })
	}
}

// listed selects the sessions that have subscribed (for Server.Sessions).
func listed(s *session) bool { return s.listed.Load() }
