// Command go-proxy is a stratum mining proxy for large farms: it collapses
// thousands of miners onto a few pool connections and splits the nonce
// space so no two miners repeat work.
//
//	go-proxy -c config.json              run the proxy (SIGHUP reopens the log files and reloads the file)
//	go-proxy -o POOL:PORT -u WALLET      the same from xmrig-proxy's options alone
//	go-proxy --check-config -c F         validate a configuration and exit
//	go-proxy demo                        mock pool + proxy + simulated miners
//	go-proxy version                     print the version, commit and build date
//
// The options are xmrig-proxy's (see cmdline.go); they override the
// keys of the -c file.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"forge.lthn.ai/core/go-proxy/internal/logsafe"
	"forge.lthn.ai/core/go-proxy/reactor"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the proxy could not start or stopped on its own
	exitConfig = 2 // bad command line or configuration
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without os.Exit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "demo":
			return runDemo(args[1:], stdout, stderr)
		case "version":
			printVersion(stdout)
			return exitOK
		}
	}
	cl, err := parseCmdline(args)
	if err != nil {
		fmt.Fprintln(stderr, "go-proxy:", err)
		return exitConfig
	}
	switch {
	case cl.help:
		printUsage(stdout)
		return exitOK
	case cl.version:
		printVersion(stdout)
		return exitOK
	case cl.background:
		fmt.Fprintln(stderr, "go-proxy: -B/--background is not supported: go-proxy stays in the foreground and logs to stderr; run it under systemd, a container runtime or another supervisor (and use -l/--log-file or -S/--syslog for a log)")
		return exitConfig
	}
	cfg, ignored, path, parse, err := cl.load()
	if err != nil {
		fmt.Fprintln(stderr, "go-proxy:", err)
		return exitConfig
	}
	if cl.check {
		return checkConfig(cfg, ignored, path, stdout, stderr)
	}
	logs, err := newMainLog(stderr, cfg, nil)
	if err != nil {
		fmt.Fprintln(stderr, "go-proxy:", err)
		return exitFailed
	}
	defer logs.close()
	warnIgnored(logs.log, ignored)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts the shutdown; from then on the signals have
	// their default action again, so a second Ctrl-C ends the process at
	// once instead of waiting for the shutdown to finish.
	go func() {
		<-ctx.Done()
		stop()
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	drain := make(chan os.Signal, 1)
	signal.Notify(drain, syscall.SIGUSR1)
	defer signal.Stop(drain)
	return serve(ctx, cfg, logs.log, serveOptions{path: path, parse: parse, hup: hup, drain: drain, level: logs.level, mainLog: logs})
}

// warnIgnored names, in one warning, the xmrig-proxy settings go-proxy
// accepted without using.
func warnIgnored(log *slog.Logger, ignored []string) {
	if len(ignored) > 0 {
		log.Warn("config: xmrig-proxy settings accepted but not used by go-proxy", "keys", strings.Join(ignored, ", "))
	}
}

// checkConfig is --check-config: the configuration parsed and validated,
// then what start would trip over (certificate, log files, account store,
// open-files limit, syslog).
func checkConfig(cfg *reactor.Config, ignored []string, path string, stdout, stderr io.Writer) int {
	log, _ := newLogger(stderr, cfg.LogLevel)
	warnIgnored(log, ignored)
	err := errors.Join(cfg.Preflight(), checkSyslog(cfg))
	if path == "" {
		path = "command line"
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "go-proxy: %s: %s\n", path, line)
		}
		return exitConfig
	}
	fmt.Fprintf(stdout, "%s: configuration OK (%d pools, %d binds, mode %s)\n", path, len(cfg.Pools), len(cfg.Bind), cfg.Mode)
	return exitOK
}

// newLogger returns the process logger at the given log-level, and the
// level variable a reload sets. Every line is escaped by logsafe.
func newLogger(w io.Writer, level string) (*slog.Logger, *slog.LevelVar) {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	lv := new(slog.LevelVar)
	lv.Set(l)
	return slog.New(logsafe.NewHandler(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}))), lv
}
