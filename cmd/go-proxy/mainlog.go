package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"sync"

	"forge.lthn.ai/core/go-proxy/reactor"
)

// mainLog is the process log (slog text lines): always on stderr, and as
// the configuration says also appended to log-file and sent to the local
// syslog. A reload switches the file and syslog on, off or elsewhere;
// SIGHUP reopens the file at its path (log rotation). Safe for concurrent
// use: each record is written by one Write call, under one lock.
type mainLog struct {
	log   *slog.Logger
	level *slog.LevelVar
	// dial connects to the syslog daemon (nil: the local one, /dev/log).
	dial func() (syslogSink, error)

	mu      sync.Mutex
	stderr  io.Writer
	file    *os.File
	path    string
	sys     syslogSink
	failing bool // the last write to the file failed (reported once)
}

// syslogSink is what the log needs of a syslog connection (a
// *syslog.Writer, or a test's).
type syslogSink interface {
	Debug(string) error
	Info(string) error
	Warning(string) error
	Err(string) error
	Close() error
}

// syslogTag is the program name syslog records carry.
const syslogTag = "go-proxy"

// dialLocalSyslog connects to the local syslog daemon through its socket
// (/dev/log, /var/run/syslog or /var/run/log).
func dialLocalSyslog() (syslogSink, error) {
	return syslog.New(syslog.LOG_INFO|syslog.LOG_DAEMON, syslogTag)
}

// newMainLog returns the process log for cfg (log-level, verbose,
// log-file, syslog). dial is nil outside tests.
func newMainLog(stderr io.Writer, cfg *reactor.Config, dial func() (syslogSink, error)) (*mainLog, error) {
	l := &mainLog{stderr: stderr, dial: dial, level: new(slog.LevelVar)}
	if l.dial == nil {
		l.dial = dialLocalSyslog
	}
	l.setLevel(cfg.LogLevel)
	l.log = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: l.level}))
	if err := l.apply(cfg); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// setLevel applies a log-level name (invalid names were refused by
// Validate).
func (l *mainLog) setLevel(name string) {
	var lv slog.Level
	if lv.UnmarshalText([]byte(name)) == nil {
		l.level.Set(lv)
	}
}

// apply opens, moves or closes the log file and the syslog connection to
// match cfg. What cannot be opened keeps its current state; the errors are
// returned.
func (l *mainLog) apply(cfg *reactor.Config) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	if cfg.LogFile != l.path {
		var f *os.File
		var err error
		if cfg.LogFile != "" {
			f, err = openAppend(cfg.LogFile)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("log-file: %w", err))
		} else {
			if l.file != nil {
				_ = l.file.Close()
			}
			l.file, l.path = f, cfg.LogFile
		}
	}
	switch {
	case cfg.Syslog && l.sys == nil:
		s, err := l.dial()
		if err != nil {
			errs = append(errs, fmt.Errorf("syslog: cannot reach the local syslog daemon: %w", err))
		} else {
			l.sys = s
		}
	case !cfg.Syslog && l.sys != nil:
		_ = l.sys.Close()
		l.sys = nil
	}
	return errors.Join(errs...)
}

// openAppend opens a log file for appending, creating it with mode 0640.
func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
}

// reopen reopens the log file at its path (after logrotate moved it).
func (l *mainLog) reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.path == "" {
		return nil
	}
	f, err := openAppend(l.path)
	if err != nil {
		return fmt.Errorf("log-file: reopen %s: %w", l.path, err)
	}
	if l.file != nil {
		_ = l.file.Close()
	}
	l.file = f
	return nil
}

// filePath returns the log file in use ("" = none).
func (l *mainLog) filePath() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.path
}

// close closes the file and the syslog connection; later records go to
// stderr only.
func (l *mainLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		_ = l.file.Close()
		l.file, l.path = nil, ""
	}
	if l.sys != nil {
		_ = l.sys.Close()
		l.sys = nil
	}
}

// Write takes one formatted record (a whole line) and copies it to every
// output. A failing file or syslog never stops the stderr copy.
func (l *mainLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.stderr.Write(p)
	if l.file != nil {
		_, ferr := l.file.Write(p)
		if ferr != nil && !l.failing {
			fmt.Fprintf(l.stderr, "go-proxy: log-file %s: %v (further errors are not reported until a write succeeds)\n", l.path, ferr)
		}
		l.failing = ferr != nil
	}
	if l.sys != nil {
		_ = toSyslog(l.sys, p)
	}
	return n, err
}

// toSyslog sends one text record to syslog at the severity of its level=
// field, without the time= field (syslog stamps its own).
func toSyslog(s syslogSink, line []byte) error {
	line = bytes.TrimRight(line, "\n")
	if bytes.HasPrefix(line, []byte("time=")) {
		if i := bytes.IndexByte(line, ' '); i >= 0 {
			line = line[i+1:]
		}
	}
	msg := string(line)
	switch {
	case bytes.HasPrefix(line, []byte("level=ERROR")):
		return s.Err(msg)
	case bytes.HasPrefix(line, []byte("level=WARN")):
		return s.Warning(msg)
	case bytes.HasPrefix(line, []byte("level=DEBUG")):
		return s.Debug(msg)
	}
	return s.Info(msg)
}

// checkSyslog is --check-config's look at syslog: the daemon is reachable.
func checkSyslog(cfg *reactor.Config) error {
	if !cfg.Syslog {
		return nil
	}
	s, err := dialLocalSyslog()
	if err != nil {
		return fmt.Errorf("syslog: cannot reach the local syslog daemon: %w", err)
	}
	return s.Close()
}
