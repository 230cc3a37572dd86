package stratum

import (
	"errors"

	"github.com/valyala/fastjson"
)

// MaxIDLen is the longest JSON-RPC request id kept, as raw JSON text
// (20 digits of a uint64, or a quoted string of up to 30 bytes).
const MaxIDLen = 32

// ErrBadID means a request id is neither a number, a short token string nor
// null. The request is answered with a null id.
var ErrBadID = errors.New("stratum: bad request id")

// RequestID is a JSON-RPC id kept as its raw JSON text so a reply can echo
// it exactly: a number, a quoted token string, or null. It is a value type
// with no pointers, safe to store in per-request state.
type RequestID struct {
	n uint8
	b [MaxIDLen]byte
}

// NullID is the id of a reply to a request whose id could not be read.
var NullID = RequestID{n: 4, b: [MaxIDLen]byte{'n', 'u', 'l', 'l'}}

// Bytes returns the raw JSON text of the id. The slice aliases id.
func (id *RequestID) Bytes() []byte {
	if id.n == 0 {
		return NullID.b[:4]
	}
	return id.b[:id.n]
}

// String returns the raw JSON text of the id.
func (id RequestID) String() string { return string(id.Bytes()) }

// NumericID returns a RequestID holding the decimal number v.
func NumericID(v uint64) RequestID {
	var id RequestID
	id.n = uint8(len(appendUint(id.b[:0], v)))
	return id
}

// readID extracts and validates the "id" member of a request object. A
// missing id reads as null. On ErrBadID, id is NullID, so a reply can
// always echo it.
func readID(v *fastjson.Value, id *RequestID) error {
	*id = NullID
	iv := v.Get("id")
	if iv == nil {
		return nil
	}
	switch iv.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeNumber:
		raw := iv.MarshalTo(id.b[:0])
		if len(raw) == 0 || len(raw) > 20 || &raw[0] != &id.b[0] || !isJSONInteger(raw) {
			*id = NullID
			return ErrBadID
		}
		id.n = uint8(len(raw))
		return nil
	case fastjson.TypeString:
		s, _ := iv.StringBytes()
		if !IsToken(s, MaxIDLen-2) {
			return ErrBadID
		}
		b := append(id.b[:0], '"')
		b = append(b, s...)
		b = append(b, '"')
		id.n = uint8(len(b))
		return nil
	}
	return ErrBadID
}

// isJSONInteger reports whether b is -?(0|[1-9][0-9]*).
func isJSONInteger(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || (b[0] == '0' && len(b) > 1) {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// appendUint appends the decimal text of v.
func appendUint(dst []byte, v uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

// parseEnvelope parses what every request line of either dialect must
// have: a JSON object with a string method and an id of a usable shape
// (read into id; NullID when absent or unusable). It returns the parsed
// object and the method name, both valid until the next Parse on p, and
// ErrMalformed (close the connection) or ErrBadID (reply with NullID).
func parseEnvelope(p *fastjson.Parser, line []byte, id *RequestID) (*fastjson.Value, []byte, error) {
	v, err := p.ParseBytes(line)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, nil, ErrMalformed
	}
	mv := v.Get("method")
	if mv == nil || mv.Type() != fastjson.TypeString {
		return nil, nil, ErrMalformed
	}
	if err := readID(v, id); err != nil {
		*id = NullID // readID may leave a half-written id behind
		return nil, nil, err
	}
	m, _ := mv.StringBytes()
	return v, m, nil
}
