package segrelay

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sink accepts one connection and reports every read it makes (sizes) and
// the bytes.
func sink(t *testing.T) (addr string, reads chan []byte) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	reads = make(chan []byte, 1<<16)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1<<16)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				reads <- append([]byte(nil), buf[:n]...)
			}
			if err != nil {
				close(reads)
				return
			}
		}
	}()
	return ln.Addr().String(), reads
}

func collect(t *testing.T, reads chan []byte) (all []byte, count int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case b, ok := <-reads:
			if !ok {
				return all, count
			}
			all = append(all, b...)
			count++
		case <-timeout:
			t.Fatal("relay did not deliver and close")
		}
	}
}

func TestRelay_Modes_Good(t *testing.T) {
	payload := []byte(strings.Repeat(`{"id":1,"method":"submit","params":{"nonce":"000000ff"}}`+"\n", 40))
	for _, mode := range []Mode{Mixed, Random, ByteByByte, Segments, Coalesce, Pass} {
		t.Run(mode.String(), func(t *testing.T) {
			addr, reads := sink(t)
			r, err := Start(addr, Config{Mode: mode, Seed: 7, MaxPause: 200 * time.Microsecond})
			require.NoError(t, err)
			defer r.Close()
			c, err := net.Dial("tcp", r.Addr())
			require.NoError(t, err)
			_, err = c.Write(payload)
			require.NoError(t, err)
			require.NoError(t, c.(*net.TCPConn).CloseWrite())
			got, _ := collect(t, reads)
			require.Equal(t, payload, got, "bytes and their order survive")
			if mode == Random || mode == ByteByByte || mode == Segments {
				require.Greater(t, r.Pieces(), int64(1), "the stream was cut")
			}
			_ = c.Close()
		})
	}
}

func TestRelay_SegmentSize_Good(t *testing.T) {
	addr, reads := sink(t)
	r, err := Start(addr, Config{Mode: Segments, Seed: 1, MaxPause: time.Millisecond})
	require.NoError(t, err)
	defer r.Close()
	c, err := net.Dial("tcp", r.Addr())
	require.NoError(t, err)
	long := bytes.Repeat([]byte("a"), 9500)
	_, err = c.Write(append(long, '\n'))
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	got, _ := collect(t, reads)
	require.Len(t, got, 9501)
	require.GreaterOrEqual(t, r.Pieces(), int64(7), "9.5 KB go out as ≥ 7 segments")
	_ = c.Close()
}

// TestRelay_Close_Good: a target that closes after answering is seen by
// the client as the answer, then EOF.
func TestRelay_Close_Good(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = c.Write([]byte("bye\n"))
			_ = c.Close()
		}
	}()
	r, err := Start(ln.Addr().String(), Config{Seed: 3})
	require.NoError(t, err)
	defer r.Close()
	c, err := net.Dial("tcp", r.Addr())
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, "bye\n", string(got))
}

// TestRelay_DialFail_Bad: no target means the client is closed at once
// (the reset may even beat the client's own connect).
func TestRelay_DialFail_Bad(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	r, err := Start(addr, Config{})
	require.NoError(t, err)
	defer r.Close()
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "closed, not left open")
}

func TestParseMode(t *testing.T) {
	for m := Mixed; m <= Pass; m++ {
		got, err := ParseMode(m.String())
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
	_, err := ParseMode("nope")
	require.Error(t, err)
}
