package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"forge.lthn.ai/core/go-proxy/httpapi"
	"forge.lthn.ai/core/go-proxy/internal/logsafe"
	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/registry"
)

// serveOptions are serve's inputs besides the configuration.
type serveOptions struct {
	// path is the configuration file, watched when the config says
	// "watch": true ("" = nothing to watch).
	path string
	// parse turns the file's contents into a configuration on a change
	// (command-line options on top; nil = the file alone).
	parse func(data []byte) (*reactor.Config, []string, error)
	// mainLog, when set, is the process log's file and syslog outputs:
	// reopened on SIGHUP and moved by reloads.
	mainLog *mainLog
	// watchEvery is the watcher's polling interval (default 1 s).
	watchEvery time.Duration
	// hup delivers SIGHUP: reopen the log files and, with a path, reload
	// the configuration file.
	hup <-chan os.Signal
	// drain delivers SIGUSR1: release the miners gradually (over
	// drainOver) so the instance can be stopped without dropping them all
	// at once (see reactor.Proxy.Drain).
	drain <-chan os.Signal
	// drainOver is the period a drain spreads the miners over (default
	// drainPeriod).
	drainOver time.Duration
	// ready, when set, is called once the proxy and the API are up, with
	// the API's address (nil without the API).
	ready func(api net.Addr)
	// level, when set, is the level of serve's logger: every applied
	// reload sets it to the new log-level.
	level *slog.LevelVar
	// expiryEvery is how often idle accounts are deleted (default
	// expiryEvery, an hour).
	expiryEvery time.Duration
}

// serve runs the proxy, its HTTP API, log files, config watcher and (in
// SV1 passthrough mode) account store until ctx ends (a signal) or the
// engine fails, then shuts them down in order: watcher, HTTP API, proxy
// (which waits for submits in flight), account store, logs.
func serve(ctx context.Context, cfg *reactor.Config, log *slog.Logger, opts serveOptions) int {
	log = logsafe.Logger(log) // escaped lines, whatever logger the caller gave
	logs := &logSwitch{log: log}
	if err := logs.apply(cfg); err != nil {
		log.Error("cannot open a log file", "err", err)
		logs.close()
		return exitFailed
	}
	defer logs.close()
	accts, err := openAccounts(cfg, log)
	if err != nil {
		key, where := storeLocation(&cfg.Registry)
		log.Error("cannot open the account store", key, where, "err", err)
		return exitFailed
	}
	defer accts.close() // on the early returns; after stopProxy otherwise
	popts := append([]reactor.Option{reactor.WithLogger(log), reactor.WithHooks(logs.hooks())}, accts.proxyOptions()...)
	p, err := reactor.New(cfg, popts...)
	if err != nil {
		log.Error("configuration rejected", "err", err)
		return exitConfig
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = p.Start(startCtx)
	cancel()
	if err != nil {
		log.Error("cannot start", "err", err)
		return exitFailed
	}
	ctl := &controller{Proxy: p, logs: logs, log: log, level: opts.level, mainLog: opts.mainLog}
	accts.startExpiry(p.Miners, opts.expiryEvery)
	warnNoRegistration(p.Config(), log)

	var api *httpapi.Server
	var apiAddr net.Addr
	if p.Config().HTTP.Enabled {
		api = httpapi.NewServer(ctl, httpapi.Options{Logger: log, Accounts: accts.api()})
		if err := api.Start(); err != nil {
			log.Error("cannot start the HTTP API", "err", err)
			stopProxy(p, log)
			return exitFailed
		}
		apiAddr = api.Addr()
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	var watching sync.WaitGroup
	if cfg.Watch && opts.path != "" {
		watching.Add(1)
		go func() {
			defer watching.Done()
			reactor.WatchConfigWith(watchCtx, opts.path, opts.watchEvery, configParser(opts), ctl.applyFile)
		}()
		log.Info("watching the configuration file", "path", opts.path)
	}
	if opts.ready != nil {
		opts.ready(apiAddr)
	}
	watching.Add(1)
	go func() {
		defer watching.Done()
		logStatus(watchCtx, p, log)
	}()

	code := exitOK
	var draining atomic.Bool
wait:
	for {
		select {
		case <-opts.drain:
			if !draining.CompareAndSwap(false, true) {
				log.Info("SIGUSR1: already draining")
				continue
			}
			over := cmp.Or(opts.drainOver, drainPeriod)
			log.Info("SIGUSR1: draining: the miners are asked to reconnect (stratum v1) or closed (CryptoNote), spread over the period; take this instance out of the balancer first",
				"miners", p.Summary().MinersNow, "period", over.String())
			watching.Add(1)
			go func() {
				defer watching.Done()
				defer draining.Store(false)
				err := p.Drain(watchCtx, over)
				switch {
				case watchCtx.Err() != nil:
				case err != nil:
					log.Warn("drain stopped", "err", err)
				default:
					log.Info("drained: no miner connected; this instance can be stopped")
				}
			}()
		case <-ctx.Done():
			log.Info("stopping: waiting up to 5 s for submits in flight")
			break wait
		case <-opts.hup:
			logs.reopen()
			if opts.mainLog != nil {
				if err := opts.mainLog.reopen(); err != nil {
					log.Error("reopening the log file", "err", err)
				} else if path := opts.mainLog.filePath(); path != "" {
					log.Info("log reopened", "path", path)
				}
			}
			if opts.path != "" {
				// systemctl reload: the file is read and applied like a
				// change seen by the watcher (or PUT /1/config), with the
				// command-line options on top.
				log.Info("SIGHUP: log files reopened, reloading the configuration file", "path", opts.path)
				data, err := os.ReadFile(opts.path)
				if err != nil {
					ctl.applyFile(nil, nil, fmt.Errorf("config: %w", err))
				} else {
					next, ignored, err := configParser(opts)(data)
					ctl.applyFile(next, ignored, err)
				}
			}
		case <-p.Done():
			log.Error("event engine stopped", "err", p.Err())
			code = exitFailed
			break wait
		}
	}
	stopWatch()
	watching.Wait()
	if cfg.Watch && opts.path != "" {
		log.Info("config watcher stopped")
	}
	if api != nil {
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := api.Shutdown(shutCtx); err != nil {
			log.Warn("HTTP API shutdown", "err", err)
		}
		cancel()
		log.Info("HTTP API stopped")
	}
	stopProxy(p, log)
	log.Info("proxy stopped")
	accts.close()
	logs.close()
	log.Info("stopped")
	return code
}

// drainPeriod is how long a drain (SIGUSR1) spreads the miners of a full
// instance over: a balancer's other instances take about 300 reconnecting
// miners a second from one with 18,000.
const drainPeriod = time.Minute

// logStatus logs a status line every print-time seconds (xmrig-proxy's
// periodic speed line) until ctx ends; print-time 0 prints nothing. It
// reads print-time each second, so a reload applies at once.
func logStatus(ctx context.Context, p *reactor.Proxy, log *slog.Logger) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	elapsed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		every := p.Config().PrintTime
		if elapsed++; every <= 0 || elapsed < every {
			continue
		}
		elapsed = 0
		s := p.Summary()
		log.Info("status", "miners", s.MinersNow, "workers", s.Workers,
			"upstreams", fmt.Sprintf("%d/%d", s.Upstreams.Active, s.Upstreams.Total),
			"accepted", s.Counters.Accepted, "rejected", s.Counters.Rejected, "invalid", s.Counters.Invalid,
			"hashrate_60s", fmt.Sprintf("%.0f H/s", s.Hashrate[0]), "hashrate_10m", fmt.Sprintf("%.0f H/s", s.Hashrate[1]),
			"hashrate_1h", fmt.Sprintf("%.0f H/s", s.Hashrate[2]))
	}
}

func stopProxy(p *reactor.Proxy, log *slog.Logger) {
	stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := p.Stop(stopCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("stop", "err", err)
	}
}

// controller is the proxy as the HTTP API and the config watcher see it:
// a reload also moves the log files and reports settings that need a
// restart. Safe for concurrent use; reloads run one at a time.
type controller struct {
	*reactor.Proxy
	logs    *logSwitch
	log     *slog.Logger
	level   *slog.LevelVar // nil: the log level is not serve's to change
	mainLog *mainLog       // nil: log-file and syslog are not serve's to change
	mu      sync.Mutex
}

// Reload applies cfg to the proxy (see reactor.Proxy.Reload, which keeps
// the running http section while the API's enabled/host/port would
// change), then to the log files and the log level.
func (c *controller) Reload(cfg *reactor.Config) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.Proxy.Config()
	if mode := cmp.Or(cfg.SV1Mode, "aggregate"); mode != old.SV1Mode {
		return nil, fmt.Errorf("sv1-mode %q → %q needs a restart (the account store is opened at start); keeping the running configuration", old.SV1Mode, mode)
	}
	var mine []string
	warnings, err := c.Proxy.Reload(cfg) // keeps the running http section when the API would move
	if err != nil {
		return warnings, err
	}
	cur := c.Proxy.Config()
	if c.level != nil {
		var l slog.Level
		if l.UnmarshalText([]byte(cur.LogLevel)) == nil {
			c.level.Set(l)
		}
	}
	if err := c.logs.apply(cur); err != nil {
		mine = append(mine, "log files: "+err.Error()+"; keeping the current ones")
	}
	if c.mainLog != nil {
		if err := c.mainLog.apply(cur); err != nil {
			mine = append(mine, err.Error()+"; keeping the current log outputs")
		}
	}
	if cur.Watch != old.Watch {
		mine = append(mine, "watch changes need a restart")
	}
	if cur.Registry.Path != old.Registry.Path || !sameStoreURL(cur.Registry.URL, old.Registry.URL) || cur.Registry.Expire != old.Registry.Expire {
		mine = append(mine, "registry.path, registry.url and registry.expire-days changes need a restart (registry.keep applies now)")
	}
	for _, w := range mine {
		c.log.Warn("reload: " + w)
	}
	return append(warnings, mine...), nil
}

// configParser is how a changed configuration file is read: opts.parse
// (the command-line options on top), or the file alone.
func configParser(opts serveOptions) func(data []byte) (*reactor.Config, []string, error) {
	if opts.parse != nil {
		return opts.parse
	}
	return func(data []byte) (*reactor.Config, []string, error) {
		return reactor.ParseConfigFile(opts.path, data, nil)
	}
}

// applyFile is the config watcher's callback.
func (c *controller) applyFile(cfg *reactor.Config, ignored []string, err error) {
	if err != nil {
		c.log.Error("configuration file rejected; keeping the running configuration", "err", err)
		return
	}
	warnIgnored(c.log, ignored)
	if _, err := c.Reload(cfg); err != nil {
		c.log.Error("configuration reload rejected; keeping the running configuration", "err", err)
	}
}

// sameStoreURL reports whether a reloaded registry.url names the running
// store: equal, or the running URL as GET /1/config shows it (password
// masked), which a client may PUT back unchanged.
func sameStoreURL(next, running string) bool {
	return next == running || (running != "" && next == registry.RedactURL(running))
}
