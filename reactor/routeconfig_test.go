package reactor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// farmConfig is the example: two chains for a rack, the rest on
// the first chain.
const farmConfig = `{
  "bind": [{"host": "127.0.0.1", "port": 3333}, {"host": "127.0.0.1", "port": 3334}],
  "pools": [
    {"name": "a",  "url": "pool-a:3333", "user": "W", "pass": "x"},
    {"name": "a2", "url": "pool-a-backup:3333", "user": "W", "pass": "x"},
    {"name": "b",  "url": "pool-b:3333", "user": "W2", "pass": "x"},
    {"url": "btc.example.com:3333", "user": "acct", "pass": "x", "family": "sv1"},
  ],
  "rebalance": 30,
  "routes": [
    {"name": "rack1", "match": {"port": 3334, "worker": "^rack1\\."},
     "targets": [{"pools": ["a", "a2"], "weight": 70}, {"pools": ["b"], "weight": 30}]},
    {"name": "btc", "match": {"port": [3333, 3334], "family": "sv1"}, "rebalance": 10,
     "targets": [{"name": "main", "pools": ["btc.example.com:3333"], "weight": 1}]},
    {"name": "rest", "targets": [{"pools": ["a", "a2"], "weight": 1}]}
  ]
}`

func TestRouteConfig_Parse_Good(t *testing.T) {
	cfg, _, err := ParseConfig([]byte(farmConfig))
	require.NoError(t, err)
	require.Len(t, cfg.Routes, 3)
	r := cfg.Routes[0]
	require.Equal(t, Ports{3334}, r.Match.Port, "one port as a number")
	require.Equal(t, `^rack1\.`, r.Match.Worker)
	require.Equal(t, "a,a2", r.Targets[0].targetName(), "a target is named by its chain")
	require.Equal(t, 30, r.rebalanceSeconds(cfg))
	require.Equal(t, Ports{3333, 3334}, cfg.Routes[1].Match.Port, "or a list")
	require.Equal(t, 10, cfg.Routes[1].rebalanceSeconds(cfg), "a route may set its own interval")
	require.Equal(t, "main", cfg.Routes[1].Targets[0].targetName())

	// Clone (JSON) keeps everything, and the default interval is 60 s.
	require.Equal(t, cfg.Routes, cfg.Clone().Routes)
	plain, _, err := ParseConfig([]byte(`{"pools": [{"url": "p:1"}]}`))
	require.NoError(t, err)
	require.Equal(t, defaultRebalance, plain.Rebalance)
	require.Empty(t, plain.Routes)
}

func TestRouteConfig_Validate_Bad(t *testing.T) {
	cases := []struct{ edit, want string }{
		{`"name": "a"`, `pools[1].name: "a" is also the name of pools[0]`},
		{`"rebalance": -1`, "rebalance: must not be negative"},
		{`"routes": [{"name": "", "targets": [{"pools": ["a"], "weight": 1}]}]`, "routes[0].name:"},
		{`"routes": [{"name": "default", "targets": [{"pools": ["a"], "weight": 1}]}]`, "routes[0].name: \"default\""},
		{`"routes": [{"name": "x y", "targets": [{"pools": ["a"], "weight": 1}]}]`, "routes[0].name:"},
		{`"routes": [{"name": "r", "targets": [{"pools": ["a"], "weight": 1}]}, {"name": "r", "targets": [{"pools": ["a"], "weight": 1}]}]`, `routes[1].name: "r" is used by another route`},
		{`"routes": [{"name": "r", "match": {"port": 9999}, "targets": [{"pools": ["a"], "weight": 1}]}]`, "routes[0].match.port: 9999 is not the port of a bind"},
		{`"routes": [{"name": "r", "match": {"port": "3333"}, "targets": [{"pools": ["a"], "weight": 1}]}]`, "routes[0].match.port"},
		{`"routes": [{"name": "r", "match": {"worker": "(["}, "targets": [{"pools": ["a"], "weight": 1}]}]`, "routes[0].match.worker: error parsing regexp"},
		{`"routes": [{"name": "r", "match": {"family": "btc"}, "targets": [{"pools": ["a"], "weight": 1}]}]`, "routes[0].match.family"},
		{`"routes": [{"name": "r", "targets": []}]`, "routes[0].targets: a route needs at least one target"},
		{`"routes": [{"name": "r", "targets": [{"pools": ["a"]}]}]`, "routes[0].targets[0].weight: must be greater than 0"},
		{`"routes": [{"name": "r", "targets": [{"pools": ["a"], "weight": -3}]}]`, "routes[0].targets[0].weight"},
		{`"routes": [{"name": "r", "targets": [{"pools": [], "weight": 1}]}]`, "routes[0].targets[0].pools: a target needs at least one pool"},
		{`"routes": [{"name": "r", "targets": [{"pools": ["zz"], "weight": 1}]}]`, `routes[0].targets[0].pools[0]: no pool is named "zz"`},
		{`"routes": [{"name": "r", "targets": [{"pools": ["a", "a"], "weight": 1}]}]`, `routes[0].targets[0].pools[1]: "a" is listed twice`},
		{`"routes": [{"name": "r", "targets": [{"pools": ["a", "s"], "weight": 1}]}]`, `routes[0].targets[0].pools[1]: "s" is a sv1 pool`},
		{`"routes": [{"name": "r", "match": {"family": "sv1"}, "targets": [{"pools": ["a"], "weight": 1}]}]`, "routes[0].targets[0].pools: cryptonote pools in a route that matches family sv1"},
		{`"routes": [{"name": "r", "targets": [{"pools": ["a"], "weight": 1}, {"name": "a", "pools": ["b"], "weight": 1}]}]`, `routes[0].targets[1].name: the route has another target named "a"`},
		{`"routes": [{"name": "r", "targets": [{"name": "x y", "pools": ["a"], "weight": 1}]}]`, "routes[0].targets[0].name"},
	}
	for _, c := range cases {
		pools := `"pools": [{"name": "a", "url": "pool-a:1"}, {` + poolNameFor(c.edit) + `"url": "pool-b:1"}, {"name": "s", "url": "btc:1", "family": "sv1"}]`
		extra := c.edit
		if strings.HasPrefix(c.edit, `"name"`) {
			extra = ""
		}
		doc := `{"bind": [{"host": "127.0.0.1", "port": 3333}], ` + pools
		if extra != "" {
			doc += ", " + extra
		}
		doc += "}"
		_, _, err := ParseConfig([]byte(doc))
		require.Error(t, err, c.edit)
		require.Contains(t, err.Error(), c.want, c.edit)
	}
	// Two pools known by the same url, referenced by it, are ambiguous.
	_, _, err := ParseConfig([]byte(`{"pools": [{"url": "p:1", "user": "A"}, {"url": "p:1", "user": "B"}],
		"routes": [{"name": "r", "targets": [{"pools": ["p:1"], "weight": 1}]}]}`))
	require.ErrorContains(t, err, `routes[0].targets[0].pools[0]: "p:1" names more than one pool`)
	// They are fine while no route names them (today's configurations).
	_, _, err = ParseConfig([]byte(`{"pools": [{"url": "p:1", "user": "A"}, {"url": "p:1", "user": "B"}]}`))
	require.NoError(t, err)
}

// poolNameFor gives the second pool the name a case asks for.
func poolNameFor(edit string) string {
	if strings.HasPrefix(edit, `"name"`) {
		return edit + ", "
	}
	return `"name": "b", `
}
