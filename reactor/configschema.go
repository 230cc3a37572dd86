package reactor

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"forge.lthn.ai/core/go-proxy/upstream"
)

// This file checks a parsed configuration document (configjson.go)
// against Config. The schema is Config itself, read by reflection from
// its json tags, so a new field is known to the checker the moment it is
// added. Besides Config's keys it knows the xmrig-proxy 6.26 keys
// go-proxy has no use for: those are accepted, listed for a start-up
// warning and left out of the decoding.

// xmrigOnlyKeys are the keys xmrig-proxy 6.26 reads that go-proxy accepts
// without using, per section (the struct the section decodes into).
var xmrigOnlyKeys = map[reflect.Type][]string{
	reflect.TypeFor[Config](): {
		"autosave", "background", "colors", "debug", "dns", "donate-level",
		"donate-over-proxy", "dry-run", "login-file", "title", "user-agent-suffix",
	},
	reflect.TypeFor[upstream.PoolConfig](): {
		"coin", "daemon", "daemon-job-timeout", "daemon-poll-interval", "daemon-zmq-port",
		"nicehash", "self-select", "sni", "socks5", "spend-secret-key", "submit-to-origin",
	},
	reflect.TypeFor[TLSConfig](): {"ciphersuites", "dhparam"},
}

// keyAliases are other spellings xmrig-proxy reads for a key; the alias
// is used only when the key itself is absent.
var keyAliases = map[reflect.Type]map[string]string{
	reflect.TypeFor[TLSConfig](): {"cert-key": "cert_key"},
}

// structFields maps a struct's json keys to their field types.
type structFields struct {
	byKey map[string]reflect.Type
	keys  []string // sorted, for suggestions
}

var fieldCache sync.Map // reflect.Type → *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{byKey: map[string]reflect.Type{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f.byKey[name] = sf.Type
		f.keys = append(f.keys, name)
	}
	sort.Strings(f.keys)
	fieldCache.Store(t, f)
	return f
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// configChecker walks a document, collecting the ignored xmrig-proxy keys
// and stopping at the first error.
type configChecker struct {
	src     []byte // the file's text, for line numbers (nil: none)
	file    string
	ignored []string
}

// errAt returns a ConfigError for the value n at path.
func (c *configChecker) errAt(n *jsonNode, pos int, path, msg string) *ConfigError {
	e := &ConfigError{File: c.file, Path: path, Msg: msg}
	switch {
	case n != nil && n.cmdline:
		e.CommandLine = true
	case c.src != nil && pos >= 0:
		e.Line, e.Column = lineColumn(c.src, pos)
	}
	return e
}

// check verifies that n can be decoded into a value of type t. It removes
// xmrig-only keys (recording their paths) and renames aliases in place.
func (c *configChecker) check(path string, n *jsonNode, t reflect.Type) error {
	if n.kind == nodeNull {
		return nil // null is "not set" for every key
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) && !(t.Kind() == reflect.Struct && n.kind == nodeObject) {
		// A value with forms of its own (workers: true | "rig-id", bind:
		// "host:port", keepalive: true | 60): its decoder says what is wrong.
		v := reflect.New(t)
		if err := v.Interface().(json.Unmarshaler).UnmarshalJSON(n.appendJSON(nil)); err != nil {
			return c.errAt(n, n.pos, path, trimFieldPrefix(err.Error(), path))
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.kind != nodeObject && path == "" {
			return c.errAt(n, n.pos, path, "the configuration must be a JSON object, got "+n.describe())
		}
		if n.kind != nodeObject {
			return c.errAt(n, n.pos, path, "must be an object, got "+n.describe())
		}
		return c.object(path, n, t)
	case reflect.Slice:
		if n.kind != nodeArray {
			return c.errAt(n, n.pos, path, "must be an array, got "+n.describe())
		}
		for i, it := range n.items {
			if err := c.check(path+"["+strconv.Itoa(i)+"]", it, t.Elem()); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if n.kind != nodeObject {
			return c.errAt(n, n.pos, path, "must be an object, got "+n.describe())
		}
		for _, m := range n.members {
			if err := c.check(join(path, m.key), m.val, t.Elem()); err != nil {
				return err
			}
		}
		return nil
	case reflect.String:
		if n.kind != nodeString {
			return c.errAt(n, n.pos, path, "must be a string, got "+n.describe())
		}
	case reflect.Bool:
		if n.kind != nodeBool {
			return c.errAt(n, n.pos, path, "must be true or false, got "+n.describe())
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return c.integer(path, n, t)
	case reflect.Float32, reflect.Float64:
		if n.kind != nodeNumber {
			return c.errAt(n, n.pos, path, "must be a number, got "+n.describe())
		}
	}
	return nil
}

// integer checks a whole number that fits t.
func (c *configChecker) integer(path string, n *jsonNode, t reflect.Type) error {
	if n.kind != nodeNumber {
		return c.errAt(n, n.pos, path, "must be a whole number, got "+n.describe())
	}
	s := string(n.raw)
	unsigned := t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64
	if unsigned {
		if _, err := strconv.ParseUint(s, 10, t.Bits()); err != nil {
			if strings.HasPrefix(s, "-") {
				return c.errAt(n, n.pos, path, "must not be negative, got "+s)
			}
			return c.errAt(n, n.pos, path, "must be a whole number in range, got "+s)
		}
		return nil
	}
	if _, err := strconv.ParseInt(s, 10, t.Bits()); err != nil {
		if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return c.errAt(n, n.pos, path, "must be written as a whole number without a fraction or exponent, got "+s)
		}
		return c.errAt(n, n.pos, path, "must be a whole number in range, got "+s)
	}
	return nil
}

// object checks the members of a section decoding into struct t.
func (c *configChecker) object(path string, n *jsonNode, t reflect.Type) error {
	fields := fieldsOf(t)
	only := xmrigOnlyKeys[t]
	aliases := keyAliases[t]
	seen := make(map[string]int, len(n.members))
	kept := n.members[:0:0]
	for _, m := range n.members {
		if first, dup := seen[m.key]; dup {
			line := ""
			if c.src != nil && first >= 0 && !m.val.cmdline {
				l, _ := lineColumn(c.src, first)
				line = fmt.Sprintf(" (first on line %d)", l)
			}
			return c.errAt(m.val, m.pos, join(path, m.key), "key given twice"+line)
		}
		seen[m.key] = m.pos
		key := m.key
		if canon, ok := aliases[key]; ok {
			if n.member(canon) != nil {
				c.ignored = append(c.ignored, join(path, key)+" (alias of "+canon+", which is set)")
				continue
			}
			key = canon
		}
		ft, ok := fields.byKey[key]
		if !ok {
			if contains(only, key) {
				if m.val.kind != nodeNull { // null is "not set": nothing ignored
					c.ignored = append(c.ignored, join(path, key))
				}
				continue
			}
			return c.errAt(m.val, m.pos, join(path, key), unknownKeyMessage(key, fields.keys, only))
		}
		if err := c.check(join(path, key), m.val, ft); err != nil {
			return err
		}
		m.key = key
		kept = append(kept, m)
	}
	n.members = kept
	return nil
}

// describe names a value's type (and a short form of a scalar) for an
// error message.
func (n *jsonNode) describe() string {
	switch n.kind {
	case nodeString, nodeNumber, nodeBool:
		raw := string(n.raw)
		if len(raw) > 40 {
			raw = raw[:37] + "..."
		}
		return n.kind.String() + " (" + raw + ")"
	}
	return n.kind.String()
}

// unknownKeyMessage explains an unknown key, suggesting the closest known
// one when the key looks misspelt.
func unknownKeyMessage(key string, known, only []string) string {
	msg := "unknown key"
	if s := closestKey(key, known, only); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return msg
}

// closestKey returns the known key nearest to key by edit distance, if it
// is near enough to be a misspelling ("" otherwise).
func closestKey(key string, lists ...[]string) string {
	best, bestD := "", math.MaxInt
	lk := strings.ToLower(key)
	for _, list := range lists {
		for _, k := range list {
			d := editDistance(lk, strings.ToLower(k))
			if strings.ReplaceAll(lk, "_", "-") == strings.ReplaceAll(strings.ToLower(k), "_", "-") {
				d = 0
			}
			if d < bestD || (d == bestD && k < best) {
				best, bestD = k, d
			}
		}
	}
	if bestD <= max(2, len(key)/4) && bestD < len(key) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// join appends a key to a path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// trimFieldPrefix drops a decoder's own "workers: " prefix when the path
// already names the key.
func trimFieldPrefix(msg, path string) string {
	last := path
	if i := strings.LastIndexAny(path, ".]"); i >= 0 {
		last = path[i+1:]
	}
	if last != "" {
		msg = strings.TrimPrefix(msg, last+": ")
		if strings.HasPrefix(msg, last+" must ") {
			msg = strings.TrimPrefix(msg, last+" ")
		}
	}
	return msg
}

// locate finds the node at a path such as "pools[1].url" (nil when the
// path does not exist in the document).
func locate(doc *jsonNode, path string) *jsonNode {
	n := doc
	for path != "" && n != nil {
		var part string
		if i := strings.IndexAny(path[1:], ".["); i >= 0 {
			part, path = path[:i+1], path[i+1:]
		} else {
			part, path = path, ""
		}
		part = strings.TrimPrefix(part, ".")
		if strings.HasPrefix(part, "[") {
			idx, err := strconv.Atoi(strings.TrimSuffix(part[1:], "]"))
			if err != nil || n.kind != nodeArray || idx < 0 || idx >= len(n.items) {
				return nil
			}
			n = n.items[idx]
			continue
		}
		if n.kind != nodeObject {
			return nil
		}
		n = n.member(part)
	}
	return n
}

// pathOf returns the key path an error message starts with
// ("pools[0].url" from "pools[0].url: bad port" or "pools[0].tls-fingerprint
// must be ..."), or "".
func pathOf(msg string) string {
	end := 0
	for end < len(msg) {
		r := msg[end]
		if !(r == '.' || r == '[' || r == ']' || r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')) {
			break
		}
		end++
	}
	if end == 0 || end == len(msg) || (msg[end] != ':' && msg[end] != ' ') {
		return ""
	}
	return msg[:end]
}
