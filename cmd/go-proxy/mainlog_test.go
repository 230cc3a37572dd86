package main

import (
	"context"
	"errors"
	"fmt"
	"log/syslog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/reactor"
)

// listenSyslog is a stand-in syslog daemon: a unixgram socket in a temp
// directory, and a dialer for it.
func listenSyslog(t *testing.T) (*net.UnixConn, func() (syslogSink, error)) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn, func() (syslogSink, error) {
		return syslog.Dial("unixgram", sock, syslog.LOG_INFO|syslog.LOG_DAEMON, syslogTag)
	}
}

func readDatagram(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(waitTimeout)))
	n, err := conn.Read(buf)
	require.NoError(t, err)
	return string(buf[:n])
}

// "syslog": true sends every record to the local syslog socket, at the
// record's severity (facility daemon), tagged go-proxy, without the time
// field; stderr keeps its copy.
func TestMainLog_Syslog_Good(t *testing.T) {
	conn, dial := listenSyslog(t)
	var stderr testutil.SyncBuffer
	l, err := newMainLog(&stderr, &reactor.Config{LogLevel: "debug", Syslog: true}, dial)
	require.NoError(t, err)
	defer l.close()
	l.log.Debug("checking", "n", 1)
	l.log.Info("proxy started", "binds", 2)
	l.log.Warn("pool down", "pool", "pool.example.com:3333")
	l.log.Error("cannot start")
	for _, want := range []struct{ prio, msg string }{
		{"<31>", "level=DEBUG msg=checking n=1"},
		{"<30>", `level=INFO msg="proxy started" binds=2`},
		{"<28>", `level=WARN msg="pool down" pool=pool.example.com:3333`},
		{"<27>", `level=ERROR msg="cannot start"`},
	} {
		got := readDatagram(t, conn)
		require.True(t, strings.HasPrefix(got, want.prio), got)
		require.Contains(t, got, " go-proxy[")
		require.Contains(t, got, "]: "+want.msg, got)
		require.NotContains(t, got, "time=")
	}
	require.Contains(t, stderr.String(), `msg="pool down"`)
	require.Contains(t, stderr.String(), "time=")

	// A reload that turns syslog off closes the connection.
	require.NoError(t, l.apply(&reactor.Config{LogLevel: "debug"}))
	l.log.Warn("not sent")
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	_, err = conn.Read(make([]byte, 100))
	require.Error(t, err, "nothing more arrives")
}

func TestMainLog_Syslog_Bad(t *testing.T) {
	var stderr testutil.SyncBuffer
	_, err := newMainLog(&stderr, &reactor.Config{LogLevel: "info", Syslog: true}, func() (syslogSink, error) {
		return nil, errors.New("no such socket")
	})
	require.ErrorContains(t, err, "syslog: cannot reach the local syslog daemon: no such socket")
	_, err = newMainLog(&stderr, &reactor.Config{LogLevel: "info", LogFile: filepath.Join(t.TempDir(), "missing", "x.log")}, nil)
	require.ErrorContains(t, err, "log-file:")
}

// "log-file" gets every line stderr gets; reopen (SIGHUP) starts a new
// file after a rotation; a reload moves or closes it.
func TestMainLog_File_Good(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "proxy.log")
	var stderr testutil.SyncBuffer
	l, err := newMainLog(&stderr, &reactor.Config{LogLevel: "info", LogFile: path}, nil)
	require.NoError(t, err)
	defer l.close()
	l.log.Info("first")
	l.log.Debug("hidden at info")
	require.NoError(t, os.Rename(path, path+".1"))
	require.NoError(t, l.reopen())
	l.log.Info("second")
	require.Equal(t, []string{"first"}, msgs(fileLines(path+".1")))
	require.Equal(t, []string{"second"}, msgs(fileLines(path)))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Zero(t, fi.Mode().Perm()&^0o640)

	moved := filepath.Join(dir, "moved.log")
	require.NoError(t, l.apply(&reactor.Config{LogLevel: "info", LogFile: moved}))
	l.log.Info("third")
	require.Equal(t, []string{"third"}, msgs(fileLines(moved)))
	require.NoError(t, l.apply(&reactor.Config{LogLevel: "info"}))
	l.log.Info("fourth")
	require.Len(t, fileLines(moved), 1, "closed")
	require.Equal(t, 4, strings.Count(stderr.String(), "level=INFO"), "stderr has them all")
	// A path that cannot be opened keeps the current file.
	require.NoError(t, l.apply(&reactor.Config{LogLevel: "info", LogFile: moved}))
	require.Error(t, l.apply(&reactor.Config{LogLevel: "info", LogFile: filepath.Join(dir, "missing", "x.log")}))
	l.log.Info("fifth")
	require.Equal(t, []string{"third", "fifth"}, msgs(fileLines(moved)))
}

// msgs extracts msg= from slog text lines.
func msgs(lines []string) []string {
	var out []string
	for _, l := range lines {
		_, rest, _ := strings.Cut(l, "msg=")
		m, _, _ := strings.Cut(rest, " ")
		out = append(out, strings.Trim(m, `"`))
	}
	return out
}

// serve reopens the main log file on SIGHUP, and print-time logs status
// lines.
func TestServe_MainLog_Good(t *testing.T) {
	dir := t.TempDir()
	pool := startTestPool(t, 1)
	path := filepath.Join(dir, "proxy.log")
	cfg, _, err := reactor.ParseConfig([]byte(fmt.Sprintf(`{"bind":[{"host":"127.0.0.1","port":%d}],"event-loops":1,
		"pools":[{"url":%q}],"log-file":%q,"print-time":1}`, testPort(t), pool.Addr(), path)))
	require.NoError(t, err)
	var stderr testutil.SyncBuffer
	ml, err := newMainLog(&stderr, cfg, nil)
	require.NoError(t, err)
	defer ml.close()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	hup := make(chan os.Signal, 1)
	ready := make(chan struct{})
	exit := make(chan int, 1)
	go func() {
		exit <- serve(ctx, cfg, ml.log, serveOptions{hup: hup, level: ml.level, mainLog: ml, ready: func(net.Addr) { close(ready) }})
	}()
	<-ready
	testutil.Eventually(t, func() bool { return strings.Contains(strings.Join(fileLines(path), "\n"), "msg=status") }, "a status line every second")
	require.NoError(t, os.Rename(path, path+".1"))
	hup <- syscall.SIGHUP
	testutil.Eventually(t, func() bool {
		return strings.Contains(strings.Join(fileLines(path), "\n"), "msg=\"log reopened\"")
	}, "the log reopened at its path")
	stop()
	require.Equal(t, exitOK, <-exit)
	status := ""
	for _, l := range fileLines(path + ".1") {
		if strings.Contains(l, "msg=status") {
			status = l
		}
	}
	require.Contains(t, status, "miners=0")
	require.Contains(t, status, "upstreams=")
	require.Contains(t, status, `hashrate_60s="0 H/s"`)
}
