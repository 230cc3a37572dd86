package reactor

import (
	"errors"
	"fmt"
	"reflect"

	"forge.lthn.ai/core/go-proxy/upstream"
)

// secretMask is what Redacted puts in place of secrets; a reloaded config
// that still carries it keeps the secret in force.
const secretMask = "********"

// Reload applies a new configuration without dropping miners: pools (each
// pool session prepares a connection to the new list and switches once it
// is logged in), custom difficulty, access password, rate limits, workers
// mode, timeouts, proxy-protocol-from, the API's token, restricted flag and
// limits. Changed binds, event-loop count, connection cap, TLS settings,
// sv1-mode, the API's enabled/host/port (and its connection cap and
// timeouts) need a restart: the running values are kept (for the API's
// enabled/host/port, its whole section), and reported in the returned
// warnings. An
// invalid configuration is rejected and the old one stays. Safe for
// concurrent use.
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
	if !reflect.DeepEqual(c.Bind, old.Bind) {
		warnings = append(warnings, "bind changes need a restart; keeping the current listeners")
		c.Bind = old.Bind
	}
	if c.EventLoops != old.EventLoops || c.MaxConnections != old.MaxConnections {
		warnings = append(warnings, "event-loops and max-connections changes need a restart")
		c.EventLoops, c.MaxConnections = old.EventLoops, old.MaxConnections
	}
	if c.TLS != old.TLS {
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
	p.cfg.Store(c)
	p.limiter.SetConfig(c.RateLimit)
	p.setProxyFrom(c)
	poolsChanged := !reflect.DeepEqual(c.Pools, old.Pools)
	for _, s := range p.shardList() {
		s.exec(func() { s.reload(c, poolsChanged) })
	}
	for _, w := range warnings {
		p.log.Warn("reload: " + w)
	}
	p.log.Info("configuration reloaded", "pools_changed", poolsChanged)
	return warnings, nil
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

// reload applies a new configuration on the shard's loop.
func (s *shard) reload(c *Config, poolsChanged bool) {
	s.cfg = c
	s.st.workers.SetMax(max(1, c.WorkersMax/max(1, s.p.loops)))
	if !poolsChanged {
		return
	}
	for _, mp := range append([]*mapper(nil), s.mappers...) {
		if mp.kind == kindSV1Pass {
			continue // its pool comes from the account, not the config
		}
		pools := s.p.enabledPools(c, mp.family)
		if len(pools) == 0 {
			s.p.log.Warn("reload: no enabled pool left for a family; keeping its sessions as they are", "family", mp.family.String())
			continue
		}
		mp.reload(pools)
	}
	// NiceHash keeps a session ready for the next miners; simple mode opens
	// one per miner at login, so a reload must not leave spare ones.
	if s.cnKind() == kindNiceHash && s.firstMapper(FamilyCryptoNote) == nil && len(s.p.enabledPools(c, FamilyCryptoNote)) > 0 && s.p.reserveUpstream() {
		s.newMapper(FamilyCryptoNote, s.cnKind())
	}
}

// reload points the mapper at a new pool list. Without a working
// connection it simply redials; with one, it prepares a connection to the
// new primary and switches once that one is logged in (swapTo), so miners
// never lose their pool.
func (mp *mapper) reload(pools []upstream.PoolConfig) {
	mp.pools = pools
	mp.fo = upstream.NewFailover(len(pools), mp.s.cfg.Retries, secs(mp.s.cfg.RetryPause))
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
	pc := &poolConn{mp: mp, pool: mp.pools[mp.pendingIdx], swap: true}
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

// swapTo makes the reload candidate the mapper's connection. The old one
// retires: it stays open until its pending submits are answered.
func (mp *mapper) swapTo(pc *poolConn) {
	old := mp.conn
	mp.pending = nil
	pc.swap = false
	mp.conn = pc
	mp.gen++
	pc.gen = mp.gen
	mp.fo.Reset(len(mp.pools))
	pc.activeAt = mono()
	mp.fo.Active()
	if old != nil && !old.dead {
		mp.retiring = append(mp.retiring, old)
		old.closeIfRetired()
	}
}
