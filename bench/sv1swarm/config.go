package sv1swarm

import (
	"time"

	"forge.lthn.ai/core/go-proxy/stratum"
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

	// User is the mining.authorize user of every miner (an account name);
	// default DefaultUser. Users, when non-empty, overrides it: miner i
	// authorizes as Users[i % len(Users)] (e.g. registered passthrough
	// accounts). WorkerPrefix, when non-empty, appends "." + WorkerPrefix +
	// i to the user ("account.rig7"). Submits carry the same name.
	User         string
	Users        []string
	WorkerPrefix string
	// Pass is the authorize password; default "x".
	Pass string
	// Agent is the mining.subscribe user agent; default DefaultAgent.
	Agent string

	// VersionRolling makes every miner send mining.configure with
	// version-rolling first (mask VersionMask, min-bit-count 2) and, when
	// granted, roll version bits through the granted mask in its submits.
	VersionRolling bool
	// VersionMask is the mask asked for; default stratum.SV1DefaultVersionMask.
	VersionMask uint32
	// ExtranonceSubscribe makes every miner send mining.extranonce.subscribe
	// after its subscribe is answered (and so accept mining.set_extranonce).
	// Miners apply mining.set_extranonce whether or not they asked.
	ExtranonceSubscribe bool

	// SharesPerSecond is the total rate of nonce searches started across
	// all authorized miners; each search ends in one share (unless its work
	// is voided first), so it is also the share rate as long as the workers
	// keep up. 0 means no mining. A share costs 2^32 × difficulty hashes,
	// about 13 ms of one core at difficulty 1/65536.
	SharesPerSecond float64
	// Workers is the number of search goroutines; default GOMAXPROCS/2 (at
	// least 1), so that mining never takes more than half the machine from
	// the proxy under test. It caps mining CPU at Workers cores; a rate the
	// workers cannot sustain is simply not reached.
	Workers int
	// ConnectRate is the number of new connections per second during the
	// ramp; 0 means as fast as possible.
	ConnectRate int
	// JobSentAt, when set, gives the time a job id was sent by its pool; job
	// notifications then add kernel-rx-time minus that to Stats.JobLatency.
	// It is called from the event loops (once per job per loop) and must
	// not call back into the Swarm.
	JobSentAt func(jobID string) (time.Time, bool)
	// Logf, when set, receives rare events (start, the first occurrence of
	// each error kind, reconnects, close); never one line per share. It is
	// called from the swarm's goroutines without any swarm lock held.
	Logf func(format string, args ...any)

	// Loops is the number of event loops; default GOMAXPROCS, at most Miners.
	Loops int
	// Timeout bounds connect, handshake and submit round trips; a miner
	// whose connect or handshake takes longer is closed, a submit without an
	// answer is forgotten. Each counts an error "timeout: connect|login|submit".
	// Default 60 s.
	Timeout time.Duration
}

// Defaults applied by Start.
const (
	// DefaultPerSourceIP is the socket cap per source address.
	DefaultPerSourceIP = 20000
	// DefaultFillPerSourceIP is how many miners share one default source
	// address (see bench/swarm: the kernel's ephemeral port search slows
	// down as an address fills up).
	DefaultFillPerSourceIP = 5000
	// DefaultUser is the authorize user when neither User nor Users is set.
	DefaultUser = "sv1swarm"
	// DefaultPass is the authorize password.
	DefaultPass = "x"
	// DefaultAgent is the subscribe user agent (a CPU miner).
	DefaultAgent = "cpuminer/2.5.1"
	// DefaultVersionMask is the version-rolling mask asked for (BIP320).
	DefaultVersionMask = stratum.SV1DefaultVersionMask
	// DefaultTimeout bounds connect, handshake and submit round trips.
	DefaultTimeout = 60 * time.Second
	// versionMinBitCount is the version-rolling.min-bit-count sent.
	versionMinBitCount = 2
)
