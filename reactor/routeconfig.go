package reactor

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"forge.lthn.ai/core/go-proxy/routing"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// RouteConfig is one entry of "routes": which miners it takes and how
// their hashrate is split over its targets. Routes are tried in order;
// the first whose Match fits a miner (and that has targets of the miner's
// family) takes it.
type RouteConfig struct {
	// Name names the route in the API, the metrics and the logs.
	Name string `json:"name"`
	// Match selects the miners; an empty match takes every miner.
	Match RouteMatch `json:"match"`
	// Targets are the failover chains the route's hashrate is split over.
	Targets []TargetConfig `json:"targets"`
	// Rebalance, when set, replaces the top-level rebalance interval
	// (seconds) for this route.
	Rebalance int `json:"rebalance,omitempty"`
}

// RouteMatch selects miners. Every key given must fit.
type RouteMatch struct {
	// Port is the bind port (or ports) the miner connected to.
	Port Ports `json:"port,omitempty"`
	// Worker is a regular expression (RE2 syntax) on the worker name the
	// proxy gives the miner (see "workers"; by rig id, else login, when
	// workers are off).
	Worker string `json:"worker,omitempty"`
	// Family is "cryptonote" or "sv1".
	Family string `json:"family,omitempty"`
}

// Ports is one port or a list of them; in JSON a number or an array.
type Ports []int

// UnmarshalJSON accepts 3333 or [3333, 3334].
func (p *Ports) UnmarshalJSON(b []byte) error {
	var one int
	if err := json.Unmarshal(b, &one); err == nil {
		*p = Ports{one}
		return nil
	}
	var list []int
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("port: must be a port number or a list of them")
	}
	*p = list
	return nil
}

// TargetConfig is one target of a route: an ordered failover chain of
// pools (by name) and its share of the route's hashrate.
type TargetConfig struct {
	// Name names the target (default: its pool names joined by ",").
	Name string `json:"name,omitempty"`
	// Pools is the failover chain, primary first, by pool name (a pool's
	// "name", or its url when it has none). Disabled pools are skipped.
	Pools []string `json:"pools"`
	// Weight is the target's share of the route's hashrate, relative to
	// the route's other targets (> 0).
	Weight float64 `json:"weight"`
}

// Routing limits.
const (
	maxRoutes        = 64
	maxTargetsTotal  = 256
	maxWorkerPattern = 256
	defaultRebalance = 60
	// implicitRoute names the route of the miners no configured route
	// takes: all enabled pools of their family, in order (what go-proxy
	// does without routes).
	implicitRoute = "default"
)

// targetName is a target's name: its own, or its chain.
func (t *TargetConfig) targetName() string {
	if t.Name != "" {
		return t.Name
	}
	return strings.Join(t.Pools, ",")
}

// rebalanceSeconds is the route's rebalance interval under cfg.
func (r *RouteConfig) rebalanceSeconds(cfg *Config) int {
	if r.Rebalance > 0 {
		return r.Rebalance
	}
	if cfg.Rebalance > 0 {
		return cfg.Rebalance
	}
	return defaultRebalance
}

// poolsByKey maps each pool's routing name (its name, else its url) to
// its index; a name two pools answer to maps to -1.
func poolsByKey(pools []upstream.PoolConfig) map[string]int {
	m := make(map[string]int, len(pools))
	for i := range pools {
		k := pools[i].Key()
		if _, dup := m[k]; dup {
			m[k] = -1
			continue
		}
		m[k] = i
	}
	return m
}

// poolFamily is a pool's family as the reactor numbers it.
func poolFamily(p *upstream.PoolConfig) Family {
	if p.FamilyOrDefault() == upstream.SV1 {
		return FamilySV1
	}
	return FamilyCryptoNote
}

// validateRoutes checks pool names, "rebalance" and "routes"; the error
// names the key.
func (c *Config) validateRoutes() error {
	names := map[string]int{}
	for i := range c.Pools {
		n := c.Pools[i].Name
		if n == "" {
			continue
		}
		if j, dup := names[n]; dup {
			return fmt.Errorf("pools[%d].name: %q is also the name of pools[%d]", i, n, j)
		}
		names[n] = i
	}
	if c.Rebalance < 0 {
		return fmt.Errorf("rebalance: must not be negative, got %d", c.Rebalance)
	}
	if len(c.Routes) > maxRoutes {
		return fmt.Errorf("routes: at most %d routes, got %d", maxRoutes, len(c.Routes))
	}
	keys := poolsByKey(c.Pools)
	ports := map[int]bool{}
	for _, b := range c.Bind {
		ports[b.Port] = true
	}
	routeNames := map[string]bool{}
	total := 0
	for i := range c.Routes {
		r := &c.Routes[i]
		at := fmt.Sprintf("routes[%d]", i)
		switch {
		case !upstream.ValidName(r.Name):
			return fmt.Errorf("%s.name: %q must be 1 to 64 printable characters without space, quote or backslash", at, r.Name)
		case r.Name == implicitRoute:
			return fmt.Errorf("%s.name: %q is the route of the miners no route takes; choose another name", at, r.Name)
		case routeNames[r.Name]:
			return fmt.Errorf("%s.name: %q is used by another route", at, r.Name)
		case r.Rebalance < 0:
			return fmt.Errorf("%s.rebalance: must not be negative, got %d", at, r.Rebalance)
		}
		routeNames[r.Name] = true
		for _, p := range r.Match.Port {
			if !ports[p] {
				return fmt.Errorf("%s.match.port: %d is not the port of a bind", at, p)
			}
		}
		if w := r.Match.Worker; w != "" {
			if len(w) > maxWorkerPattern {
				return fmt.Errorf("%s.match.worker: longer than %d bytes", at, maxWorkerPattern)
			}
			if _, err := regexp.Compile(w); err != nil {
				return fmt.Errorf("%s.match.worker: %v", at, err)
			}
		}
		var want Family
		switch r.Match.Family {
		case "":
		case "cryptonote":
			want = FamilyCryptoNote
		case "sv1":
			want = FamilySV1
		default:
			return fmt.Errorf("%s.match.family: must be cryptonote or sv1, got %q", at, r.Match.Family)
		}
		if len(r.Targets) == 0 {
			return fmt.Errorf("%s.targets: a route needs at least one target", at)
		}
		var perFamily [3]int
		targetNames := map[string]bool{}
		for j := range r.Targets {
			t := &r.Targets[j]
			tat := fmt.Sprintf("%s.targets[%d]", at, j)
			if t.Name != "" && !upstream.ValidName(t.Name) {
				return fmt.Errorf("%s.name: %q must be 1 to 64 printable characters without space, quote or backslash", tat, t.Name)
			}
			if !(t.Weight > 0) || t.Weight > 1e9 {
				return fmt.Errorf("%s.weight: must be greater than 0 and at most 1e9, got %v (remove the target to send it nothing)", tat, t.Weight)
			}
			if len(t.Pools) == 0 {
				return fmt.Errorf("%s.pools: a target needs at least one pool", tat)
			}
			var fam Family
			seen := map[string]bool{}
			for k, name := range t.Pools {
				idx, ok := keys[name]
				switch {
				case !ok:
					return fmt.Errorf("%s.pools[%d]: no pool is named %q (a pool's name is its \"name\", else its url)", tat, k, name)
				case idx < 0:
					return fmt.Errorf("%s.pools[%d]: %q names more than one pool; give the pools distinct names", tat, k, name)
				case seen[name]:
					return fmt.Errorf("%s.pools[%d]: %q is listed twice", tat, k, name)
				}
				seen[name] = true
				f := poolFamily(&c.Pools[idx])
				if fam != FamilyUnknown && f != fam {
					return fmt.Errorf("%s.pools[%d]: %q is a %s pool; a target's pools are of one family", tat, k, name, f)
				}
				fam = f
			}
			if want != FamilyUnknown && fam != want {
				return fmt.Errorf("%s.pools: %s pools in a route that matches family %s", tat, fam, want)
			}
			if targetNames[t.targetName()] {
				return fmt.Errorf("%s.name: the route has another target named %q", tat, t.targetName())
			}
			targetNames[t.targetName()] = true
			perFamily[fam]++
			total++
		}
		for f, n := range perFamily {
			if n > routing.MaxTargets {
				return fmt.Errorf("%s.targets: at most %d targets per family, got %d %s targets", at, routing.MaxTargets, n, Family(f))
			}
		}
	}
	if total > maxTargetsTotal {
		return fmt.Errorf("routes: at most %d targets in all, got %d", maxTargetsTotal, total)
	}
	return nil
}
