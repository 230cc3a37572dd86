package upstream

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPendingRing_Grow_Good(t *testing.T) {
	r := newPendingRing[int](64)
	require.Len(t, r.slots, initialPending, "starts small")
	for id := uint64(1); id <= 40; id++ {
		_, evicted := r.put(id, int64(id), int(id))
		require.False(t, evicted, "room is made by growing, up to the cap")
	}
	require.Len(t, r.slots, 64)
	require.Equal(t, 40, r.n)
	for id := uint64(1); id <= 40; id++ {
		p, ok := r.take(id)
		require.True(t, ok, "id %d survives the moves", id)
		require.Equal(t, int(id), p.Tag)
	}
	require.Zero(t, r.n)
}

func TestPendingRing_Grow_Ugly(t *testing.T) {
	r := newPendingRing[int](32)
	var evictions []int
	for id := uint64(1); id <= 40; id++ {
		if e, ok := r.put(id, 0, int(id)); ok {
			evictions = append(evictions, e.Tag)
		}
	}
	require.Len(t, r.slots, 32, "never beyond the cap")
	require.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8}, evictions, "at the cap the oldest unanswered go")
	steady := newPendingRing[int](256)
	for id := uint64(1); id <= 10000; id++ {
		steady.put(id, 0, 0)
		steady.take(id)
	}
	require.Len(t, steady.slots, initialPending, "answered submits never make the ring grow")
}
