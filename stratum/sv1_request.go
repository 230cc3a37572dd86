package stratum

import (
	"math"

	"github.com/valyala/fastjson"
)

// SV1Method is a Bitcoin-family stratum v1 request method (miner to proxy).
type SV1Method uint8

// Stratum v1 request methods. SV1MethodUnknown covers every other method
// name; it is answered with ErrSV1UnknownMethod.
const (
	SV1MethodUnknown SV1Method = iota
	SV1MethodSubscribe
	SV1MethodAuthorize
	SV1MethodConfigure
	SV1MethodSuggestDifficulty
	SV1MethodExtranonceSubscribe
	SV1MethodSubmit
)

// Limits on stratum v1 fields. Anything outside them is rejected.
const (
	// MaxSV1ExtranonceSize caps extranonce1 and extranonce2_size, in bytes.
	MaxSV1ExtranonceSize = 16
	// MaxSV1SessionIDLen caps a subscribe session (resume) id, a token.
	MaxSV1SessionIDLen = 64
	// MaxSV1MessageLen caps pool texts (error messages, client.show_message).
	MaxSV1MessageLen = 256
	// MaxSV1HostLen caps the host of a client.reconnect.
	MaxSV1HostLen = 255
	// MaxSV1Difficulty is the largest difficulty accepted anywhere (2^64).
	MaxSV1Difficulty = 18446744073709551616.0
)

// SV1DefaultVersionMask is the BIP320 version-rolling mask (bits 13-28),
// the mask ckpool and most pools grant and the widest a proxy should ask for.
const SV1DefaultVersionMask uint32 = 0x1fffe000

// SV1Extensions is a set of BIP310 mining.configure extension codes.
type SV1Extensions uint8

// BIP310 extension codes, emitted in this order in a configure reply.
const (
	SV1ExtVersionRolling      SV1Extensions = 1 << iota // "version-rolling"
	SV1ExtMinimumDifficulty                             // "minimum-difficulty"
	SV1ExtSubscribeExtranonce                           // "subscribe-extranonce"
	SV1ExtInfo                                          // "info"
)

// SV1Request is one parsed stratum v1 miner request. Its []byte fields are
// views into the parser's memory: valid until the next Parse on that parser.
// Only the member matching Method is filled. A request value is not safe for
// concurrent use; it holds no pointers beyond the views.
type SV1Request struct {
	ID     RequestID
	Method SV1Method

	Subscribe         SV1Subscribe
	Authorize         SV1Authorize
	Configure         SV1Configure
	SuggestDifficulty SV1SuggestDifficulty
	Submit            SV1Submit
}

// SV1Subscribe holds mining.subscribe [user_agent?, session_id?]. Absent or
// non-string params are nil.
type SV1Subscribe struct {
	UserAgent []byte
	SessionID []byte
}

// Sanitize clears a UserAgent that is not text of at most MaxAgentLen bytes
// and a SessionID that is not a token of at most MaxSV1SessionIDLen bytes.
// Both are optional, so a subscribe never fails on them.
func (s *SV1Subscribe) Sanitize() {
	if !IsText(s.UserAgent, MaxAgentLen) {
		s.UserAgent = nil
	}
	if s.SessionID != nil && !IsToken(s.SessionID, MaxSV1SessionIDLen) {
		s.SessionID = nil
	}
}

// SV1Authorize holds mining.authorize [user, pass?]. A pass that is absent,
// null or not a string is nil (pools behind a proxy ignore it anyway).
type SV1Authorize struct {
	User []byte
	Pass []byte
}

// Validate checks that User is non-empty text of at most MaxLoginLen bytes
// and that Pass, when present, is text of at most MaxPassLen bytes. It
// returns ErrSV1Unauthorized otherwise.
func (a *SV1Authorize) Validate() error {
	if len(a.User) == 0 || !IsText(a.User, MaxLoginLen) {
		return ErrSV1Unauthorized
	}
	if a.Pass != nil && !IsText(a.Pass, MaxPassLen) {
		return ErrSV1Unauthorized
	}
	return nil
}

// SV1Configure holds mining.configure [[codes...], {params}] (BIP310).
// Unknown extension codes and parameters are ignored.
type SV1Configure struct {
	// Extensions are the known codes the miner listed.
	Extensions SV1Extensions
	// VersionMask is "version-rolling.mask" (8 hex, either case), or
	// 0xffffffff when absent, the BIP310 default.
	VersionMask uint32
	// MinBitCount is "version-rolling.min-bit-count" (0-32), 0 when absent or
	// unreadable; BIP310 makes it diagnostic only.
	MinBitCount int
	// MinimumDifficulty is "minimum-difficulty.value" (>= 0; 0 disables).
	MinimumDifficulty float64

	invalid bool
}

// Validate returns ErrSV1BadConfigure when the code list is missing, the
// parameters are not an object, a requested version-rolling mask is not 8
// hex digits, or a requested minimum difficulty is missing, negative, not
// finite or above MaxSV1Difficulty.
func (c *SV1Configure) Validate() error {
	if c.invalid {
		return ErrSV1BadConfigure
	}
	return nil
}

// SV1SuggestDifficulty holds mining.suggest_difficulty [diff].
type SV1SuggestDifficulty struct {
	Difficulty float64
	ok         bool
}

// Validate returns ErrSV1BadDifficulty unless the difficulty is a finite
// JSON number in (0, MaxSV1Difficulty].
func (d *SV1SuggestDifficulty) Validate() error {
	if !d.ok {
		return ErrSV1BadDifficulty
	}
	return nil
}

// SV1Submit holds mining.submit [worker, job_id, extranonce2, ntime, nonce,
// version_bits?]. The []byte fields are views, nil when absent or not a
// string (VersionBits is nil only when absent or null, so a non-string one
// fails Validate); the *Value fields are filled by Validate.
type SV1Submit struct {
	Worker, JobID, Extranonce2, NTime, Nonce, VersionBits []byte

	// NTimeValue, NonceValue and VersionBitsValue are the big-endian hex
	// fields decoded by a successful Validate (VersionBitsValue is 0 when
	// VersionBits is nil).
	NTimeValue, NonceValue, VersionBitsValue uint32
}

// Validate checks a submit in this order: worker (non-empty text of at most
// MaxLoginLen bytes, else ErrSV1Unauthorized), job id (a token of at most
// MaxJobIDLen bytes, else ErrSV1JobNotFound), extranonce2 (exactly 2*e2Size
// hex digits of either case), ntime and nonce (8 hex digits each),
// version_bits when present (8 hex digits, and bits & ^versionMask == 0: a
// miner that did not negotiate version rolling has versionMask 0). On
// success it fills NTimeValue, NonceValue and VersionBitsValue. Whether the
// worker was authorized and the job exists is the caller's check.
func (s *SV1Submit) Validate(e2Size int, versionMask uint32) error {
	if len(s.Worker) == 0 || !IsText(s.Worker, MaxLoginLen) {
		return ErrSV1Unauthorized
	}
	if !IsToken(s.JobID, MaxJobIDLen) {
		return ErrSV1JobNotFound
	}
	if s.Extranonce2 == nil || len(s.Extranonce2) != 2*e2Size || !isHexFold(s.Extranonce2) {
		return ErrSV1BadExtranonce2
	}
	ntime, ok := parseHex32(s.NTime)
	if !ok {
		return ErrSV1BadNTime
	}
	nonce, ok := parseHex32(s.Nonce)
	if !ok {
		return ErrSV1BadNonce
	}
	var bits uint32
	if s.VersionBits != nil {
		if bits, ok = parseHex32(s.VersionBits); !ok {
			return ErrSV1BadVersionBits
		}
		if bits&^versionMask != 0 {
			return ErrSV1VersionBitsNotMask
		}
	}
	s.NTimeValue, s.NonceValue, s.VersionBitsValue = ntime, nonce, bits
	return nil
}

// ParseSV1Request parses one stratum v1 miner request line into req. It
// fails with ErrMalformed (close the connection) when the line is not a JSON
// object with a string method, and with ErrBadID when the id is not a JSON
// integer, a short token string or null (req.ID is then NullID, to reply
// with). Parameters that are missing or of the wrong JSON type read as
// nil/zero; the Validate methods of the member matching req.Method reject
// them. Views in req are valid until the next Parse on p. Parsing does not
// allocate for well-formed lines.
func ParseSV1Request(p *fastjson.Parser, line []byte, req *SV1Request) error {
	*req = SV1Request{}
	v, m, err := parseEnvelope(p, line, &req.ID)
	if err != nil {
		return err
	}
	if !isJSONID(req.ID.Bytes()) {
		req.ID = NullID
		return ErrBadID
	}
	switch string(m) {
	case "mining.subscribe":
		req.Method = SV1MethodSubscribe
	case "mining.authorize":
		req.Method = SV1MethodAuthorize
	case "mining.configure":
		req.Method = SV1MethodConfigure
	case "mining.suggest_difficulty":
		req.Method = SV1MethodSuggestDifficulty
	case "mining.extranonce.subscribe":
		req.Method = SV1MethodExtranonceSubscribe
	case "mining.submit":
		req.Method = SV1MethodSubmit
	default:
		req.Method = SV1MethodUnknown
		return nil
	}
	params := arrayOf(v.Get("params"))
	switch req.Method {
	case SV1MethodSubscribe:
		req.Subscribe.UserAgent = strVal(elem(params, 0))
		req.Subscribe.SessionID = strVal(elem(params, 1))
	case SV1MethodAuthorize:
		req.Authorize.User = strVal(elem(params, 0))
		req.Authorize.Pass = strVal(elem(params, 1))
	case SV1MethodConfigure:
		req.Configure.parse(params)
	case SV1MethodSuggestDifficulty:
		d := &req.SuggestDifficulty
		d.Difficulty, d.ok = difficultyVal(elem(params, 0), false)
	case SV1MethodSubmit:
		s := &req.Submit
		s.Worker = strVal(elem(params, 0))
		s.JobID = strVal(elem(params, 1))
		s.Extranonce2 = strVal(elem(params, 2))
		s.NTime = strVal(elem(params, 3))
		s.Nonce = strVal(elem(params, 4))
		s.VersionBits = strVal(elem(params, 5))
		if vb := elem(params, 5); s.VersionBits == nil && vb != nil && vb.Type() != fastjson.TypeNull {
			s.VersionBits = []byte{} // present but not a string: invalid, not absent
		}
	}
	return nil
}

// isJSONID reports whether an id accepted by readID is valid JSON to echo.
// fastjson takes any run of [0-9.eE+-] as a number and readID lets '-'
// anywhere, so "--", "1-2" and "0123" would otherwise be echoed verbatim
// into replies that are not JSON. A number must be -?(0|[1-9][0-9]*).
func isJSONID(b []byte) bool {
	if len(b) == 0 || b[0] == '"' || b[0] == 'n' {
		return true
	}
	if b[0] == '-' {
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

// parse reads BIP310 configure params.
func (c *SV1Configure) parse(params []*fastjson.Value) {
	c.VersionMask = 0xffffffff
	list := elem(params, 0)
	if list == nil || list.Type() != fastjson.TypeArray {
		c.invalid = true
		return
	}
	codes, _ := list.Array()
	for _, cv := range codes {
		switch string(strVal(cv)) {
		case "version-rolling":
			c.Extensions |= SV1ExtVersionRolling
		case "minimum-difficulty":
			c.Extensions |= SV1ExtMinimumDifficulty
		case "subscribe-extranonce":
			c.Extensions |= SV1ExtSubscribeExtranonce
		case "info":
			c.Extensions |= SV1ExtInfo
		}
	}
	obj := elem(params, 1)
	if obj != nil && obj.Type() == fastjson.TypeNull {
		obj = nil
	}
	if obj != nil && obj.Type() != fastjson.TypeObject {
		c.invalid = true
		return
	}
	if c.Extensions&SV1ExtVersionRolling != 0 {
		if mv := obj.Get("version-rolling.mask"); mv != nil {
			mask, ok := parseHex32(strVal(mv))
			if !ok {
				c.invalid = true
			}
			c.VersionMask = mask
		}
		if bv := obj.Get("version-rolling.min-bit-count"); bv != nil && bv.Type() == fastjson.TypeNumber {
			if f, err := bv.Float64(); err == nil && f >= 0 && f <= 32 && f == math.Trunc(f) {
				c.MinBitCount = int(f)
			}
		}
	}
	if c.Extensions&SV1ExtMinimumDifficulty != 0 {
		d, ok := difficultyVal(obj.Get("minimum-difficulty.value"), true)
		if !ok {
			c.invalid = true
		}
		c.MinimumDifficulty = d
	}
}

// elem returns element i of a, or nil.
func elem(a []*fastjson.Value, i int) *fastjson.Value {
	if i < len(a) {
		return a[i]
	}
	return nil
}

// arrayOf returns the elements of an array value, or nil when v is not an
// array. It never allocates.
func arrayOf(v *fastjson.Value) []*fastjson.Value {
	if v == nil || v.Type() != fastjson.TypeArray {
		return nil
	}
	a, _ := v.Array()
	return a
}

// difficultyVal reads a difficulty: a JSON number that is finite, at most
// MaxSV1Difficulty and > 0 (>= 0 when zeroOK). fastjson also accepts NaN,
// Inf and out-of-range exponents as numbers; they are refused here.
func difficultyVal(v *fastjson.Value, zeroOK bool) (float64, bool) {
	if v == nil || v.Type() != fastjson.TypeNumber {
		return 0, false
	}
	f, err := v.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > MaxSV1Difficulty {
		return 0, false
	}
	if f == 0 {
		return 0, zeroOK // also turns -0 into 0
	}
	return f, true
}

// parseHex32 decodes exactly 8 hex digits (either case) as a big-endian
// uint32, the stratum form of version, nbits, ntime, nonce and masks.
func parseHex32[T ~string | ~[]byte](s T) (uint32, bool) {
	if len(s) != 8 || !isHexFold(s) {
		return 0, false
	}
	var v uint32
	for i := 0; i < 8; i++ {
		v = v<<4 | uint32(hexVal(s[i]))
	}
	return v, true
}

// AppendHex32 appends v as 8 lowercase big-endian hex digits, the stratum
// form of version, nbits, ntime, nonce, version bits and masks (test miners
// format their submits with it).
func AppendHex32(dst []byte, v uint32) []byte {
	return append(dst,
		hexDigits[v>>28], hexDigits[v>>24&0xf], hexDigits[v>>20&0xf], hexDigits[v>>16&0xf],
		hexDigits[v>>12&0xf], hexDigits[v>>8&0xf], hexDigits[v>>4&0xf], hexDigits[v&0xf])
}

// appendLowerHex appends validated hex text (either case) in lowercase.
func appendLowerHex(dst, hex []byte) []byte {
	for _, c := range hex {
		dst = append(dst, c|0x20) // '0'-'9' already have bit 5 set
	}
	return dst
}
