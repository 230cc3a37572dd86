package reactor

import "math"

// Bounds of an algorithm's hashrate divider (hashes per difficulty-1 share
// = 2^32 ÷ divider). sha256d is 1 and scrypt 65,536; a divider outside
// [MinDivider, MaxDivider] — 5e-324, say, or +Inf — would turn the SV1
// hash counters and hashrates into +Inf or NaN, so the registration API
// refuses one and the proxy clamps one it finds in the account store.
const (
	MinDivider = 1
	MaxDivider = 1 << 32
)

// DividerOK reports whether d is a finite divider within the bounds.
func DividerOK(d float64) bool { return d >= MinDivider && d <= MaxDivider }

// clampDivider returns d within the bounds (NaN reads as 1) and whether it
// had to change.
func clampDivider(d float64) (float64, bool) {
	switch {
	case DividerOK(d):
		return d, false
	case math.IsNaN(d) || d < MinDivider:
		return MinDivider, true
	}
	return MaxDivider, true
}
