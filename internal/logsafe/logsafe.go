// Package logsafe escapes text that came from the network (miner logins,
// agents, rig ids, worker names, pool messages and hosts) before it is
// written to a log, so that no log line can be split, forged, hidden or
// visually reordered, on a terminal or in a file.
//
// One function does the work, Append; String, AppendField and the slog
// Handler are that function in the shapes the callers need. The escapes
// are Go string-literal escapes, so the output is unambiguous (a backslash
// in the input is written as \\) and strconv.Unquote reads it back:
//
//	\\ \t \n \r        backslash, tab, newline, carriage return
//	\xNN               any other C0 control, DEL, a byte that is not valid
//	                   UTF-8 and, in fields, the shell characters below
//	\uNNNN \UNNNNNNNN  C1 controls (U+0080–U+009F) and every character of
//	                   the Unicode categories Cf (format: the bidi embeddings,
//	                   overrides, isolates and marks U+202A–U+202E,
//	                   U+2066–U+2069, U+200E, U+200F, U+061C; zero-width
//	                   characters, U+FEFF, tag characters), Zl (U+2028) and
//	                   Zp (U+2029)
//
// Everything else (printable ASCII, letters and symbols of any script,
// spaces) is copied as it is.
package logsafe

import (
	"unicode"
	"unicode/utf8"
)

// Mode selects which printable ASCII characters are escaped besides the
// always-escaped set (controls, DEL, backslash, bad UTF-8, format and
// separator characters).
type Mode uint8

const (
	// Text escapes only what can break or disguise a line. For the
	// process log (slog), whose handler quotes values itself.
	Text Mode = iota
	// Field also escapes the quotes and the characters a shell treats as
	// syntax — " ' ` $ ; & | < > ( ) — so a log file line stays inert
	// data even if a careless script or a shell ever reads it: no command
	// separator, substitution, redirection, subshell or zsh glob
	// qualifier (which runs code), and no quote that could pair with one
	// on another line, survives. For the access and share log files.
	Field
)

const hexDigits = "0123456789abcdef"

// escapeASCII[m][c] reports whether ASCII byte c is escaped in mode m.
var escapeASCII = func() (t [2][utf8.RuneSelf]bool) {
	for c := 0; c < utf8.RuneSelf; c++ {
		bad := c < 0x20 || c == 0x7f || c == '\\'
		t[Text][c] = bad
		t[Field][c] = bad
	}
	for _, c := range []byte("\"'`$;&|<>()") {
		t[Field][c] = true
	}
	return t
}()

// escapeRune reports whether a decoded non-ASCII rune is escaped.
func escapeRune(r rune) bool {
	if r < 0xa0 {
		return true // C1 controls (0x80–0x9f)
	}
	return r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Cf, r) // Zl, Zp, Cf
}

// Append appends s to dst escaped in mode m, writing at most maxBytes
// bytes (maxBytes < 0: no limit). It stops before an escape or a
// character that would not fit whole, so a truncated value is still well
// formed. It allocates only when dst lacks capacity: with room for
// maxBytes it allocates nothing, so event loops may call it.
func Append(dst []byte, s string, maxBytes int, m Mode) []byte {
	if m > Field {
		m = Field
	}
	limit := len(dst) + maxBytes
	if maxBytes < 0 {
		limit = int(^uint(0) >> 1)
	}
	table := &escapeASCII[m]
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !table[c] {
				if len(dst)+1 > limit {
					return dst
				}
				dst = append(dst, c)
				i++
				continue
			}
			var esc [4]byte
			n := 2
			esc[0] = '\\'
			switch c {
			case '\\':
				esc[1] = '\\'
			case '\t':
				esc[1] = 't'
			case '\n':
				esc[1] = 'n'
			case '\r':
				esc[1] = 'r'
			default:
				esc[1], esc[2], esc[3], n = 'x', hexDigits[c>>4], hexDigits[c&0xf], 4
			}
			if len(dst)+n > limit {
				return dst
			}
			dst = append(dst, esc[:n]...)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			if len(dst)+4 > limit {
				return dst
			}
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		case escapeRune(r):
			n := 6
			if r > 0xffff {
				n = 10
			}
			if len(dst)+n > limit {
				return dst
			}
			if n == 6 {
				dst = append(dst, '\\', 'u')
			} else {
				dst = append(dst, '\\', 'U', hexDigits[r>>28&0xf], hexDigits[r>>24&0xf], hexDigits[r>>20&0xf], hexDigits[r>>16&0xf])
			}
			dst = append(dst, hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
		default:
			if len(dst)+size > limit {
				return dst
			}
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// Needs reports whether Append would change s in mode m.
func Needs(s string, m Mode) bool {
	if m > Field {
		m = Field
	}
	table := &escapeASCII[m]
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if table[c] {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || escapeRune(r) {
			return true
		}
		i += size
	}
	return false
}

// String returns s escaped in Text mode; s itself (no allocation) when
// nothing needs escaping.
func String(s string) string {
	if !Needs(s, Text) {
		return s
	}
	return string(Append(make([]byte, 0, len(s)+16), s, -1, Text))
}
