package httpapi

import (
	"context"

	"forge.lthn.ai/core/go-proxy/registry"
)

// AccountStore is the SV1 passthrough account store as the /api/v1 routes
// use it: accounts, pools and algorithms. Every registry.Store (SQLite or
// PostgreSQL) satisfies it.
// Every method must be safe for concurrent use (the API calls them from
// net/http goroutines) and must honour ctx.
//
// Security rule: the interface has no way to read a password back —
// registry.Store's Credentials, the only method that returns one, is
// deliberately not part of it — so no API answer can contain one.
type AccountStore interface {
	CreateAccount(ctx context.Context, pool, user, password string) (registry.Account, error)
	Account(ctx context.Context, name string) (registry.Account, error)
	DeleteAccount(ctx context.Context, name string) error
	ListAccounts(ctx context.Context, limit, offset int) ([]registry.Account, error)
	CountAccounts(ctx context.Context) (int, error)

	AddPool(ctx context.Context, p registry.Pool) error
	Pool(ctx context.Context, address string) (registry.Pool, error)
	ListPools(ctx context.Context) ([]registry.Pool, error)
	DeletePool(ctx context.Context, address string) error

	AddAlgorithm(ctx context.Context, a registry.Algorithm) error
	ListAlgorithms(ctx context.Context) ([]registry.Algorithm, error)
	DeleteAlgorithm(ctx context.Context, name string) error
}

var _ AccountStore = registry.Store(nil)
