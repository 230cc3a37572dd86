// Package upstream is go-proxy's pool side: pool configuration and URLs,
// the failover order across pools, dialing (TCP or TLS with certificate
// pinning), and the protocol state of one pool connection for each stratum
// family.
//
// Protocol clients (CNClient, and the SV1 client) do no I/O: they append
// the lines to send to a caller's buffer and interpret the lines received.
// The reactor owns the sockets, so the same client runs over a connection
// enrolled in a gnet event loop (plain TCP) or over a goroutine-driven TLS
// connection. Clients and Failover belong to one event loop and are not
// safe for concurrent use; Dial is safe to call from any goroutine.
package upstream
