package reactor

import (
	"context"
	"net"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
)

// A miner's gnet connection keeps no address values once it is open:
// the fields are found in gnet's connection type and cleared, while the
// miner still reports its own address (/1/miners, events).
func TestGnetSlim_FieldsFound_Good(t *testing.T) {
	pool := startPool(t, mockpool.Config{})
	p, addr := startProxyDirect(t, baseConfig(pool.Addr()))
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	local := nc.LocalAddr().(*net.TCPAddr).AddrPort()
	m := testminer.NewCN(t, nc)
	require.Zero(t, m.Login("WALLET").ErrCode())

	s := p.shardList()[0]
	type seen struct {
		local, remote net.Addr
		found, fields bool
	}
	// On the loop, which ran OnOpen (and so the field lookup).
	got, err := onLoop(context.Background(), s, func() seen {
		for _, mn := range s.miners {
			if mn != nil && mn.conn.g != nil {
				return seen{local: mn.conn.g.LocalAddr(), remote: mn.conn.g.RemoteAddr(), found: true, fields: gnetFields.ok}
			}
		}
		return seen{}
	})
	require.NoError(t, err)
	require.True(t, got.found)
	require.True(t, got.fields, "gnet's conn has localAddr, remoteAddr (net.Addr) and remote (unix.Sockaddr)")
	require.Nil(t, got.local)
	require.Nil(t, got.remote)

	views, err := p.Miners(context.Background())
	require.NoError(t, err)
	require.Len(t, views, 1)
	require.Equal(t, local, views[0].Addr, "the miner keeps its own address")
}

// A type without the fields is left alone.
func TestGnetSlim_OtherType_Bad(t *testing.T) {
	require.False(t, findGnetAddrFields(nil).ok)
	type conn struct{ localAddr net.Addr }
	require.False(t, findGnetAddrFields(reflect.TypeOf(&conn{})).ok)
	type wrong struct {
		localAddr, remoteAddr net.Addr
		remote                string
	}
	require.False(t, findGnetAddrFields(reflect.TypeOf(&wrong{})).ok)
}
