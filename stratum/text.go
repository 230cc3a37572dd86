package stratum

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// IsHex reports whether s is non-empty, of even length and made only of
// lowercase hex digits.
func IsHex[T ~string | ~[]byte](s T) bool {
	if len(s) == 0 || len(s)%2 != 0 {
		return false
	}
	return isHexChars(s)
}

// isHexChars reports whether every byte of s is a lowercase hex digit.
func isHexChars[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isHexFold reports whether every byte of s is a hex digit of either case.
// (Folding with c|0x20 first would let control bytes 0x10-0x19, which a
// JSON "\u0010" escape produces, pass as the digits '0'-'9'.)
func isHexFold[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// hexVal returns the value of one hex digit of either case (c must be one).
func hexVal(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return (c | 0x20) - 'a' + 10
}

// DecodeHex decodes the hex string s (either case) into dst and returns the
// extended slice, or ok == false when s is not valid hex.
func DecodeHex[T ~string | ~[]byte](dst []byte, s T) (out []byte, ok bool) {
	if len(s)%2 != 0 || !isHexFold(s) {
		return dst, false
	}
	for i := 0; i < len(s); i += 2 {
		dst = append(dst, hexVal(s[i])<<4|hexVal(s[i+1]))
	}
	return dst, true
}

// AppendHex appends the lowercase hex encoding of b to dst.
func AppendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0x0f])
	}
	return dst
}

// AppendHexByte appends the two lowercase hex digits of b to dst.
func AppendHexByte(dst []byte, b byte) []byte {
	return append(dst, hexDigits[b>>4], hexDigits[b&0x0f])
}

// IsToken reports whether s is a non-empty identifier of at most max bytes
// made of printable ASCII other than '"' and '\\'. Job ids, algorithm names
// and session ids from pools must be tokens: they are copied into JSON
// without escaping.
func IsToken[T ~string | ~[]byte](s T, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// IsText reports whether s is at most max bytes of valid UTF-8 without
// control characters. Free-form miner fields (login, password, agent, rig
// id) must be text before they are stored, logged or shown in the API.
func IsText(s []byte, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError || (r >= 0x80 && r < 0xa0) {
			return false
		}
		i += size
	}
	return true
}

// AppendJSONString appends s as a JSON string literal, escaping quotes,
// backslashes and control characters. Bytes >= 0x80 are copied as they are:
// callers pass validated UTF-8 (see IsText).
func AppendJSONString[T ~string | ~[]byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0x0f])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
