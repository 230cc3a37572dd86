package reactor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file reads configuration text. It accepts what xmrig-proxy's
// parser accepts besides plain JSON — // and /* */ comments and trailing
// commas — and keeps where every value was written, so an error can name
// the line, the column and the key's full path (pools[0].coin,
// http.acess-token, bind[1].port). configschema.go checks the document
// against Config; nothing here knows about Config.

// maxConfigDepth bounds nesting: a configuration is four levels deep, and
// a hostile PUT /1/config body must not recurse without limit.
const maxConfigDepth = 64

// ConfigError is a configuration that cannot be used, with where the
// problem is. Line and Column are 1-based and 0 when the value has no
// place in a file (it came from the command line, or the error is about
// the whole document).
type ConfigError struct {
	// File is the configuration file's path ("" when the text did not
	// come from a file, e.g. PUT /1/config).
	File string
	Line int
	// Column counts characters (not bytes) from 1.
	Column int
	// CommandLine is set when the value came from a command-line option.
	CommandLine bool
	// Path is the key, e.g. "pools[0].coin" ("" for syntax errors).
	Path string
	Msg  string
}

// Error words the problem as "config.json:12:7: pools[0].coin: msg" (a
// file), "config: line 12, column 7: ..." (no file) or "command line:
// ..." (an option).
func (e *ConfigError) Error() string {
	var b strings.Builder
	switch {
	case e.CommandLine:
		b.WriteString("command line: ")
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Column)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "config: line %d, column %d: ", e.Line, e.Column)
	default:
		b.WriteString("config: ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// nodeKind is a JSON value's type.
type nodeKind uint8

const (
	nodeNull nodeKind = iota
	nodeBool
	nodeNumber
	nodeString
	nodeArray
	nodeObject
)

// kindName is how an error names a value's type.
func (k nodeKind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

// jsonNode is one value of a configuration document and where it was
// written.
type jsonNode struct {
	kind nodeKind
	// pos is the byte offset of the value's first character in its
	// source; cmdline marks values that came from command-line options.
	pos     int
	cmdline bool
	raw     []byte // scalars: the value's JSON text (a string with its quotes)
	str     string // strings: the decoded value
	members []jsonMember
	items   []*jsonNode
}

// jsonMember is one key of an object.
type jsonMember struct {
	key string
	pos int // the key's opening quote
	val *jsonNode
}

// member returns the value of key, or nil.
func (n *jsonNode) member(key string) *jsonNode {
	for i := range n.members {
		if n.members[i].key == key {
			return n.members[i].val
		}
	}
	return nil
}

// appendJSON appends the node as plain JSON. Object members whose value
// is null are left out: in a configuration null means "not set", as it
// does for xmrig-proxy, whatever the key's type.
func (n *jsonNode) appendJSON(b []byte) []byte {
	switch n.kind {
	case nodeObject:
		b = append(b, '{')
		first := true
		for _, m := range n.members {
			if m.val.kind == nodeNull {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = strconv.AppendQuote(b, m.key)
			b = append(b, ':')
			b = m.val.appendJSON(b)
		}
		return append(b, '}')
	case nodeArray:
		b = append(b, '[')
		for i, it := range n.items {
			if i > 0 {
				b = append(b, ',')
			}
			b = it.appendJSON(b)
		}
		return append(b, ']')
	case nodeNull:
		return append(b, "null"...)
	}
	return append(b, n.raw...)
}

// markCommandLine flags a node and everything under it as coming from the
// command line.
func (n *jsonNode) markCommandLine() {
	n.cmdline = true
	for _, m := range n.members {
		m.val.markCommandLine()
	}
	for _, it := range n.items {
		it.markCommandLine()
	}
}

// parseJSONC parses one JSON value with comments and trailing commas
// allowed (and a UTF-8 byte-order mark skipped). Errors are *ConfigError
// with the line and column of the offending character.
func parseJSONC(src []byte) (*jsonNode, error) {
	p := &jsoncParser{src: src}
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) {
		p.i = 3
	}
	if err := p.space(); err != nil {
		return nil, err
	}
	if p.i == len(p.src) {
		return nil, p.fail(p.i, "the configuration is empty")
	}
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if err := p.space(); err != nil {
		return nil, err
	}
	if p.i < len(p.src) {
		return nil, p.fail(p.i, fmt.Sprintf("unexpected %s after the end of the document", p.what(p.i)))
	}
	return n, nil
}

type jsoncParser struct {
	src []byte
	i   int
}

// fail returns a syntax error at byte offset pos.
func (p *jsoncParser) fail(pos int, msg string) error {
	line, col := lineColumn(p.src, pos)
	return &ConfigError{Line: line, Column: col, Msg: "syntax error: " + msg}
}

// what names the character at pos for an error message.
func (p *jsoncParser) what(pos int) string {
	if pos >= len(p.src) {
		return "end of file"
	}
	r, _ := utf8.DecodeRune(p.src[pos:])
	return strconv.QuoteRune(r)
}

// space skips whitespace and comments.
func (p *jsoncParser) space() error {
	for p.i < len(p.src) {
		switch c := p.src[p.i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.i++
		case c == '/' && p.i+1 < len(p.src) && p.src[p.i+1] == '/':
			for p.i < len(p.src) && p.src[p.i] != '\n' {
				p.i++
			}
		case c == '/' && p.i+1 < len(p.src) && p.src[p.i+1] == '*':
			end := bytes.Index(p.src[p.i+2:], []byte("*/"))
			if end < 0 {
				return p.fail(p.i, "comment opened with /* is never closed")
			}
			p.i += 2 + end + 2
		default:
			return nil
		}
	}
	return nil
}

// value parses the value starting at p.i (whitespace already skipped).
func (p *jsoncParser) value(depth int) (*jsonNode, error) {
	if depth > maxConfigDepth {
		return nil, p.fail(p.i, fmt.Sprintf("nested more than %d levels deep", maxConfigDepth))
	}
	if p.i >= len(p.src) {
		return nil, p.fail(p.i, "unexpected end of file, a value was expected")
	}
	start := p.i
	switch c := p.src[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		raw, s, err := p.string()
		if err != nil {
			return nil, err
		}
		return &jsonNode{kind: nodeString, pos: start, raw: raw, str: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		for p.i < len(p.src) && strings.IndexByte("+-.0123456789eE", p.src[p.i]) >= 0 {
			p.i++
		}
		raw := p.src[start:p.i]
		if !json.Valid(raw) {
			return nil, p.fail(start, fmt.Sprintf("%q is not a number", raw))
		}
		return &jsonNode{kind: nodeNumber, pos: start, raw: raw}, nil
	}
	for _, lit := range [...]struct {
		word string
		kind nodeKind
	}{{"true", nodeBool}, {"false", nodeBool}, {"null", nodeNull}} {
		if bytes.HasPrefix(p.src[p.i:], []byte(lit.word)) && !p.wordAt(p.i+len(lit.word)) {
			p.i += len(lit.word)
			return &jsonNode{kind: lit.kind, pos: start, raw: []byte(lit.word)}, nil
		}
	}
	if p.wordAt(p.i) {
		end := p.i
		for end < len(p.src) && p.wordAt(end) && end-p.i < 40 {
			end++
		}
		return nil, p.fail(start, fmt.Sprintf("unexpected word %q (strings need double quotes)", p.src[p.i:end]))
	}
	return nil, p.fail(start, fmt.Sprintf("unexpected %s, a value was expected", p.what(start)))
}

// wordAt reports whether the byte at i continues a bare word.
func (p *jsoncParser) wordAt(i int) bool {
	if i >= len(p.src) {
		return false
	}
	c := p.src[i]
	return c == '_' || c == '-' || c == '.' || c >= 0x80 || (c|0x20 >= 'a' && c|0x20 <= 'z') || (c >= '0' && c <= '9')
}

// string parses a double-quoted string: its raw text and its value.
func (p *jsoncParser) string() ([]byte, string, error) {
	start := p.i
	p.i++
	for p.i < len(p.src) {
		switch c := p.src[p.i]; {
		case c == '\\':
			p.i += 2
			continue
		case c == '"':
			p.i++
			raw := p.src[start:p.i]
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, "", p.fail(start, "bad string: "+strings.TrimPrefix(err.Error(), "invalid character "))
			}
			return raw, s, nil
		case c == '\n':
			return nil, "", p.fail(start, "string is not closed before the end of the line")
		}
		p.i++
	}
	return nil, "", p.fail(start, "string is never closed")
}

// object parses {...} (p.i at '{').
func (p *jsoncParser) object(depth int) (*jsonNode, error) {
	n := &jsonNode{kind: nodeObject, pos: p.i}
	p.i++
	for {
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.i >= len(p.src) {
			return nil, p.fail(n.pos, "object opened here is never closed")
		}
		if p.src[p.i] == '}' {
			p.i++
			return n, nil
		}
		if p.src[p.i] != '"' {
			return nil, p.fail(p.i, fmt.Sprintf("unexpected %s, a key in double quotes or '}' was expected", p.what(p.i)))
		}
		keyPos := p.i
		_, key, err := p.string()
		if err != nil {
			return nil, err
		}
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.i >= len(p.src) || p.src[p.i] != ':' {
			return nil, p.fail(p.i, fmt.Sprintf("unexpected %s, ':' was expected after the key %q", p.what(p.i), key))
		}
		p.i++
		if err := p.space(); err != nil {
			return nil, err
		}
		val, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, jsonMember{key: key, pos: keyPos, val: val})
		if err := p.space(); err != nil {
			return nil, err
		}
		switch {
		case p.i >= len(p.src):
			return nil, p.fail(n.pos, "object opened here is never closed")
		case p.src[p.i] == ',':
			p.i++ // a trailing comma before '}' is allowed
		case p.src[p.i] == '}':
		default:
			return nil, p.fail(p.i, fmt.Sprintf("unexpected %s, ',' or '}' was expected (a comma may be missing)", p.what(p.i)))
		}
	}
}

// array parses [...] (p.i at '[').
func (p *jsoncParser) array(depth int) (*jsonNode, error) {
	n := &jsonNode{kind: nodeArray, pos: p.i}
	p.i++
	for {
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.i >= len(p.src) {
			return nil, p.fail(n.pos, "array opened here is never closed")
		}
		if p.src[p.i] == ']' {
			p.i++
			return n, nil
		}
		val, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, val)
		if err := p.space(); err != nil {
			return nil, err
		}
		switch {
		case p.i >= len(p.src):
			return nil, p.fail(n.pos, "array opened here is never closed")
		case p.src[p.i] == ',':
			p.i++
		case p.src[p.i] == ']':
		default:
			return nil, p.fail(p.i, fmt.Sprintf("unexpected %s, ',' or ']' was expected (a comma may be missing)", p.what(p.i)))
		}
	}
}

// lineColumn converts a byte offset to a 1-based line and character
// column.
func lineColumn(src []byte, pos int) (line, col int) {
	pos = min(max(pos, 0), len(src))
	before := src[:pos]
	line = 1 + bytes.Count(before, []byte{'\n'})
	if i := bytes.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, 1 + utf8.RuneCount(before)
}

// mergeOverrides applies command-line settings to a document: each
// top-level key of over replaces the document's, except objects (http,
// tls, api, ...), which are merged key by key. Arrays (pools, bind) are
// replaced whole, as xmrig-proxy does when -o or -b is given.
func mergeOverrides(doc, over *jsonNode) error {
	if over == nil {
		return nil
	}
	if doc.kind != nodeObject || over.kind != nodeObject {
		return errors.New("config: the configuration must be a JSON object")
	}
	for _, om := range over.members {
		cur := doc.member(om.key)
		switch {
		case cur == nil:
			doc.members = append(doc.members, om)
		case cur.kind == nodeObject && om.val.kind == nodeObject:
			for _, sub := range om.val.members {
				if c := cur.member(sub.key); c != nil {
					*c = *sub.val
				} else {
					cur.members = append(cur.members, sub)
				}
			}
		default:
			*cur = *om.val
		}
	}
	return nil
}
