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

// accounts is the SV1 passthrough account store as serve runs it: opened
// at start when sv1-mode is "passthrough" (the file is created with mode
// 0600 by the store), expired hourly in the background, and closed after
// the proxy has stopped. A nil *accounts is a proxy without a store; every
// method accepts it. Safe for concurrent use.
//
// Security rule: nothing here logs an account name or a credential; the
// store's errors contain neither.
type accounts struct {
	store *registry.Store
	log   *slog.Logger

	stopExpiry context.CancelFunc
	expiring   sync.WaitGroup
	closeOnce  sync.Once
}

// openAccounts opens the store at registry.path when cfg runs SV1
// passthrough, and returns nil otherwise: no database file is created for
// a proxy that does not use one.
func openAccounts(cfg *reactor.Config, log *slog.Logger) (*accounts, error) {
	if cfg.SV1Mode != "passthrough" {
		return nil, nil
	}
	store, err := registry.Open(cfg.Registry.Path)
	if err != nil {
		return nil, fmt.Errorf("account store %s: %w", cfg.Registry.Path, err)
	}
	a := &accounts{store: store, log: log}
	n, err := store.CountAccounts(context.Background())
	if err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("account store %s: %w", cfg.Registry.Path, err)
	}
	log.Info("account store opened", "path", cfg.Registry.Path, "accounts", n, "expire_days", cfg.Registry.Expire)
	a.startExpiry(time.Duration(cfg.Registry.Expire) * 24 * time.Hour)
	return a, nil
}

// startExpiry deletes accounts idle for longer than idle now, then every
// expiryEvery, until close.
func (a *accounts) startExpiry(idle time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	a.stopExpiry = cancel
	report := func(err error) { a.log.Warn("account expiry failed", "err", err) }
	a.expiring.Add(1)
	go func() {
		defer a.expiring.Done()
		if idle <= 0 {
			report(fmt.Errorf("registry.expire-days must be positive"))
			return
		}
		if n, err := a.store.ExpireAccounts(ctx, idle); err != nil && ctx.Err() == nil {
			report(err)
		} else if n > 0 {
			a.log.Info("idle accounts deleted", "count", n, "idle_days", int(idle/(24*time.Hour)))
		}
		a.store.RunExpiry(ctx, expiryEvery, idle, report)
	}()
}

// proxyOptions are the reactor options that hand the proxy the store.
func (a *accounts) proxyOptions() []reactor.Option {
	if a == nil {
		return nil
	}
	return []reactor.Option{reactor.WithAccounts(a.store)}
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
		a.stopExpiry()
		a.expiring.Wait()
		if err := a.store.Close(); err != nil {
			a.log.Warn("closing the account store", "err", err)
		}
	})
}
