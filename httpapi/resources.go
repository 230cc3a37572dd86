package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"runtime"
	"strconv"
	"strings"

	"forge.lthn.ai/core/go-proxy/reactor"
)

// Resources is the host's state as /1/summary reports it under
// "resources", in xmrig-proxy's units: bytes and the 1, 5 and 15 minute
// load averages.
type Resources struct {
	MemoryFree  uint64 // available memory (MemAvailable)
	MemoryTotal uint64
	RSS         uint64 // this process's resident set
	LoadAverage [3]float64
	CPUs        int
}

// ReadResources reads Resources from /proc (Linux); what cannot be read
// is 0.
func ReadResources() Resources {
	r := Resources{CPUs: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		r.MemoryTotal = meminfoBytes(b, "MemTotal:")
		r.MemoryFree = meminfoBytes(b, "MemAvailable:")
	}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseUint(f[1], 10, 64)
			r.RSS = pages * uint64(os.Getpagesize())
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		for i, f := range strings.Fields(string(b)) {
			if i == len(r.LoadAverage) {
				break
			}
			r.LoadAverage[i], _ = strconv.ParseFloat(f, 64)
		}
	}
	return r
}

// meminfoBytes returns one /proc/meminfo field ("MemTotal:  123 kB") in
// bytes.
func meminfoBytes(b []byte, key string) uint64 {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0
	}
	line := b[i+len(key):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	f := strings.Fields(string(line))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseUint(f[0], 10, 64)
	if len(f) > 1 && strings.EqualFold(f[1], "kB") {
		n *= 1024
	}
	return n
}

// instanceID is /1/summary's "id": api.id when set, otherwise 16 hex
// digits derived from the host name, the first bind and the API port, so
// it stays the same across restarts and differs between instances.
func instanceID(cfg *reactor.Config) string {
	if cfg.API.ID != "" {
		return cfg.API.ID
	}
	host, _ := os.Hostname()
	bind := ""
	if len(cfg.Bind) > 0 {
		bind = cfg.Bind[0].Address()
	}
	sum := sha256.Sum256([]byte("go-proxy\x00" + host + "\x00" + bind + "\x00" + strconv.Itoa(cfg.HTTP.Port)))
	return hex.EncodeToString(sum[:8])
}

// workerID is /1/summary's "worker_id": api.worker-id with $VAR and
// ${VAR} expanded from the environment, or the host name.
func workerID(cfg *reactor.Config) string {
	if id := os.ExpandEnv(cfg.API.WorkerID); id != "" {
		return id
	}
	host, _ := os.Hostname()
	return host
}
