package reactor

import "net/netip"

// minerAddr is a miner's address (its TCP peer, or the source a PROXY
// protocol header gave), packed into 20 bytes where netip.AddrPort takes
// 32 (its zone handle is a pointer): the miner struct keeps one per
// connection. An IPv6 zone is not kept, so a link-local peer is shown
// without its %zone. The zero value is the invalid address.
type minerAddr struct {
	ip   [16]byte // IPv4 in the IPv4-mapped form
	port uint16
	kind uint8 // 0 invalid, 4 IPv4, 6 IPv6
}

// packAddr packs a (dropping any zone).
func packAddr(a netip.AddrPort) minerAddr {
	ip := a.Addr()
	switch {
	case ip.Is4():
		return minerAddr{ip: ip.As16(), port: a.Port(), kind: 4}
	case ip.IsValid():
		return minerAddr{ip: ip.As16(), port: a.Port(), kind: 6}
	}
	return minerAddr{}
}

// Addr returns the IP address (invalid when none).
func (a minerAddr) Addr() netip.Addr {
	switch a.kind {
	case 4:
		return netip.AddrFrom16(a.ip).Unmap()
	case 6:
		return netip.AddrFrom16(a.ip)
	}
	return netip.Addr{}
}

// Port returns the port.
func (a minerAddr) Port() uint16 { return a.port }

// AddrPort returns the address as a netip.AddrPort.
func (a minerAddr) AddrPort() netip.AddrPort {
	if a.kind == 0 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a.Addr(), a.port)
}

// String formats the address as netip.AddrPort does ("1.2.3.4:5",
// "[::1]:5", "invalid AddrPort").
func (a minerAddr) String() string { return a.AddrPort().String() }
