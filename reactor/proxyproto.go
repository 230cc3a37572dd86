package reactor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// PROXY protocol (HAProxy, v1 text and v2 binary): a load balancer or TLS
// terminator in front of go-proxy sends the miner's real address before
// any stratum byte.

// ErrProxyHeader means a connection on a proxy-protocol bind did not start
// with a valid PROXY header; it is closed.
var ErrProxyHeader = errors.New("reactor: missing or invalid PROXY protocol header")

var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

const maxProxyV1 = 107

// parseProxyHeader reads a PROXY header at the start of buf. It returns
// the source address (invalid for LOCAL/UNKNOWN headers: keep the socket
// address), the header length, and done == false when buf is a valid but
// incomplete prefix.
func parseProxyHeader(buf []byte) (src netip.AddrPort, n int, done bool, err error) {
	switch {
	case len(buf) == 0:
		return src, 0, false, nil
	case buf[0] == 'P':
		return parseProxyV1(buf)
	case buf[0] == '\r':
		return parseProxyV2(buf)
	}
	return src, 0, false, ErrProxyHeader
}

func parseProxyV1(buf []byte) (src netip.AddrPort, n int, done bool, err error) {
	end := bytes.Index(buf, []byte("\r\n"))
	if end < 0 {
		if len(buf) >= maxProxyV1 || !bytes.HasPrefix([]byte("PROXY "), buf[:min(len(buf), 6)]) {
			return src, 0, false, ErrProxyHeader
		}
		return src, 0, false, nil
	}
	if end+2 > maxProxyV1 {
		return src, 0, false, ErrProxyHeader
	}
	f := bytes.Fields(buf[:end])
	if len(f) < 2 || string(f[0]) != "PROXY" {
		return src, 0, false, ErrProxyHeader
	}
	switch string(f[1]) {
	case "UNKNOWN":
		return src, end + 2, true, nil
	case "TCP4", "TCP6":
	default:
		return src, 0, false, ErrProxyHeader
	}
	if len(f) != 6 {
		return src, 0, false, ErrProxyHeader
	}
	ip, perr := netip.ParseAddr(string(f[2]))
	if perr != nil || (string(f[1]) == "TCP4") != ip.Is4() {
		return src, 0, false, ErrProxyHeader
	}
	if _, perr := netip.ParseAddr(string(f[3])); perr != nil {
		return src, 0, false, ErrProxyHeader
	}
	port, perr := strconv.ParseUint(string(f[4]), 10, 16)
	if perr != nil || (len(f[4]) > 1 && f[4][0] == '0') {
		return src, 0, false, ErrProxyHeader
	}
	if _, perr := strconv.ParseUint(string(f[5]), 10, 16); perr != nil {
		return src, 0, false, ErrProxyHeader
	}
	return netip.AddrPortFrom(ip, uint16(port)), end + 2, true, nil
}

func parseProxyV2(buf []byte) (src netip.AddrPort, n int, done bool, err error) {
	if len(buf) < 16 {
		if !bytes.HasPrefix(proxyV2Sig, buf[:min(len(buf), 12)]) {
			return src, 0, false, ErrProxyHeader
		}
		return src, 0, false, nil
	}
	if !bytes.Equal(buf[:12], proxyV2Sig) || buf[12]>>4 != 2 {
		return src, 0, false, ErrProxyHeader
	}
	cmd, fam := buf[12]&0x0f, buf[13]
	size := int(binary.BigEndian.Uint16(buf[14:16]))
	if size > 512 {
		return src, 0, false, ErrProxyHeader
	}
	if len(buf) < 16+size {
		return src, 0, false, nil
	}
	body := buf[16 : 16+size]
	n = 16 + size
	switch cmd {
	case 0: // LOCAL: a health check from the balancer itself
		return src, n, true, nil
	case 1: // PROXY
	default:
		return src, 0, false, ErrProxyHeader
	}
	switch fam {
	case 0x11, 0x12: // TCP/UDP over IPv4
		if len(body) < 12 {
			return src, 0, false, ErrProxyHeader
		}
		ip := netip.AddrFrom4([4]byte(body[0:4]))
		return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(body[8:10])), n, true, nil
	case 0x21, 0x22: // over IPv6
		if len(body) < 36 {
			return src, 0, false, ErrProxyHeader
		}
		ip := netip.AddrFrom16([16]byte(body[0:16]))
		return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(body[32:34])), n, true, nil
	case 0x00: // UNSPEC
		return src, n, true, nil
	}
	return src, 0, false, ErrProxyHeader
}

// readProxyHeader consumes the PROXY header of a gnet miner (loop-only).
// The client address it carries is what the per-IP rate limit and bans
// see. A header without one (v2 LOCAL, v1 UNKNOWN: the balancer's own
// health check) counts toward neither: the balancer's address must never
// be banned for checking that the proxy is up.
func (m *miner) readProxyHeader(buf []byte) (used int, done bool, err error) {
	src, n, done, err := parseProxyHeader(buf)
	if err != nil || !done {
		return 0, done, err
	}
	if src.IsValid() {
		m.addr = packAddr(src)
		if !m.s.p.allowIP(src.Addr()) {
			return 0, false, errRateLimited
		}
	}
	m.state = stateWaitLogin
	return n, true, nil
}

var errRateLimited = errors.New("reactor: rate limited")
