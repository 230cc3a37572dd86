package vardiff

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// issueExample is the "vardiff" object of issue 13, key for key.
const issueExample = `{"enabled": true, "target-seconds": 10, "retarget-seconds": 30, "variance": 0.3,
	"min-diff": 1000, "max-diff": 0, "initial-diff": 0}`

// decodeStrict decodes like the configuration loader: unknown keys are errors.
func decodeStrict(t *testing.T, s string, v any) error {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func TestConfig_Decode_Good(t *testing.T) {
	var c Config
	require.NoError(t, decodeStrict(t, issueExample, &c))
	require.Equal(t, Config{Enabled: true, TargetSeconds: 10, RetargetSeconds: 30, Variance: 0.3, MinDiff: 1000}, c)
	c.Normalize()
	require.NoError(t, c.Validate())

	require.NoError(t, decodeStrict(t, `{"enabled": true, "min-diff": 0.001, "max-diff": 0.5, "initial-diff": 0.01}`, &c))
	c.Normalize()
	require.NoError(t, c.Validate(), "SV1 difficulties may be fractional")

	require.Error(t, decodeStrict(t, `{"enabled": true, "target_seconds": 5}`, &c), "unknown keys are errors")
}

func TestConfig_Normalize_Good(t *testing.T) {
	var c Config
	c.Normalize()
	require.Equal(t, Config{TargetSeconds: 10, RetargetSeconds: 30, Variance: 0.3, MinDiff: 1000}, c)
	require.NoError(t, c.Validate())
	d := c
	d.Normalize()
	require.Equal(t, c, d, "idempotent")
}

func TestConfig_Validate_Bad(t *testing.T) {
	base := func() Config { c := Config{Enabled: true}; c.Normalize(); return c }
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"target below 1 s", func(c *Config) { c.TargetSeconds = 0.5 }, "target-seconds: must be 1..3600"},
		{"target too long", func(c *Config) { c.TargetSeconds = 3601 }, "target-seconds: must be 1..3600"},
		{"negative target", func(c *Config) { c.TargetSeconds = -1 }, "target-seconds: must not be negative"},
		{"retarget 0.5", func(c *Config) { c.RetargetSeconds = 0.5 }, "retarget-seconds: must be 1..86400"},
		{"variance 1", func(c *Config) { c.Variance = 1 }, "variance: must be below 1"},
		{"negative variance", func(c *Config) { c.Variance = -0.1 }, "variance: must not be negative"},
		{"NaN min-diff", func(c *Config) { c.MinDiff = math.NaN() }, "min-diff: must be a finite number"},
		{"infinite max-diff", func(c *Config) { c.MaxDiff = math.Inf(1) }, "max-diff: must be a finite number"},
		{"negative min-diff", func(c *Config) { c.MinDiff = -5 }, "min-diff: must not be negative"},
		{"max below min", func(c *Config) { c.MaxDiff = 500 }, "max-diff: must be 0 (the pool's difficulty) or at least min-diff"},
		{"initial below min", func(c *Config) { c.InitialDiff = 10 }, "initial-diff: must be 0 (automatic) or at least min-diff"},
		{"initial above max", func(c *Config) { c.MaxDiff = 5000; c.InitialDiff = 6000 }, "initial-diff: must not exceed max-diff"},
		{"negative initial", func(c *Config) { c.InitialDiff = -1 }, "initial-diff: must not be negative"},
	}
	for _, tc := range cases {
		c := base()
		tc.edit(&c)
		err := c.Validate()
		require.Error(t, err, tc.name)
		require.Contains(t, err.Error(), tc.want, tc.name)
	}
	// Values are checked even while vardiff is off.
	c := base()
	c.Enabled, c.Variance = false, 2
	require.Error(t, c.Validate())
	// min-diff 0 is the default after Normalize, never an error.
	c = Config{MinDiff: 0}
	c.Normalize()
	require.NoError(t, c.Validate())
}

func TestConfig_Bounds_Good(t *testing.T) {
	c := Config{MinDiff: 100}
	c.Normalize()
	cases := []struct {
		name       string
		max, d, p  float64
		ceil, want float64
	}{
		{"max-diff 0 means the pool's", 0, 5e6, 1e6, 1e6, 1e6},
		{"inside", 0, 5000, 1e6, 1e6, 5000},
		{"below min-diff", 0, 3, 1e6, 1e6, 100},
		{"max-diff below the pool", 20000, 5e5, 1e6, 20000, 20000},
		{"max-diff above the pool: the pool wins", 5e6, 4e6, 1e6, 1e6, 1e6},
		{"pool below min-diff: the pool wins", 0, 3, 50, 50, 50},
		{"NaN gives min-diff", 0, math.NaN(), 1e6, 1e6, 100},
	}
	for _, tc := range cases {
		c.MaxDiff = tc.max
		require.Equal(t, tc.ceil, c.Ceiling(tc.p), tc.name)
		require.Equal(t, tc.want, c.Clamp(tc.d, tc.p), tc.name)
	}
}

func TestConfig_Initial_Good(t *testing.T) {
	const k = 1 << 32 // sha256d hashes per difficulty 1
	c := Config{MinDiff: 0.001}
	c.Normalize()
	cases := []struct {
		name           string
		initial, max   float64
		pool, hashrate float64
		want           float64
	}{
		{"nothing known: the pool's difficulty", 0, 0, 1e6, 0, 1e6},
		{"nothing known, max-diff lower", 0, 5e4, 1e6, 0, 5e4},
		{"initial-diff", 2, 0, 1e6, 0, 2},
		{"initial-diff above the pool's: the pool's", 2, 0, 1, 0, 1},
		{"estimate reaches the pool's difficulty: the pool's", 0, 0, 1000, 100e12, 1000},
		{"estimate below the pool's: one share per target at it", 0, 0, 1e6, 10 * k, 100},
		{"estimate below min-diff: min-diff", 0, 0, 1e6, 1, 0.001},
		{"no pool difficulty: inactive", 0, 0, 0, 0, 0},
		{"infinite pool difficulty: inactive", 0, 0, math.Inf(1), 0, 0},
	}
	for _, tc := range cases {
		c.InitialDiff, c.MaxDiff = tc.initial, tc.max
		require.InDelta(t, tc.want, c.Initial(tc.pool, tc.hashrate, k), tc.want*1e-12, tc.name)
	}
	require.Equal(t, 1e6, c.Initial(1e6, math.NaN(), k), "a NaN estimate is no estimate")
}

func TestOverride_Apply_Good(t *testing.T) {
	var top Config
	require.NoError(t, decodeStrict(t, issueExample, &top))
	top.Normalize()

	var o Override
	require.NoError(t, decodeStrict(t, `{"min-diff": 0.001, "target-seconds": 3}`, &o))
	got := o.Apply(top)
	want := top
	want.MinDiff, want.TargetSeconds = 0.001, 3
	require.Equal(t, want, got, "absent keys inherit")
	require.NoError(t, got.Validate())

	o = Override{}
	require.NoError(t, decodeStrict(t, `{"enabled": false, "max-diff": 0, "variance": 0}`, &o))
	top.MaxDiff = 9000
	got = o.Apply(top)
	require.False(t, got.Enabled, "a bind can turn vardiff off")
	require.Zero(t, got.MaxDiff, "max-diff 0 given explicitly replaces the inherited value")
	require.Equal(t, DefaultVariance, got.Variance, "0 means the default, as at top level")

	var nilO *Override
	require.Equal(t, top, nilO.Apply(top))

	require.Error(t, decodeStrict(t, `{"min_diff": 1}`, &o), "unknown keys are errors")

	// The merged result is what is validated: a bind min-diff above the
	// inherited initial-diff is an error to report as bind[i].vardiff.
	top.InitialDiff = 2000
	o = Override{}
	require.NoError(t, decodeStrict(t, `{"min-diff": 5000}`, &o))
	merged := o.Apply(top)
	require.ErrorContains(t, merged.Validate(), "initial-diff:")
}

func TestConfig_JSONRoundTrip_Good(t *testing.T) {
	c := Config{Enabled: true, MinDiff: 0.001, MaxDiff: 2.5}
	c.Normalize()
	b, err := json.Marshal(c)
	require.NoError(t, err)
	var back Config
	require.NoError(t, decodeStrict(t, string(b), &back))
	require.Equal(t, c, back)
	b, err = json.Marshal(Config{})
	require.NoError(t, err)
	require.Equal(t, "{}", string(b), "an unset section stays out of a marshalled configuration")
}
