package swarm

import (
	"time"
)

// Config says what the swarm simulates. Only ProxyAddr and Miners are
// required.
type Config struct {
	// ProxyAddr is the host:port miners connect to.
	ProxyAddr string
	// Miners is the number of simulated miners (at least 1).
	Miners int
	// SourceIPs are the local IPv4 addresses sockets are bound to; miner i
	// uses SourceIPs[i % len(SourceIPs)]. Default, when ProxyAddr is an IPv4
	// loopback address: 127.0.0.2, 127.0.0.3, ..., one per
	// min(PerSourceIP, DefaultFillPerSourceIP) miners; otherwise none (the
	// kernel picks the source address).
	SourceIPs []string
	// PerSourceIP is the most sockets one source address may carry (the
	// ephemeral port range is ~28k); default 20000. Start fails when Miners
	// exceeds len(SourceIPs) * PerSourceIP.
	PerSourceIP int
	// Login and Pass are sent in every login; defaults: a 95-character
	// Monero-like address and "x".
	Login, Pass string
	// Agent is the login user agent; default an XMRig-like string.
	Agent string
	// RigIDPrefix, when non-empty, gives each miner the rig id prefix+index
	// (index 0 .. Miners-1).
	RigIDPrefix string
	// Algos is the login "algo" list; default ["rx/0"].
	Algos []string
	// SharesPerSecond is the total submit rate across all logged-in miners;
	// 0 means no shares.
	SharesPerSecond float64
	// ConnectRate is the number of new connections per second during the
	// ramp; 0 means as fast as possible.
	ConnectRate int
	// JobSentAt, when set, gives the time a job id was sent by its pool; job
	// notifications then add kernel-rx-time minus that to Stats.JobLatency.
	// It is called from the event loops (once per job id per loop) and must
	// not call back into the Swarm.
	JobSentAt func(jobID string) (time.Time, bool)
	// Logf, when set, receives rare events (start, the first occurrence of
	// each error kind, close); never one line per share. It is called from
	// the swarm's goroutines without any swarm lock held.
	Logf func(format string, args ...any)

	// Loops is the number of event loops; default GOMAXPROCS, at most Miners.
	Loops int
	// Timeout bounds connect, login and submit round trips; a miner whose
	// connect or login takes longer is closed, a submit without an answer
	// is forgotten. Each counts an error "timeout: connect|login|submit".
	// Default 60 s.
	Timeout time.Duration
}

// Defaults applied by Start.
const (
	DefaultPerSourceIP = 20000
	// DefaultFillPerSourceIP is how many miners share one default source
	// address. Fewer than PerSourceIP on purpose: the kernel's ephemeral
	// port search slows down as an address fills up (measured here: 19,500
	// connects cost 6.9 s of system time from one address, 0.85 s from four).
	DefaultFillPerSourceIP = 5000
	DefaultPass            = "x"
	DefaultAgent           = "XMRig/6.22.2 (Linux x86_64) libuv/1.48.0 gcc/13.2.1"
	DefaultTimeout         = 60 * time.Second
	DefaultAlgo            = "rx/0" // the default login algo list is [DefaultAlgo]
	// DefaultLogin is a syntactically Monero-like (95 base58 characters,
	// leading 4) address that belongs to nobody.
	DefaultLogin = "49ASi45ub7Qe4ZE36UT5G6cU4ud8Fhhe4deS4F3cw9KTAb8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaYyNoVKf"
)
