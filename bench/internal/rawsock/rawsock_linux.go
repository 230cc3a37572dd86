//go:build linux

package rawsock

import (
	"errors"
	"fmt"
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Open creates a non-blocking TCP socket for family (unix.AF_INET or
// unix.AF_INET6), configured for a swarm (SO_LINGER 0, SO_TIMESTAMPNS,
// TCP_NODELAY) and bound to src when src is non-nil (with
// IP_BIND_ADDRESS_NO_PORT, so the port is chosen at connect time per
// destination and a source address serves many sockets).
func Open(family int, src *unix.SockaddrInet4) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, err
	}
	if err := configure(fd, src); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func configure(fd int, src *unix.SockaddrInet4) error {
	if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
		return fmt.Errorf("SO_LINGER: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fmt.Errorf("SO_TIMESTAMPNS: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fmt.Errorf("TCP_NODELAY: %w", err)
	}
	if src != nil {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1); err != nil {
			return fmt.Errorf("IP_BIND_ADDRESS_NO_PORT: %w", err)
		}
		if err := unix.Bind(fd, src); err != nil {
			return fmt.Errorf("bind %d.%d.%d.%d: %w", src.Addr[0], src.Addr[1], src.Addr[2], src.Addr[3], err)
		}
	}
	return nil
}

// OpenStampKeeper opens a socket with SO_TIMESTAMPNS on and returns it, or
// -1. The kernel stamps received packets only while some socket wants
// timestamps, and switches that on asynchronously (a deferred static key,
// flipped by a kernel worker a little later): TCP segments that arrive
// before it is on carry no timestamp. Holding one such socket from a
// swarm's start to its close keeps stamping on between runs; and
// OpenStampKeeper returns only once it is on — a loopback TCP probe came
// back stamped — or after stampWait, so the first miner's first line is
// stamped whether or not another process already wanted timestamps.
func OpenStampKeeper() int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) != nil {
		_ = unix.Close(fd)
		return -1
	}
	_ = waitStamped(stampWait)
	return fd
}

// stampWait bounds OpenStampKeeper's wait for the kernel to stamp.
const stampWait = 5 * time.Second

// waitStamped sends one byte at a time over a loopback TCP connection
// until one arrives with a kernel receive timestamp, or limit passes.
func waitStamped(limit time.Duration) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fd, err := Open(unix.AF_INET, nil)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	port := ln.Addr().(*net.TCPAddr).Port
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil && !errors.Is(err, unix.EINPROGRESS) {
		return err
	}
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(limit))
	srv, err := ln.Accept()
	if err != nil {
		return err
	}
	defer srv.Close()
	var r Receiver
	buf := make([]byte, 16)
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, err := srv.Write([]byte{'.'}); err != nil {
			return err
		}
		for {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if n, err := unix.Poll(pfd, 100); err != nil && !errors.Is(err, unix.EINTR) || n == 0 && !time.Now().Before(deadline) {
				return errors.New("rawsock: no stamped probe")
			}
			n, ts, err := r.Recv(fd, buf)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil || n == 0 {
				return errors.New("rawsock: probe connection closed")
			}
			if ts != 0 {
				return nil
			}
			break
		}
		// Not on yet: the kernel worker runs within milliseconds.
		time.Sleep(time.Millisecond)
	}
	return errors.New("rawsock: no stamped probe")
}

// CloseStampKeeper closes a socket from OpenStampKeeper; -1 is ignored.
func CloseStampKeeper(fd int) {
	if fd >= 0 {
		_ = unix.Close(fd)
	}
}

// ErrnoText returns the short text of a socket error ("connection refused").
func ErrnoText(err error) string {
	var en unix.Errno
	if errors.As(err, &en) {
		return en.Error()
	}
	return err.Error()
}

// Receiver reads with recvmsg and extracts the SO_TIMESTAMPNS control
// message. The zero value is ready to use. Owned by one goroutine (a loop);
// it allocates nothing per call.
type Receiver struct {
	msg unix.Msghdr
	iov unix.Iovec
	oob [8]uint64 // 64 bytes, 8-byte aligned for the cmsg headers
}

// Recv reads into buf (not empty) from fd. ts is the kernel receive time in
// Unix ns of the data, or 0 when no timestamp came with it.
func (r *Receiver) Recv(fd int, buf []byte) (n int, ts int64, err error) {
	r.iov.Base = &buf[0]
	r.iov.SetLen(len(buf))
	r.msg.Iov = &r.iov
	r.msg.SetIovlen(1)
	r.msg.Control = (*byte)(unsafe.Pointer(&r.oob[0]))
	r.msg.SetControllen(len(r.oob) * 8)
	r.msg.Flags = 0
	r0, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&r.msg)), 0)
	if e != 0 {
		return 0, 0, e
	}
	n = int(r0)
	if n > 0 {
		ctl := unsafe.Slice((*byte)(unsafe.Pointer(&r.oob[0])), len(r.oob)*8)
		ts = timestampNS(ctl[:r.msg.Controllen])
	}
	return n, ts, nil
}

// timestampNS returns the SCM_TIMESTAMPNS time in ctl (a control buffer
// starting on an 8-byte boundary) in Unix ns, or 0.
func timestampNS(ctl []byte) int64 {
	hdr := unix.CmsgLen(0)
	for len(ctl) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(ctl) {
			return 0
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_TIMESTAMPNS && l >= hdr+int(unsafe.Sizeof(unix.Timespec{})) {
			ts := (*unix.Timespec)(unsafe.Pointer(&ctl[hdr]))
			return ts.Nano()
		}
		next := unix.CmsgSpace(l - hdr)
		if next > len(ctl) {
			return 0
		}
		ctl = ctl[next:]
	}
	return 0
}
