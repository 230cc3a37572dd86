package reactor

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// apiKeys are the configuration keys the HTTP API may change (PUT /1/config
// and the like): pools, difficulty, access password, workers, timeouts,
// limits, log level, the API's own credentials. Every other key is
// disk-only: it changes only through the configuration file (the watcher
// or a restart), never through a request, because it names something on
// the host — a file to write, a certificate to read, a listener, the
// account store. That includes every key added to Config later until it is
// listed here, so a new path or location is refused by default.
//
// Keys are JSON paths; "[]" stands for every element of a list.
var apiKeys = keySet(
	"mode", "sv1-mode",
	"pools[].url", "pools[].user", "pools[].pass", "pools[].rig-id", "pools[].algo",
	"pools[].family", "pools[].tls", "pools[].tls-fingerprint", "pools[].keepalive", "pools[].enabled",
	"pool-stable-seconds", "pool-probe-seconds", "pools[].name",
	"routes[].name", "routes[].match.port", "routes[].match.worker", "routes[].match.family",
	"routes[].targets[].name", "routes[].targets[].pools", "routes[].targets[].weight",
	"routes[].rebalance", "rebalance",
	"tls.enabled", "tls.protocols", "tls.ciphers",
	"http.access-token", "http.restricted", "http.metrics-workers-max", "http.register-per-minute",
	"http.register-token", "http.open-registration",
	"http.max-connections", "http.read-header-timeout", "http.idle-timeout",
	"access-password", "custom-diff", "custom-diff-stats", "algo-ext",
	"vardiff.enabled", "vardiff.target-seconds", "vardiff.retarget-seconds", "vardiff.variance",
	"vardiff.min-diff", "vardiff.max-diff", "vardiff.initial-diff",
	"bind[].vardiff.enabled", "bind[].vardiff.target-seconds", "bind[].vardiff.retarget-seconds",
	"bind[].vardiff.variance", "bind[].vardiff.min-diff", "bind[].vardiff.max-diff", "bind[].vardiff.initial-diff",
	"workers", "workers-expire", "workers-max",
	"reuse-timeout", "retries", "retry-pause", "watch",
	"rate-limit.max-connections-per-minute", "rate-limit.ban-duration",
	"submit-rate-limit.shares-per-second", "submit-rate-limit.burst", "submit-rate-limit.close-after",
	"max-upstreams", "max-connections", "event-loops",
	"login-timeout", "idle-timeout", "submit-timeout", "pool-timeout", "connect-timeout",
	"max-outbound", "socket-send-buffer", "gc-percent", "user-agent", "sv1-prefix-bytes",
	"registry.expire-days", "registry.keep",
	"log-level", "verbose", "print-time", "api.id", "api.worker-id",
)

func keySet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// DiskOnlyChanges returns the disk-only keys (see apiKeys: file paths,
// binds, the API's own listener, the account store's location, and any key
// not known to be safe) whose values differ between the running
// configuration and next, sorted, with list indexes ("bind[1].port").
// Both are compared as normalized; a secret next sends masked ("********")
// counts as its running value. The HTTP API refuses a configuration for
// which this is not empty; the configuration file applies such changes.
func DiskOnlyChanges(running, next *Config) []string {
	a, b := running.Clone(), next.Clone()
	a.Normalize()
	b.Normalize()
	_ = restoreSecrets(b, a) // a pool password it cannot restore is Reload's error to report
	var out []string
	diffKeys(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), "", "", &out)
	sort.Strings(out)
	return out
}

// ConfigKeys lists every key of Config as DiskOnlyChanges names them
// ("[]" for list elements), and whether the API may change it.
func ConfigKeys() map[string]bool {
	keys := map[string]bool{}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if path != "" && !isCompound(t) {
			keys[path] = apiKeys[path]
			return
		}
		if t.Kind() == reflect.Slice {
			walk(t.Elem(), path+"[]")
			return
		}
		for i := 0; i < t.NumField(); i++ {
			if name, ok := jsonName(t.Field(i)); ok {
				walk(t.Field(i).Type, joinKey(path, name))
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return keys
}

// diffKeys appends the disk-only leaves under a and b (same type) whose
// values differ. path is the concrete key ("bind[1].port"), pattern the
// apiKeys form ("bind[].port").
func diffKeys(a, b reflect.Value, path, pattern string, out *[]string) {
	t := a.Type()
	if path != "" && !isCompound(t) && !(t.Kind() == reflect.Pointer && isCompound(t.Elem())) {
		if !apiKeys[pattern] && !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, path)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		a, b = derefOrZero(a), derefOrZero(b)
		diffKeys(a, b, path, pattern, out)
	case reflect.Slice:
		zero := reflect.Zero(t.Elem())
		for i := 0; i < max(a.Len(), b.Len()); i++ {
			ea, eb := zero, zero
			if i < a.Len() {
				ea = a.Index(i)
			}
			if i < b.Len() {
				eb = b.Index(i)
			}
			diffKeys(ea, eb, fmt.Sprintf("%s[%d]", path, i), pattern+"[]", out)
		}
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if name, ok := jsonName(t.Field(i)); ok {
				diffKeys(a.Field(i), b.Field(i), joinKey(path, name), joinKey(pattern, name), out)
			}
		}
	}
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// isCompound reports whether t is walked into: a struct without a JSON or
// text form of its own, or a list of such structs. Everything else is one
// value.
func isCompound(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		return !t.Implements(jsonMarshaler) && !t.Implements(textMarshaler) &&
			!reflect.PointerTo(t).Implements(jsonMarshaler) && !reflect.PointerTo(t).Implements(textMarshaler)
	case reflect.Slice:
		e := t.Elem()
		if e.Kind() == reflect.Pointer {
			e = e.Elem()
		}
		return isCompound(e) && e.Kind() == reflect.Struct
	}
	return false
}

func derefOrZero(v reflect.Value) reflect.Value {
	if v.IsNil() {
		return reflect.Zero(v.Type().Elem())
	}
	return v.Elem()
}

// jsonName is a field's JSON key; false for fields JSON skips.
func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, true
}

func joinKey(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
