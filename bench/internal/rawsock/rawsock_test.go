//go:build linux

package rawsock

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// cmsg returns a control buffer with one message of the given level and
// type carrying data, padded like the kernel does.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func timespec(sec, nsec int64) []byte {
	b := make([]byte, 16)
	binary.NativeEndian.PutUint64(b, uint64(sec))
	binary.NativeEndian.PutUint64(b[8:], uint64(nsec))
	return b
}

func TestTimestampNS_Good(t *testing.T) {
	ts := cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, timespec(1700000000, 123))
	require.Equal(t, int64(1700000000_000000123), timestampNS(ts))
	// After another control message.
	other := cmsg(unix.SOL_SOCKET, unix.SCM_RIGHTS, []byte{1, 2, 3, 4})
	require.Equal(t, int64(1700000000_000000123), timestampNS(append(other, ts...)))
}

func TestTimestampNS_Bad(t *testing.T) {
	require.Zero(t, timestampNS(nil))
	require.Zero(t, timestampNS(cmsg(unix.SOL_SOCKET, unix.SCM_RIGHTS, []byte{1, 2, 3, 4})))
	// Too short for a timespec.
	require.Zero(t, timestampNS(cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, []byte{1, 2, 3, 4})))
	// A length beyond the buffer, and one under the header size.
	b := cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, timespec(1, 1))
	(*unix.Cmsghdr)(unsafe.Pointer(&b[0])).SetLen(len(b) + 8)
	require.Zero(t, timestampNS(b))
	(*unix.Cmsghdr)(unsafe.Pointer(&b[0])).SetLen(4)
	require.Zero(t, timestampNS(b))
}

func TestErrnoText_Good(t *testing.T) {
	require.Equal(t, "connection refused", ErrnoText(unix.ECONNREFUSED))
	require.Equal(t, "connection refused", ErrnoText(&net.OpError{Op: "dial", Err: unix.ECONNREFUSED}))
	require.Equal(t, "boom", ErrnoText(errors.New("boom")))
}

// TestOpen_Good connects a socket bound to 127.0.0.2 and receives a
// kernel-stamped line on it.
func TestOpen_Good(t *testing.T) {
	keeper := OpenStampKeeper()
	t.Cleanup(func() { CloseStampKeeper(keeper) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()

	fd, err := Open(unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 2}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = unix.Close(fd) })
	linger, err := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER)
	require.NoError(t, err)
	require.Equal(t, unix.Linger{Onoff: 1, Linger: 0}, *linger)
	dst := &unix.SockaddrInet4{Port: ln.Addr().(*net.TCPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}
	if err := unix.Connect(fd, dst); err != nil {
		require.ErrorIs(t, err, unix.EINPROGRESS)
	}
	var srv net.Conn
	select {
	case srv = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
	}
	defer srv.Close()
	require.Equal(t, "127.0.0.2", srv.RemoteAddr().(*net.TCPAddr).IP.String())

	before := time.Now().UnixNano()
	_, err = srv.Write([]byte("hello\n"))
	require.NoError(t, err)
	var r Receiver
	buf := make([]byte, 64)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, ts, err := r.Recv(fd, buf)
		if errors.Is(err, unix.EAGAIN) && time.Now().Before(deadline) {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			_, _ = unix.Poll(pfd, 100)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, "hello\n", string(buf[:n]))
		require.GreaterOrEqual(t, ts, before-int64(time.Second))
		require.LessOrEqual(t, ts, time.Now().UnixNano())
		break
	}
}

func TestOpen_Bad(t *testing.T) {
	// 192.0.2.1 (TEST-NET-1) is not a local address: bind fails.
	_, err := Open(unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{192, 0, 2, 1}})
	require.Error(t, err)
	require.Contains(t, err.Error(), "bind 192.0.2.1")
}
