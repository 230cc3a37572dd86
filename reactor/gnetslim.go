package reactor

import (
	"net"
	"reflect"
	"sync"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Per-connection addresses gnet keeps and go-proxy never reads.
//
// EventLoop.Enroll builds gnet's connection from the *net.TCPConn the
// acceptor hands it and keeps three address values from it for the life
// of the connection: the local and the remote *net.TCPAddr (48 bytes
// each, plus the 32-byte socket address each one's IP points into) and a
// unix.Sockaddr of the peer (32 bytes) — 192 bytes per miner, more than
// a sixth of its heap. gnet v2.10 reads them only to answer
// Conn.LocalAddr and Conn.RemoteAddr, to send UDP datagrams and to
// return IPv6 zone buffers to a pool on close; go-proxy keeps each
// miner's address in the miner (minerAddr, which the PROXY protocol
// header may replace) and never asks gnet for it, for miners (pool
// connections keep theirs). gnet has no option to
// leave them out, so dropGnetAddrs clears the three fields in place.
//
// The fields are found by name and type (reflect) on the first miner
// connection, and written through their offsets; if gnet ever renames or
// retypes one of them, nothing is cleared (the miner
// then costs 192 bytes more and works the same), and
// TestGnetSlim_FieldsFound_Good fails so the change is noticed.

// gnetAddrFields are the offsets of the three fields in gnet's
// connection type; ok is false when they were not all found.
type gnetAddrFields struct {
	local, remoteAddr, remote uintptr
	typ                       reflect.Type // *gnet.conn
	ok                        bool
}

var (
	gnetFieldsOnce sync.Once
	gnetFields     gnetAddrFields
)

// gnetAddrsFor returns the field offsets for c's type. gnet's connection
// type is unexported, so it is learned from the first connection.
func gnetAddrsFor(c gnet.Conn) gnetAddrFields {
	gnetFieldsOnce.Do(func() { gnetFields = findGnetAddrFields(reflect.TypeOf(c)) })
	f := gnetFields
	if !f.ok || reflect.TypeOf(c) != f.typ {
		return gnetAddrFields{}
	}
	return f
}

// findGnetAddrFields locates localAddr, remoteAddr (net.Addr) and remote
// (unix.Sockaddr) in the struct t points to.
func findGnetAddrFields(t reflect.Type) gnetAddrFields {
	var f gnetAddrFields
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return f
	}
	st := t.Elem()
	addrT := reflect.TypeFor[net.Addr]()
	saT := reflect.TypeFor[unix.Sockaddr]()
	local, ok1 := st.FieldByName("localAddr")
	remoteAddr, ok2 := st.FieldByName("remoteAddr")
	remote, ok3 := st.FieldByName("remote")
	if !ok1 || !ok2 || !ok3 || local.Type != addrT || remoteAddr.Type != addrT || remote.Type != saT {
		return f
	}
	return gnetAddrFields{local: local.Offset, remoteAddr: remoteAddr.Offset, remote: remote.Offset, typ: t, ok: true}
}

// dropGnetAddrs clears the address values gnet keeps for c (loop-only,
// from OnOpen: gnet touches the fields only on the loop, and the
// enrolling goroutine is done with them once OnOpen runs). Only
// connections of gnet's own type are touched.
func dropGnetAddrs(c gnet.Conn) {
	f := gnetAddrsFor(c)
	if !f.ok {
		return
	}
	p := reflect.ValueOf(c).UnsafePointer()
	*(*net.Addr)(unsafe.Add(p, f.local)) = nil
	*(*net.Addr)(unsafe.Add(p, f.remoteAddr)) = nil
	*(*unix.Sockaddr)(unsafe.Add(p, f.remote)) = nil
}
