package reactor

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is gc-percent's default. Once the miners are logged in
// the hot path allocates nothing, so collections are rare whatever the
// target and a low one costs little CPU; what it buys is a heap that
// stays near the live heap instead of growing to twice it (Go's default
// of 100), which is most of the difference between RSS and live bytes
// per miner. At 15,000 miners RSS per miner was 1,517 B at 100, 1,134–1,144
// at 25 and 1,062–1,094 at 10, for ~5–10 µs more CPU per login during the
// ramp and no measurable change per share (README, How memory grows).
const defaultGCPercent = 10

// applyGCPercent sets the garbage collector's target from gc-percent,
// unless the GOGC environment variable is set (an operator's explicit
// choice wins) or gc-percent is -1. It is process-wide: an embedding
// program that manages the collector itself sets -1.
func (p *Proxy) applyGCPercent(cfg *Config) {
	if cfg.GCPercent < 1 {
		return
	}
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	debug.SetGCPercent(cfg.GCPercent)
}
