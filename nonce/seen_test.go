package nonce

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSeen_Add_Good(t *testing.T) {
	var s Seen[uint32]
	require.False(t, s.Has(7, false), "the zero value is empty")
	require.True(t, s.Add(7, false, 10))
	require.True(t, s.Has(7, false))
	require.False(t, s.Has(7, true), "windows are separate")
	s.Turn(true)
	require.True(t, s.Has(7, true), "the current window became the previous one")
	require.False(t, s.Has(7, false))
	require.True(t, s.Add(7, false, 10), "the same key in the new window is a new share")
	s.Turn(true)
	require.True(t, s.Has(7, true))
	s.Turn(true)
	require.False(t, s.Has(7, true), "two windows back is forgotten")
	require.False(t, s.Has(7, false))
}

func TestSeen_Add_Bad(t *testing.T) {
	var s Seen[uint32]
	for k := uint32(0); k < 3; k++ {
		require.True(t, s.Add(k, true, 3))
	}
	require.False(t, s.Add(99, true, 3), "a full window refuses")
	require.False(t, s.Has(99, true), "and records nothing")
	require.Equal(t, 3, s.Len(true))
	require.True(t, s.Add(99, false, 3), "the other window has room")
}

func TestSeen_Turn_Ugly(t *testing.T) {
	var s Seen[[2]uint64]
	s.Turn(false) // on the zero value
	s.Turn(true)
	k := [2]uint64{1, 2}
	require.True(t, s.Add(k, false, 1))
	require.True(t, s.Add(k, true, 1))
	s.Turn(false)
	require.False(t, s.Has(k, false), "a new connection forgets both windows")
	require.False(t, s.Has(k, true))
	require.Zero(t, s.Len(false)+s.Len(true))
}
