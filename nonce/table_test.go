package nonce

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

type miner struct{ id int }

// The RFC §22 storage tests, on the generic table.

func TestStorage_Add_Good(t *testing.T) {
	s := NewNiceHash[miner]()
	seen := make(map[uint32]bool)
	for i := 0; i < 256; i++ {
		slot, ok := s.Add(&miner{id: i + 1})
		require.True(t, ok)
		require.False(t, seen[slot], "slot %d handed out twice", slot)
		require.Less(t, slot, uint32(256))
		seen[slot] = true
	}
	free, dead, active := s.Counts()
	require.Equal(t, [3]uint64{0, 0, 256}, [3]uint64{free, dead, active})
}

func TestStorage_Add_Bad(t *testing.T) {
	s := NewNiceHash[miner]()
	for i := 0; i < 256; i++ {
		_, ok := s.Add(&miner{id: i})
		require.True(t, ok)
	}
	_, ok := s.Add(&miner{id: 257})
	require.False(t, ok, "257th miner does not fit")
}

func TestStorage_Add_Ugly(t *testing.T) {
	s := NewNiceHash[miner]()
	ms := make([]*miner, 256)
	for i := range ms {
		ms[i] = &miner{id: i}
		_, ok := s.Add(ms[i])
		require.True(t, ok)
	}
	require.True(t, s.Remove(5, ms[5]))
	_, ok := s.Add(&miner{id: 999})
	require.False(t, ok, "a dead slot is not reusable before the next job")
	free, dead, active := s.Counts()
	require.Equal(t, [3]uint64{0, 1, 255}, [3]uint64{free, dead, active})

	s.Release()
	slot, ok := s.Add(&miner{id: 1000})
	require.True(t, ok)
	require.Equal(t, uint32(5), slot, "the released slot is reclaimed")
}

func TestTable_Remove_Ugly(t *testing.T) {
	s := NewNiceHash[miner]()
	a, b := &miner{1}, &miner{2}
	slot, _ := s.Add(a)
	require.False(t, s.Remove(slot, b), "only the owner can release its slot")
	require.True(t, s.Remove(slot, a))
	require.False(t, s.Remove(slot, a), "second remove is harmless")
	require.False(t, s.Remove(4000, a))
	require.Nil(t, s.Owner(slot))
	require.Equal(t, 0, s.Len())
}

func TestTable_RoundRobin_Good(t *testing.T) {
	s := NewNiceHash[miner]()
	ms := make([]*miner, 10)
	for i := range ms {
		ms[i] = &miner{i}
		s.Add(ms[i])
	}
	// Free 2 and 7, release them; the next adds reuse them in order after
	// the last slot handed out, and only then grow the range.
	s.Remove(2, ms[2])
	s.Remove(7, ms[7])
	s.Release()
	a, _ := s.Add(&miner{})
	b, _ := s.Add(&miner{})
	c, _ := s.Add(&miner{})
	require.Equal(t, []uint32{2, 7, 10}, []uint32{a, b, c})
}

func TestTable_Each_Good(t *testing.T) {
	s := NewNiceHash[miner]()
	ms := make([]*miner, 5)
	for i := range ms {
		ms[i] = &miner{i}
		s.Add(ms[i])
	}
	var got []int
	s.Each(func(slot uint32, m *miner) {
		got = append(got, m.id)
		// A write error can close a miner in the middle of a broadcast.
		if slot == 1 {
			s.Remove(1, m)
			s.Remove(3, ms[3])
		}
	})
	require.Equal(t, []int{0, 1, 2, 4}, got)
	require.Equal(t, 3, s.Len())
}

func TestPrefixes_Churn_Good(t *testing.T) {
	// A 4-byte space under heavy churn keeps storage at the peak of
	// concurrent miners, not at the number of miners ever seen.
	s := NewPrefixes[miner](4)
	require.Equal(t, uint64(1<<32), s.Size())
	live := map[uint32]*miner{}
	for round := 0; round < 1000; round++ {
		for i := 0; i < 50; i++ {
			m := &miner{round*100 + i}
			slot, ok := s.Add(m)
			require.True(t, ok)
			require.Nil(t, live[slot], "slot %d reused while held", slot)
			live[slot] = m
		}
		for slot, m := range live {
			require.True(t, s.Remove(slot, m))
			delete(live, slot)
		}
		s.Release()
	}
	require.LessOrEqual(t, cap(s.owners), 256, "storage bounded by peak concurrency")
	require.Equal(t, 0, s.Len())
}

func TestPrefixes_Full_Bad(t *testing.T) {
	s := NewPrefixes[miner](1)
	for i := 0; i < 256; i++ {
		_, ok := s.Add(&miner{i})
		require.True(t, ok)
	}
	_, ok := s.Add(&miner{})
	require.False(t, ok)
	require.Panics(t, func() { NewPrefixes[miner](5) })
	require.Panics(t, func() { NewTable[miner](0) })
}

func TestJobs_Check_Good(t *testing.T) {
	var j Jobs
	require.Equal(t, JobUnknown, j.Check([]byte("a")))
	j.Set("a", true)
	require.Equal(t, JobCurrent, j.Check([]byte("a")))
	j.Set("b", true)
	require.Equal(t, JobCurrent, j.Check([]byte("b")))
	require.Equal(t, JobPrevious, j.Check([]byte("a")), "previous job: expired but accepted")
	j.Set("c", true)
	require.Equal(t, JobUnknown, j.Check([]byte("a")), "anything older is invalid")
}

func TestJobs_Check_Ugly(t *testing.T) {
	var j Jobs
	j.Set("a", true)
	j.Set("b", false)
	require.Equal(t, JobUnknown, j.Check([]byte("a")), "a new pool connection drops the previous job")
	j.Set("b", true)
	require.Equal(t, JobUnknown, j.Check([]byte("a")), "repeating the current job keeps no stale previous")
	require.Equal(t, JobUnknown, j.Check(nil))
	j.Reset()
	require.Equal(t, JobUnknown, j.Check([]byte("b")))
}

// The reviewer's sequence: storage shrinks to exactly the cursor while a
// free slot stays inside the range; the next Add must not index past the
// end.
func TestTable_ShrinkToCursor_Ugly(t *testing.T) {
	tb := NewNiceHash[int]()
	owners := make([]int, 10)
	for i := range owners {
		_, ok := tb.Add(&owners[i])
		require.True(t, ok)
	}
	for _, s := range []uint32{5, 8, 9} {
		require.True(t, tb.Remove(s, &owners[s]))
	}
	tb.Release()
	x := 0
	s, ok := tb.Add(&x)
	require.True(t, ok)
	require.Equal(t, uint32(5), s)
	require.True(t, tb.Remove(6, &owners[6]))
	require.True(t, tb.Remove(7, &owners[7]))
	tb.Release()
	require.True(t, tb.Remove(2, &owners[2]))
	tb.Release()
	y := 0
	s, ok = tb.Add(&y)
	require.True(t, ok)
	require.Equal(t, uint32(2), s)
}

// Random churn (add, remove, release) never panics, never hands out a held
// slot, and never hands out a slot freed since the last Release.
func TestTable_RandomChurn_Good(t *testing.T) {
	for seed := int64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewSource(seed))
		tb := NewTable[int](64)
		held := map[uint32]*int{}
		dead := map[uint32]bool{}
		for step := 0; step < 5000; step++ {
			switch r := rng.Intn(10); {
			case r < 5:
				o := new(int)
				s, ok := tb.Add(o)
				if !ok {
					require.Equal(t, 64, len(held)+len(dead), "seed %d: full only when every slot is held or dead", seed)
					continue
				}
				require.Nil(t, held[s], "seed %d step %d: slot %d handed out twice", seed, step, s)
				require.False(t, dead[s], "seed %d step %d: dead slot %d reused before Release", seed, step, s)
				held[s] = o
			case r < 9:
				for s, o := range held {
					require.True(t, tb.Remove(s, o))
					delete(held, s)
					dead[s] = true
					break
				}
			default:
				tb.Release()
				clear(dead)
			}
			require.Equal(t, len(held), tb.Len())
		}
	}
}
