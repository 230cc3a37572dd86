package nonce

import "testing"

func BenchmarkNiceHash_AddRemove(b *testing.B) {
	s := NewNiceHash[miner]()
	ms := make([]*miner, 256)
	for i := range ms {
		ms[i] = &miner{i}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m := ms[i&0xff]
		slot, ok := s.Add(m)
		if !ok {
			b.Fatal("full")
		}
		s.Remove(slot, m)
		s.Release()
	}
}

func BenchmarkNiceHash_SetJobEach(b *testing.B) {
	s := NewNiceHash[miner]()
	for i := 0; i < 256; i++ {
		s.Add(&miner{i})
	}
	var j Jobs
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		j.Set("job", true)
		s.Release()
		s.Each(func(slot uint32, m *miner) { n += int(slot) })
	}
}
