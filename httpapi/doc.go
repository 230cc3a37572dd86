// Package httpapi serves go-proxy's monitoring and management HTTP API:
// the xmrig-proxy compatible JSON endpoints (/1/summary, /1/workers,
// /1/miners, /1/config) and Prometheus metrics (/metrics).
//
// It runs on net/http goroutines, never on an event loop: everything it
// shows comes from a Source (a *reactor.Proxy), whose Summary never waits
// for a loop and whose Workers, Miners and Upstreams cost one task per
// loop. Nothing on the per-share path touches this package: metrics are
// built from snapshots at scrape time.
package httpapi
