package vardiff

import "testing"

var sinkDiff float64

func BenchmarkState_Share(b *testing.B) {
	c := cfg()
	var s State
	s.Start(c, 1e9, 0, 1, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if s.Share(c, 1000, int64(i)) {
			sinkDiff, _ = s.Retarget(c, 1e9, int64(i))
		}
	}
}

// The sweep on a miner whose window is not due: what 19,000 miners cost
// each second.
func BenchmarkState_RetargetIdle(b *testing.B) {
	c := cfg()
	var s State
	s.Start(c, 1e9, 0, 1, 0)
	b.ReportAllocs()
	for b.Loop() {
		sinkDiff, _ = s.Retarget(c, 1e9, 5)
	}
}

// The sweep at a regular check of a window on target.
func BenchmarkState_RetargetCheck(b *testing.B) {
	c := cfg()
	b.ReportAllocs()
	for b.Loop() {
		var s State
		s.Start(c, 1e9, 0, 1, 0)
		s.Share(c, 1e9, 10)
		s.Share(c, 1e9, 20)
		s.Share(c, 1e9, 30)
		sinkDiff, _ = s.Retarget(c, 1e9, 30)
	}
}
