package reactor

import (
	"errors"
	"reflect"
)

// secretMask is what Redacted puts in place of secrets; a reloaded config
// that still carries it keeps the secret in force.
const secretMask = "********"

// Reload applies a new configuration without dropping miners: pools (each
// pool session prepares a connection to the new list and switches once it
// is logged in), custom difficulty, access password, rate limits, workers
// mode, timeouts. Changed binds, event-loop count and connection cap need
// a restart: they are kept, and reported in the returned warnings. An
// invalid configuration is rejected and the old one stays. Safe for
// concurrent use.
func (p *Proxy) Reload(next *Config) (warnings []string, err error) {
	c := next.Clone()
	old := p.cfg.Load()
	restoreSecrets(c, old)
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
		warnings = append(warnings, "tls certificate changes need a restart")
	}
	if !p.started.Load() {
		return warnings, errors.New("reactor: not started")
	}
	p.cfg.Store(c)
	p.limiter.SetConfig(c.RateLimit)
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
// redacted config, edited it and sent it back).
func restoreSecrets(c, old *Config) {
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
		for _, o := range old.Pools {
			if o.URL == c.Pools[i].URL && o.User == c.Pools[i].User {
				c.Pools[i].Pass = o.Pass
			}
		}
	}
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
	if s.firstMapper(FamilyCryptoNote) == nil && len(s.p.enabledPools(c, FamilyCryptoNote)) > 0 && s.p.reserveUpstream() {
		s.newMapper(FamilyCryptoNote, s.cnKind())
	}
}
