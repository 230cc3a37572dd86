package reactor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func mustParse(t *testing.T, doc string) *Config {
	t.Helper()
	cfg, _, err := ParseConfig([]byte(doc))
	require.NoError(t, err)
	return cfg
}

func targetNames(r *route) []string {
	var out []string
	for _, t := range r.targets {
		out = append(out, t.name)
	}
	return out
}

func TestRouteTable_Build_Good(t *testing.T) {
	tab := buildRoutes(mustParse(t, farmConfig), nil)
	var names []string
	for _, r := range tab.routes {
		names = append(names, r.family.String()+"/"+r.name)
	}
	// rack1 and rest have CryptoNote targets only, btc SV1 ones only; the
	// CryptoNote miners all have a route (rest takes every one), the SV1
	// miners on other ports need the implicit route.
	require.Equal(t, []string{"cryptonote/rack1", "sv1/btc", "cryptonote/rest", "sv1/default"}, names)
	rack := tab.routes[0]
	require.Equal(t, []string{"a,a2", "b"}, targetNames(rack))
	require.Len(t, rack.targets[0].pools, 2)
	require.Equal(t, "pool-a-backup:3333", rack.targets[0].pools[1].URL)
	require.Equal(t, 30, rack.rebalance)
	require.Same(t, tab.routes[2].moves, buildRoutes(mustParse(t, farmConfig), tab).routes[2].moves, "counters live on by route name")
	for i, tg := range tab.targets {
		require.Equal(t, i, tg.idx)
	}

	// Without routes: one implicit route per family with pools, exactly
	// today's pool list.
	plain := buildRoutes(mustParse(t, `{"pools": [{"url": "a:1"}, {"url": "b:1", "enabled": false}, {"url": "c:1"}]}`), nil)
	require.Len(t, plain.routes, 1)
	require.True(t, plain.routes[0].implicit)
	tg := plain.implicitTarget(FamilyCryptoNote)
	require.Equal(t, []string{"a:1", "c:1"}, tg.chain)
	require.Nil(t, plain.implicitTarget(FamilySV1))
}

func TestRouteTable_Match_Good(t *testing.T) {
	tab := buildRoutes(mustParse(t, farmConfig), nil)
	cases := []struct {
		f      Family
		port   int
		worker string
		known  bool
		want   string
	}{
		{FamilyCryptoNote, 3334, "rack1.m01", true, "rack1"},
		{FamilyCryptoNote, 3334, "rack2.m01", true, "rest"},
		{FamilyCryptoNote, 3333, "rack1.m01", true, "rest"},
		{FamilyCryptoNote, 3334, "", false, "rest"}, // worker not known yet: rack1 cannot match
		{FamilySV1, 3334, "anything", true, "btc"},
		{FamilySV1, 4444, "", false, "default"},
	}
	for _, c := range cases {
		r := tab.match(c.f, c.port, c.worker, c.known)
		require.NotNil(t, r, "%+v", c)
		require.Equal(t, c.want, r.name, "%+v", c)
		require.Equal(t, c.f, r.family)
	}
	require.Nil(t, (*routeTable)(nil).match(FamilyCryptoNote, 1, "", true))
	require.NotNil(t, tab.find(FamilyCryptoNote, "rack1", "b"))
	require.Nil(t, tab.find(FamilySV1, "rack1", "b"))
}

// A reload keeps targets by route, family and name (weights change
// freely), then by place for a changed chain; a target with neither is
// gone.
func TestRouteTable_Remap_Good(t *testing.T) {
	old := buildRoutes(mustParse(t, farmConfig), nil)
	edit := strings.NewReplacer(
		`{"pools": ["a", "a2"], "weight": 70}, {"pools": ["b"], "weight": 30}`,
		`{"pools": ["b"], "weight": 50}, {"pools": ["a"], "weight": 50}`,
		`"targets": [{"name": "main", "pools": ["btc.example.com:3333"], "weight": 1}]`,
		`"targets": [{"name": "other", "pools": ["btc.example.com:3333"], "weight": 1}]`,
	)
	next := buildRoutes(mustParse(t, edit.Replace(farmConfig)), old)
	m := remap(old, next)
	rack, rackNext := old.routes[0], next.routes[0]
	require.Same(t, rackNext.targets[0], m[rack.targets[1]], "b keeps its target by name, at its new place and weight")
	require.Equal(t, 50.0, m[rack.targets[1]].weight)
	require.Same(t, rackNext.targets[1], m[rack.targets[0]], "a,a2 became a: same place left, chain changed")
	require.False(t, samePools(rack.targets[0].pools, m[rack.targets[0]].pools))
	require.Same(t, next.routes[1].targets[0], m[old.routes[1].targets[0]], "renamed in place")
	require.Same(t, next.implicitTarget(FamilySV1), m[old.implicitTarget(FamilySV1)])

	// A route removed: its targets are gone.
	fewer := buildRoutes(mustParse(t, `{"bind": [{"host": "127.0.0.1", "port": 3333}, {"host": "127.0.0.1", "port": 3334}],
		"pools": [{"name": "a", "url": "pool-a:3333"}, {"name": "b", "url": "pool-b:3333"}],
		"routes": [{"name": "rest", "targets": [{"pools": ["a"], "weight": 1}]}]}`), old)
	m = remap(old, fewer)
	require.Nil(t, m[rack.targets[0]])
	require.Nil(t, m[rack.targets[1]])
	require.NotNil(t, m[old.routes[2].targets[0]], "rest stays (its chain lost a2)")
}
