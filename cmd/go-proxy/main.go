// Command go-proxy is a stratum mining proxy for large farms: it collapses
// thousands of miners onto a few pool connections and splits the nonce
// space so no two miners repeat work.
//
//	go-proxy -c config.json        run the proxy (SIGHUP reopens the log files)
//	go-proxy --check-config -c F   validate a configuration and exit
//	go-proxy demo                  mock pool + proxy + simulated miners
//	go-proxy version               print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
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
		case "version", "--version", "-V":
			fmt.Fprintln(stdout, "go-proxy", reactor.Version)
			return exitOK
		}
	}
	fs := flag.NewFlagSet("go-proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "config.json", "configuration file")
	fs.StringVar(path, "config", "config.json", "configuration file (same as -c)")
	check := fs.Bool("check-config", false, "validate the configuration and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go-proxy [-c config.json] [--check-config]\n       go-proxy demo [flags]\n       go-proxy version\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK // -h asked for the usage, which fs printed
		}
		return exitConfig
	}
	cfg, ignored, err := reactor.LoadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, "go-proxy:", err)
		return exitConfig
	}
	log, level := newLogger(stderr, cfg.LogLevel)
	for _, k := range ignored {
		log.Warn("config: xmrig-proxy key ignored", "key", k)
	}
	if *check {
		fmt.Fprintf(stdout, "%s: configuration OK (%d pools, %d binds, mode %s)\n", *path, len(cfg.Pools), len(cfg.Bind), cfg.Mode)
		return exitOK
	}
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
	return serve(ctx, cfg, log, serveOptions{path: *path, hup: hup, level: level})
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
