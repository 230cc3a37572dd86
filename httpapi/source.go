package httpapi

import (
	"context"

	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/stats"
)

// Source is what the API reads and controls. *reactor.Proxy satisfies it;
// a program may wrap it (for example to act on a reload). Every method
// must be safe for concurrent use.
type Source interface {
	// Summary returns proxy-wide statistics without blocking.
	Summary() stats.Summary
	// Workers, Miners and Upstreams return snapshots; they may wait for
	// the event loops, bounded by ctx.
	Workers(ctx context.Context) ([]stats.WorkerView, error)
	Miners(ctx context.Context) ([]reactor.MinerView, error)
	Upstreams(ctx context.Context) ([]reactor.UpstreamView, error)
	// Routes returns the routes and their targets as of the last second,
	// without blocking.
	Routes() []reactor.RouteView
	// Config returns the configuration in force; callers do not modify it.
	Config() *reactor.Config
	// Reload applies a new configuration, or rejects it and keeps the old.
	// The API calls it only with configurations whose disk-only keys
	// (reactor.DiskOnlyChanges) equal those of Config().
	Reload(cfg *reactor.Config) (warnings []string, err error)
}

var _ Source = (*reactor.Proxy)(nil)
