package reactor

import (
	"net/netip"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestMinerAddr_Pack_Good(t *testing.T) {
	for _, s := range []string{"1.2.3.4:3333", "127.0.0.1:1", "[::1]:443", "[2001:db8::7]:65535", "0.0.0.0:0"} {
		ap := netip.MustParseAddrPort(s)
		a := packAddr(ap)
		require.Equal(t, ap, a.AddrPort(), s)
		require.Equal(t, ap.Addr(), a.Addr(), s)
		require.Equal(t, ap.Port(), a.Port(), s)
		require.Equal(t, ap.String(), a.String(), s)
	}
	// An IPv4-mapped IPv6 peer stays IPv6, as netip keeps it.
	ap := netip.MustParseAddrPort("[::ffff:1.2.3.4]:5")
	require.Equal(t, ap, packAddr(ap).AddrPort())
}

func TestMinerAddr_Invalid_Bad(t *testing.T) {
	var zero minerAddr
	require.Equal(t, netip.AddrPort{}, zero.AddrPort())
	require.False(t, zero.Addr().IsValid())
	require.Equal(t, netip.AddrPort{}.String(), zero.String())
	require.Equal(t, zero, packAddr(netip.AddrPort{}))
}

func TestMinerAddr_Zone_Ugly(t *testing.T) {
	// The zone is not kept: the address and port are.
	ap := netip.MustParseAddrPort("[fe80::1%eth0]:3333")
	a := packAddr(ap)
	require.Equal(t, netip.MustParseAddrPort("[fe80::1]:3333"), a.AddrPort())
}

// The miner struct fits the 288-byte size class (it was 328 bytes, in
// the 352 class, with a netip.AddrPort and two string headers for user
// and agent), and its address takes 20 bytes.
func TestMiner_Size_Good(t *testing.T) {
	require.LessOrEqual(t, unsafe.Sizeof(minerAddr{}), uintptr(20))
	require.LessOrEqual(t, unsafe.Sizeof(miner{}), uintptr(288))
}
