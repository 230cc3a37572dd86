package reactor

import (
	"errors"
	"fmt"
	"reflect"

	"forge.lthn.ai/core/go-proxy/registry"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// secretMask is what Redacted puts in place of secrets; a reloaded config
// that still carries it keeps the secret in force.
const secretMask = "********"

// Reload applies a new configuration without dropping miners: pools (each
// pool session prepares a connection to the new list and switches once it
// is logged in), custom difficulty, vardiff (top level and bind[].vardiff:
// miners with vardiff state follow at the next sweep, others when their
// next job goes out), access password, rate limits, workers mode,
// timeouts, the failover settings (retries, retry-pause,
// pool-stable-seconds, pool-probe-seconds: from the next pool event on),
// proxy-protocol-from, the API's tokens, restricted and open-registration
// flags and limits. Changed binds (but for their vardiff), event-loop
// count, connection cap, TLS settings, sv1-mode and the API's
// enabled/host/port (and its connection cap and timeouts) need a restart:
// the running values are kept (for the API's enabled/host/port, its whole
// section), and reported in the returned warnings. An invalid
// configuration is rejected and the old one stays. Reload trusts its
// caller (the configuration file): a configuration that comes from a
// remote party must first pass DiskOnlyChanges, as the HTTP API's does.
// Safe for concurrent use.
func (p *Proxy) Reload(next *Config) (warnings []string, err error) {
	c := next.Clone()
	old := p.cfg.Load()
	if err := restoreSecrets(c, old); err != nil {
		return nil, err
	}
	c.Normalize()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !sameListeners(c.Bind, old.Bind) {
		warnings = append(warnings, "bind changes need a restart; keeping the current listeners")
		c.Bind = old.Bind
	}
	if c.EventLoops != old.EventLoops || c.MaxConnections != old.MaxConnections {
		warnings = append(warnings, "event-loops and max-connections changes need a restart")
		c.EventLoops, c.MaxConnections = old.EventLoops, old.MaxConnections
	}
	if !reflect.DeepEqual(c.TLS, old.TLS) { // Enabled is a pointer: compare what it points at
		warnings = append(warnings, "tls changes need a restart; keeping the current certificate and settings")
		c.TLS = old.TLS
	}
	if c.HTTP.Enabled != old.HTTP.Enabled || c.HTTP.Host != old.HTTP.Host || c.HTTP.Port != old.HTTP.Port {
		// The running API server stays where it is, so its whole section
		// stays too: a config without an "http" section must not swap the
		// running API's token or restricted flag.
		warnings = append(warnings, "http enabled/host/port changes need a restart; keeping the running http section (access-token, restricted and limits included) until then")
		c.HTTP = old.HTTP
	}
	if h, o := &c.HTTP, &old.HTTP; h.MaxConnections != o.MaxConnections || h.ReadHeaderTimeout != o.ReadHeaderTimeout || h.IdleTimeout != o.IdleTimeout {
		// The API server and the descriptor budget are set up at start.
		warnings = append(warnings, "http.max-connections, http.read-header-timeout and http.idle-timeout changes need a restart")
		h.MaxConnections, h.ReadHeaderTimeout, h.IdleTimeout = o.MaxConnections, o.ReadHeaderTimeout, o.IdleTimeout
	}
	if c.SV1Mode != old.SV1Mode {
		// Passthrough needs an account store wired at start.
		warnings = append(warnings, "sv1-mode changes need a restart; keeping "+old.SV1Mode)
		c.SV1Mode = old.SV1Mode
	}
	if !p.started.Load() {
		return warnings, errors.New("reactor: not started")
	}
	p.router.reload.Lock()
	defer p.router.reload.Unlock()
	p.cfg.Store(c)
	p.limiter.SetConfig(c.RateLimit)
	if c.GCPercent != old.GCPercent {
		p.applyGCPercent(c)
	}
	p.setProxyFrom(c)
	// The new route table, and where each target of the old one goes.
	oldTable := p.router.table.Load()
	table := buildRoutes(c, oldTable)
	moves := remap(oldTable, table)
	p.router.table.Store(table)
	// Only the sessions of a family whose pool list changed are touched:
	// new CryptoNote pools must not restart the SV1 sessions (whose miners
	// without extranonce updates would all be asked to reconnect).
	var changed familySet
	for _, f := range [...]Family{FamilyCryptoNote, FamilySV1} {
		changed[f] = !reflect.DeepEqual(p.enabledPools(c, f), p.enabledPools(old, f))
	}
	poolsChanged := changed[FamilyCryptoNote] || changed[FamilySV1]
	for _, s := range p.shardList() {
		s.exec(func() { s.reload(c, changed, oldTable, table, moves) })
	}
	for _, w := range warnings {
		p.log.Warn("reload: " + w)
	}
	p.log.Info("configuration reloaded", "pools_changed", poolsChanged)
	return warnings, nil
}

// sameListeners reports whether two bind lists describe the same listeners:
// equal but for their vardiff overrides, which apply at once.
func sameListeners(a, b []BindConfig) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.Vardiff, y.Vardiff = nil, nil
		if x != y {
			return false
		}
	}
	return true
}

// restoreSecrets puts back secrets a client sent masked (it fetched a
// redacted config, edited it and sent it back). A masked pool password
// with no running pool of the same url and user to take it from is an
// error: sending the mask to the pool as a password helps nobody.
func restoreSecrets(c, old *Config) error {
	if c.AccessPassword == secretMask {
		c.AccessPassword = old.AccessPassword
	}
	if c.HTTP.AccessToken == secretMask {
		c.HTTP.AccessToken = old.HTTP.AccessToken
	}
	if c.HTTP.RegisterToken == secretMask {
		c.HTTP.RegisterToken = old.HTTP.RegisterToken
	}
	if c.Registry.URL != "" && old.Registry.URL != "" && c.Registry.URL == registry.RedactURL(old.Registry.URL) {
		c.Registry.URL = old.Registry.URL // sent back as GET /1/config showed it
	}
	for i := range c.Pools {
		if c.Pools[i].Pass != secretMask {
			continue
		}
		found := false
		for _, o := range old.Pools {
			if !found && o.URL == c.Pools[i].URL && o.User == c.Pools[i].User {
				c.Pools[i].Pass, found = o.Pass, true
			}
		}
		if !found {
			return fmt.Errorf("config: pools[%d].pass is masked (%s) but no running pool has that url and user: send the password", i, secretMask)
		}
	}
	return nil
}

// familySet marks families (indexed by Family).
type familySet [3]bool

// reload applies a new configuration on the shard's loop; changed says
// which families' enabled pool lists changed; next is the new route table
// and moves maps the targets of old onto it (routes.go: remap).
func (s *shard) reload(c *Config, changed familySet, old, next *routeTable, moves map[*target]*target) {
	s.cfg = c
	s.st.workers.SetMax(max(1, c.WorkersMax/max(1, s.p.loops)))
	for _, mp := range s.mappers {
		mp.fo.SetPolicy(c.failoverPolicy()) // retries, pauses, stability, probes
	}
	if s.table == old {
		s.remapTargets(next, moves)
	}
	// NiceHash keeps a session ready for the next miners; simple mode opens
	// one per miner at login, so a reload must not leave spare ones.
	if t := next.implicitTarget(FamilyCryptoNote); changed[FamilyCryptoNote] && s.cnKind() == kindNiceHash && t != nil &&
		s.firstMapper(FamilyCryptoNote, t) == nil && s.p.reserveUpstream() {
		s.newMapper(FamilyCryptoNote, s.cnKind(), t)
	}
}

// remapTargets moves the shard onto a new route table. A session whose
// target's chain changed moves to the new pools as a reload always did
// (mapper.reload: the new connection takes over once logged in, miners
// stay); a session whose target is gone takes no more miners and closes
// once empty. Miners follow their target; those whose target is gone, or
// whose route no longer takes them, are placed again (at once when they
// wait for a session, else by the next sweep: shard.replaceMiners). The
// accepted-hashes counters carry over, so the measured rates go on.
func (s *shard) remapTargets(next *routeTable, moves map[*target]*target) {
	oldTL := s.tl
	s.setTable(next)
	for o, n := range moves {
		if o.idx < len(oldTL) {
			s.tl[n.idx].accepted += oldTL[o.idx].accepted
		}
	}
	for _, mp := range append([]*mapper(nil), s.mappers...) {
		if mp.kind == kindSV1Pass || mp.tgt == nil {
			continue // passthrough: its pool comes from the account, not the config
		}
		n := moves[mp.tgt]
		mp.tgt = n
		switch {
		case n == nil || len(n.pools) == 0:
			mp.tgt, mp.orphan = nil, true
			if next.implicitTarget(mp.family) == nil && len(s.p.enabledPools(s.cfg, mp.family)) == 0 {
				s.p.log.Warn("reload: no enabled pool left for a family; keeping its sessions as they are", "family", mp.family.String())
			} else {
				s.p.log.Info("reload: a pool session's target is gone; its miners move to their routes' targets", "mapper", mp.id)
			}
		case !samePools(mp.pools, n.pools):
			mp.reload(n.pools)
		}
	}
	for _, m := range s.miners {
		if m == nil || m.tgt == nil {
			if m != nil && m.routable() {
				s.rt.fix = true
			}
			continue
		}
		n := moves[m.tgt]
		known := m.family != FamilySV1 || m.sv.authorized
		want := next.match(m.family, m.bind.port, m.routeWorker(""), known)
		m.tgt = nil
		switch {
		case n != nil && n.route == want:
			m.tgt = n
		case m.sv != nil && m.sv.queued:
			m.tgt = s.place(want) // not on a session yet: wait for the new one
		default:
			s.rt.fix = true
		}
	}
	s.recountTargets()
}

// reload points the mapper at a new pool list. Without a working
// connection it simply redials; with one, it prepares a connection to the
// new primary and switches once that one is logged in (swapTo), so miners
// never lose their pool.
func (mp *mapper) reload(pools []upstream.PoolConfig) {
	mp.pools = pools
	mp.fo = upstream.NewFailover(len(pools), mp.s.cfg.failoverPolicy())
	mp.redirect = nil // it came from a pool of the old list
	if mp.pending != nil {
		mp.pending.dead = true
		mp.pending.conn.close()
		mp.pending = nil
	}
	if mp.state != mapperActive && mp.state != mapperIdle {
		if mp.retry != nil {
			mp.retry.Stop()
		}
		if mp.conn != nil {
			mp.conn.dead = true
			mp.conn.conn.close()
			mp.conn = nil
		}
		mp.dial()
		return
	}
	if len(pools) == 0 {
		return
	}
	mp.pendingIdx = 0
	mp.dialPending()
}

func (mp *mapper) dialPending() {
	pool := mp.pools[mp.pendingIdx]
	pc := &poolConn{mp: mp, pool: pool, entry: pool, swap: true}
	mp.pending = pc
	mp.s.p.dial(mp.s, pc)
}

// pendingFailed moves the reload candidate to the next new pool, or gives
// up and keeps the current connection (the new list is used on the next
// failover).
func (mp *mapper) pendingFailed() {
	mp.pendingIdx++
	if mp.pendingIdx < len(mp.pools) {
		mp.dialPending()
		return
	}
	mp.s.p.log.Error("reload: no pool of the new list answered; keeping the current connection", "mapper", mp.id)
}

// swapTo makes the pending connection (a reload candidate or a probe) the
// mapper's connection; the caller has told the failover strategy. The old
// one retires: it stays open until its pending submits are answered.
func (mp *mapper) swapTo(pc *poolConn) {
	old := mp.conn
	mp.pending = nil
	pc.swap, pc.probe = false, false
	mp.conn = pc
	mp.gen++
	pc.gen = mp.gen
	if old != nil && !old.dead {
		mp.retiring = append(mp.retiring, old)
		old.closeIfRetired()
	}
}
