// Package stats counts what go-proxy does: shares, connections, hashrate
// windows, workers, best share difficulties, pool latency.
//
// The reactor keeps one set of counters per event loop and updates them
// without locks or atomics; readers (the HTTP API, Prometheus) only see
// copies that the loops publish, merged here.
package stats
