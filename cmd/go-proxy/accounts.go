package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"forge.lthn.ai/core/go-proxy/httpapi"
	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/registry"
)

// expiryEvery is how often accounts idle for registry.expire-days are
// deleted.
const expiryEvery = time.Hour

// liveMinersTimeout bounds the wait for the proxy's list of connected
// miners before an expiry run.
const liveMinersTimeout = 30 * time.Second

// liveMiners lists the proxy's miner connections ((*reactor.Proxy).Miners).
type liveMiners func(ctx context.Context) ([]reactor.MinerView, error)

// accounts is the SV1 passthrough account store as serve runs it: opened
// at start when sv1-mode is "passthrough" (an SQLite file created with
// mode 0600 by the store, or a PostgreSQL database shared with other
// instances), expired hourly in the background once the proxy
// runs (startExpiry), and closed after the proxy has stopped. A nil
// *accounts is a proxy without a store; the methods serve calls accept
// it. Safe for concurrent use.
//
// Security rule: nothing here logs an account name or a credential; the
// store's errors contain neither.
type accounts struct {
	store registry.Store
	log   *slog.Logger
	idle  time.Duration // registry.expire-days

	stopExpiry context.CancelFunc // nil until startExpiry
	expiring   sync.WaitGroup
	closeOnce  sync.Once
}

// openStoreTimeout bounds opening a PostgreSQL store at start: the first
// connection and the schema migrations.
const openStoreTimeout = 30 * time.Second

// storeLocation names the configured store for logs and errors: the
// SQLite path, or the PostgreSQL URL with its password masked.
func storeLocation(r *reactor.RegistryConfig) (key, value string) {
	if r.URL != "" {
		return "url", registry.RedactURL(r.URL)
	}
	return "path", r.Path
}

// openAccounts opens the store named by registry.url (PostgreSQL) or
// registry.path (SQLite) when cfg runs SV1 passthrough, and returns nil
// otherwise: no database file is created and no database contacted for
// a proxy that does not use one.
func openAccounts(cfg *reactor.Config, log *slog.Logger) (*accounts, error) {
	if cfg.SV1Mode != "passthrough" {
		return nil, nil
	}
	key, where := storeLocation(&cfg.Registry)
	var (
		store registry.Store
		err   error
	)
	if cfg.Registry.URL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), openStoreTimeout)
		store, err = registry.OpenPostgres(ctx, cfg.Registry.URL)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("account store: %w", err) // the error names the redacted URL
		}
	} else if store, err = registry.Open(cfg.Registry.Path); err != nil {
		return nil, fmt.Errorf("account store %s: %w", where, err)
	}
	a := &accounts{store: store, log: log, idle: time.Duration(cfg.Registry.Expire) * 24 * time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), openStoreTimeout)
	n, err := store.CountAccounts(ctx)
	cancel()
	if err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("account store %s: %w", where, err)
	}
	log.Info("account store opened", key, where, "accounts", n, "expire_days", cfg.Registry.Expire)
	return a, nil
}

// startExpiry deletes the accounts idle for longer than
// registry.expire-days now, then every every (expiryEvery when 0), until
// close; each run first marks the accounts of the miners connected now
// (from live) as seen, so an account in use is never deleted (see
// expire).
func (a *accounts) startExpiry(live liveMiners, every time.Duration) {
	if a == nil {
		return
	}
	if every <= 0 {
		every = expiryEvery
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stopExpiry = cancel
	a.expiring.Add(1)
	go func() {
		defer a.expiring.Done()
		if a.idle <= 0 {
			a.log.Warn("account expiry failed", "err", "registry.expire-days must be positive")
			return
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if n, err := a.expire(ctx, live); err != nil && ctx.Err() == nil {
				a.log.Warn("account expiry failed", "err", err)
			} else if n > 0 {
				a.log.Info("idle accounts deleted", "count", n, "idle_days", int(a.idle/(24*time.Hour)))
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// expire is one expiry run: the accounts the connected miners use are
// marked as seen now (last_seen is otherwise written only when a miner
// authorizes or leaves), then the accounts idle for longer than a.idle
// are deleted, then the connected miners' sessions are renewed for
// reactor.SessionRecordTTL (so they outlive this instance if it dies),
// then the expired sessions are deleted. Without the list of connected
// miners nothing is deleted. With a PostgreSQL store every instance runs
// it on its own miners; each one's marks keep its accounts (see
// registry.Store.ExpireUnusedAccounts).
func (a *accounts) expire(ctx context.Context, live liveMiners) (int, error) {
	lctx, cancel := context.WithTimeout(ctx, liveMinersTimeout)
	views, err := live(lctx)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("listing the connected miners (nothing deleted): %w", err)
	}
	n, err := a.store.ExpireUnusedAccounts(ctx, a.idle, liveAccounts(views))
	if err != nil {
		return n, err
	}
	if _, err := a.store.PutSessions(ctx, liveSessions(views), reactor.SessionRecordTTL); err != nil {
		return n, fmt.Errorf("renewing the connected miners' sessions: %w", err)
	}
	if _, err := a.store.ExpireSessions(ctx); err != nil {
		return n, fmt.Errorf("sweeping expired sessions: %w", err)
	}
	return n, nil
}

// liveAccounts returns the account names of the passthrough miners among
// views that have authorized (MinerView.Account).
func liveAccounts(views []reactor.MinerView) []string {
	var names []string
	for i := range views {
		if v := &views[i]; v.Account && v.User != "" {
			names = append(names, v.User)
		}
	}
	return names
}

// liveSessions returns the subscription ids of the authorized passthrough
// miners among views with their accounts (MinerView.Session).
func liveSessions(views []reactor.MinerView) []registry.SessionEntry {
	var out []registry.SessionEntry
	for i := range views {
		if v := &views[i]; v.Account && v.Session != "" && v.User != "" {
			out = append(out, registry.SessionEntry{ID: v.Session, Account: v.User})
		}
	}
	return out
}

// proxyOptions are the reactor options that hand the proxy the store: for
// the accounts, and for the subscription ids of passthrough miners, so a
// miner resumes its account's session on any instance sharing the store
// and the reconnect bound holds across them (reactor.NewStoreKeptSessions).
func (a *accounts) proxyOptions() []reactor.Option {
	if a == nil {
		return nil
	}
	return []reactor.Option{reactor.WithAccounts(a.store), reactor.WithKeptSessions(reactor.NewStoreKeptSessions(a.store))}
}

// api returns the store for httpapi.Options.Accounts: a nil interface
// (the /api/v1 routes left out) without a store.
func (a *accounts) api() httpapi.AccountStore {
	if a == nil {
		return nil
	}
	return a.store
}

// close stops the expiry loop and closes the store. Call it after the
// proxy and the API have stopped; later calls do nothing.
func (a *accounts) close() {
	if a == nil {
		return
	}
	a.closeOnce.Do(func() {
		if a.stopExpiry != nil {
			a.stopExpiry()
		}
		a.expiring.Wait()
		if err := a.store.Close(); err != nil {
			a.log.Warn("closing the account store", "err", err)
		}
	})
}

// warnNoRegistration logs, at start, that nobody can register accounts
// when sv1-mode is passthrough and the API cannot take registrations:
// disabled, or restricted (read-only) without a registration credential of
// its own (http.register-token, http.open-registration). Validate already
// refuses a passthrough API without an access token.
func warnNoRegistration(cfg *reactor.Config, log *slog.Logger) {
	if cfg.SV1Mode != "passthrough" {
		return
	}
	switch {
	case !cfg.HTTP.Enabled:
		log.Warn("sv1-mode passthrough with the HTTP API disabled: nobody can register accounts (POST /api/v1/users); enable http with an access-token and restricted false")
	case (cfg.HTTP.Restricted == nil || *cfg.HTTP.Restricted) && cfg.HTTP.RegisterToken == "" && !cfg.HTTP.OpenRegistration:
		log.Warn("sv1-mode passthrough with a restricted (read-only) HTTP API: nobody can register accounts (POST /api/v1/users); set http.register-token (or http.open-registration), or http.restricted to false")
	}
}
