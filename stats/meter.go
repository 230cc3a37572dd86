package stats

import "math"

// Meter estimates one miner's hashrate from the work of its accepted
// shares. Add runs on the share path (a float add: no clock, no
// allocation); Fold runs once a second from the event loop's sweep and
// turns the work added since the last one into a decaying average of work
// per second; Rate reads it. The time constant is the caller's (MeterDecay):
// routing and per-miner difficulty may use the same meter with different
// windows. 16 bytes, so a meter per miner costs little at 19,000 miners.
//
// A meter young compared with its window is judged over the time it has
// been observed, not the whole window: its average is divided by its
// weight, the part of the window the observed time covers
// (1 − e^(−observed/τ)). So a miner 10 s old with a 60 s window reads its
// true rate, only noisier. Rate reports ok once the meter has been
// observed for half its window.
//
// Loop-only (not safe for concurrent use); the zero value is ready.
type Meter struct {
	pending float64 // work since the last Fold
	avg     float32 // decaying average of work per second, times weight
	weight  float32 // 1 − e^(−observed/τ)
}

// MeterWarm is the weight from which Rate reports ok: half a window
// observed (1 − e^(−1/2)).
const MeterWarm = 0.3934693402873666

// MeterDecay returns the factor Fold applies after dt seconds with time
// constant tau seconds: e^(−dt/tau). Compute it once per sweep, not per
// meter.
func MeterDecay(dt, tau float64) float64 {
	if tau <= 0 || dt <= 0 {
		return 0
	}
	return math.Exp(-dt / tau)
}

// Add credits the work of one accepted share (its hashes: difficulty for
// CryptoNote, difficulty·2^32/divider for stratum v1).
func (m *Meter) Add(work float64) { m.pending += work }

// Fold closes a period of dt seconds (> 0) with decay = MeterDecay(dt, τ).
func (m *Meter) Fold(decay, dt float64) {
	if dt <= 0 {
		return
	}
	f := float32(1 - decay)
	d := float32(decay)
	m.avg = m.avg*d + float32(m.pending/dt)*f
	m.weight = m.weight*d + f
	m.pending = 0
}

// Rate returns the estimate in work per second (H/s), and whether the
// meter has been observed long enough (MeterWarm) for it to mean much.
func (m *Meter) Rate() (hs float64, ok bool) {
	if m.weight <= 0 {
		return 0, false
	}
	return float64(m.avg / m.weight), m.weight >= MeterWarm
}
