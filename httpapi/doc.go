// Package httpapi serves go-proxy's monitoring and management HTTP API:
// the xmrig-proxy compatible JSON endpoints (/1/summary, /1/workers,
// /1/miners, /1/config), Prometheus metrics (/metrics), and, when an
// account store is configured (SV1 passthrough mode), the registration and
// management API under /api/v1 (users, pools, algorithms).
//
// It runs on net/http goroutines, never on an event loop: everything it
// shows comes from a Source (a *reactor.Proxy), whose Summary never waits
// for a loop and whose Workers, Miners and Upstreams cost one task per
// loop. Nothing on the per-share path touches this package: metrics are
// built from snapshots at scrape time.
//
// Security rules: every route follows the same access-token and
// "restricted" checks; no answer and no log line ever contains a pool
// password or a request body; account registration is rate-limited per
// client IP.
package httpapi
