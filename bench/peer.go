package main

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// A peer is a second proxy (xmrig-proxy, or any other) that the harness
// measures on the same load as go-proxy, in the same invocation
// (-peer-bin, -peer-args). Its command line is a template: the harness
// fills in the ports and paths of each run and starts the binary directly
// (no shell), in a fresh working directory per run.

// Placeholders of -peer-args. Every value is a loopback address, a port,
// a number, the mode or the run's directory: nothing of the template
// reaches a shell.
const (
	phPool     = "pool"      // the mock pool, 127.0.0.1:PORT
	phPoolHost = "pool_host" // 127.0.0.1
	phPoolPort = "pool_port" // the mock pool's port
	phBind     = "bind"      // where the peer must listen for miners, 127.0.0.1:PORT
	phHost     = "host"      // 127.0.0.1
	phPort     = "port"      // the port of {bind}
	phAPIPort  = "api_port"  // a free loopback port for the peer's HTTP API
	phLoops    = "loops"     // -loops, or GOMAXPROCS when 0
	phMode     = "mode"      // -mode (nicehash, simple; aggregate for sv1)
	phWorkdir  = "workdir"   // the run's empty directory, also the peer's working directory
)

// peerPlaceholders lists every placeholder, for messages and docs.
var peerPlaceholders = []string{phPool, phPoolHost, phPoolPort, phBind, phHost, phPort, phAPIPort, phLoops, phMode, phWorkdir}

// peerTemplate is a parsed -peer-args: words split as a shell would split
// them (whitespace, '...' and "..." quoting, no escapes, no expansion),
// each a list of literal text and placeholders.
type peerTemplate struct {
	words [][]tmplPart
	used  map[string]bool
}

// tmplPart is literal text, or a placeholder when ph is set.
type tmplPart struct {
	lit string
	ph  string
}

// peerValues are what one run fills into the template.
type peerValues struct {
	Pool    string // host:port
	Port    int    // miners' port on 127.0.0.1
	APIPort int    // 0 when the template does not use {api_port}
	Loops   int
	Mode    string
	Workdir string
}

// parsePeerTemplate splits s into words and finds the placeholders.
// {{ is a literal {; an unknown or unterminated placeholder is an error,
// and so is a template that does not say where the peer listens ({port}
// or {bind}) or which pool it uses ({pool} or {pool_port}).
func parsePeerTemplate(s string) (peerTemplate, error) {
	words, err := splitWords(s)
	if err != nil {
		return peerTemplate{}, err
	}
	t := peerTemplate{used: map[string]bool{}}
	for _, w := range words {
		parts, err := parsePlaceholders(w)
		if err != nil {
			return peerTemplate{}, err
		}
		for _, p := range parts {
			if p.ph != "" {
				t.used[p.ph] = true
			}
		}
		t.words = append(t.words, parts)
	}
	switch {
	case len(t.words) == 0:
		return peerTemplate{}, errors.New("empty template")
	case !t.used[phPort] && !t.used[phBind]:
		return peerTemplate{}, errors.New("the template must place the miners' port: {port} or {bind}")
	case !t.used[phPool] && !t.used[phPoolPort]:
		return peerTemplate{}, errors.New("the template must point the peer at the mock pool: {pool} or {pool_port}")
	}
	return t, nil
}

// splitWords splits s at unquoted whitespace. Single and double quotes
// group (and are removed); there are no escapes.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// parsePlaceholders cuts one word into literal text and placeholders.
func parsePlaceholders(w string) ([]tmplPart, error) {
	var parts []tmplPart
	var lit strings.Builder
	for i := 0; i < len(w); i++ {
		if w[i] != '{' {
			lit.WriteByte(w[i])
			continue
		}
		if i+1 < len(w) && w[i+1] == '{' {
			lit.WriteByte('{')
			i++
			continue
		}
		end := strings.IndexByte(w[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unterminated placeholder in %q (write {{ for a literal {)", w)
		}
		name := w[i+1 : i+end]
		if !slices.Contains(peerPlaceholders, name) {
			return nil, fmt.Errorf("unknown placeholder {%s} (known: {%s})", name, strings.Join(peerPlaceholders, "} {"))
		}
		if lit.Len() > 0 {
			parts = append(parts, tmplPart{lit: lit.String()})
			lit.Reset()
		}
		parts = append(parts, tmplPart{ph: name})
		i += end
	}
	if lit.Len() > 0 || len(parts) == 0 {
		parts = append(parts, tmplPart{lit: lit.String()})
	}
	return parts, nil
}

// uses reports whether the template contains placeholder name.
func (t peerTemplate) uses(name string) bool { return t.used[name] }

// expand returns the argument list for one run.
func (t peerTemplate) expand(v peerValues) []string {
	host, port, _ := net.SplitHostPort(v.Pool)
	val := map[string]string{
		phPool:     v.Pool,
		phPoolHost: host,
		phPoolPort: port,
		phBind:     net.JoinHostPort("127.0.0.1", strconv.Itoa(v.Port)),
		phHost:     "127.0.0.1",
		phPort:     strconv.Itoa(v.Port),
		phAPIPort:  strconv.Itoa(v.APIPort),
		phLoops:    strconv.Itoa(v.Loops),
		phMode:     v.Mode,
		phWorkdir:  v.Workdir,
	}
	args := make([]string, 0, len(t.words))
	for _, parts := range t.words {
		var b strings.Builder
		for _, p := range parts {
			if p.ph != "" {
				b.WriteString(val[p.ph])
			} else {
				b.WriteString(p.lit)
			}
		}
		args = append(args, b.String())
	}
	return args
}
