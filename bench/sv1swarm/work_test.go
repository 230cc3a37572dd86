package sv1swarm

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDepositBits_Good(t *testing.T) {
	require.Equal(t, uint32(0), depositBits(0, 0x1fffe000))
	require.Equal(t, uint32(0x2000), depositBits(1, 0x1fffe000))
	require.Equal(t, uint32(0x1fffe000), depositBits(0xffff, 0x1fffe000))
	require.Equal(t, uint32(0x1fffe000), depositBits(0xffffffff, 0x1fffe000), "high bits of v are ignored")
	require.Equal(t, uint32(0b1010_0000), depositBits(0b11, 0b1010_0000))
	require.Equal(t, uint32(0b1000_0000), depositBits(0b10, 0b1010_0000))
	require.Zero(t, depositBits(0xff, 0))
}

func TestUnitOf_Good(t *testing.T) {
	// Without rolling every search gets its own extranonce2.
	w := unitOf(0x0102, 4, 0)
	require.Equal(t, []byte{0, 0, 1, 2}, w.e2[:4])
	require.Zero(t, w.bits)
	require.Zero(t, w.start)
	w = unitOf(1<<40|5, 16, 0)
	require.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 5}, w.e2[:16])

	// With rolling the version bits roll first.
	const mask = 0x1fffe000
	w = unitOf(3, 8, mask)
	require.Equal(t, uint32(0x6000), w.bits)
	require.Equal(t, make([]byte, 8), w.e2[:8])
	w = unitOf(1<<16|1, 8, mask)
	require.Equal(t, uint32(0x2000), w.bits)
	require.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 1}, w.e2[:8])

	// A one-byte extranonce2 wraps into another nonce range.
	w = unitOf(256+7, 1, 0)
	require.Equal(t, byte(7), w.e2[0])
	require.Equal(t, uint32(wrapNonceStride), w.start)
}

func TestUnitOf_Distinct_Ugly(t *testing.T) {
	type key struct {
		e2    [16]byte
		bits  uint32
		start uint32
	}
	for _, tc := range []struct {
		size int
		mask uint32
	}{{1, 0}, {2, 0}, {1, 0x6000}, {4, 0x1fffe000}, {8, 0x80000001}} {
		seen := make(map[key]bool)
		for u := uint64(0); u < 5000; u++ {
			w := unitOf(u, tc.size, tc.mask)
			require.Zero(t, w.bits&^tc.mask)
			k := key{w.e2, w.bits, w.start}
			require.False(t, seen[k], "size %d mask %x unit %d repeats", tc.size, tc.mask, u)
			seen[k] = true
		}
	}
}
