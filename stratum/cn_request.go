package stratum

import (
	"bytes"
	"errors"

	"github.com/valyala/fastjson"
)

// Method is a CryptoNote stratum request method.
type Method uint8

// CryptoNote request methods. MethodUnknown covers every other method name,
// which is answered with MsgInvalidMethod.
const (
	MethodUnknown Method = iota
	MethodLogin
	MethodSubmit
	MethodKeepalived
)

// Length caps on free-form miner fields.
const (
	MaxLoginLen = 256
	MaxPassLen  = 256
	MaxAgentLen = 256
	MaxRigIDLen = 64
	MaxAlgos    = 16
)

// CryptoNote error messages sent to miners (RFC §6, xmrig-proxy wording).
const (
	MsgInvalidAddress  = "Invalid payment address provided"
	MsgInvalidPassword = "Invalid password"
	MsgUnauthenticated = "Unauthenticated"
	MsgMissingJobID    = "Missing job id"
	MsgInvalidJobID    = "Invalid job id"
	MsgInvalidNonce    = "Invalid nonce"
	MsgNiceHashNonce   = "Invalid nonce; is miner not compatible with NiceHash?"
	MsgLowDifficulty   = "Low difficulty share"
	MsgIncorrectAlgo   = "Incorrect algorithm"
	MsgInvalidMethod   = "Invalid method"
	MsgProxyFull       = "Proxy is full, try again later"
	MsgBadGateway      = "Bad gateway"
	MsgPoolTimeout     = "Pool timeout"
	MsgInvalidRequest  = "Invalid request"
	MsgDuplicateShare  = "Duplicate share"
)

// ProtocolError is a request rejection whose text is sent to the miner as
// the error message. The connection stays open.
type ProtocolError string

func (e ProtocolError) Error() string { return string(e) }

// ErrMalformed means a line is not a JSON object with a string "method";
// the connection is closed.
var ErrMalformed = errors.New("stratum: malformed request")

// Request is one parsed CryptoNote miner request. Its []byte fields are
// views into the parser's memory: valid until the next Parse on that parser.
type Request struct {
	ID     RequestID
	Method Method
	// Params holds the fields of login (Login, Pass, Agent, RigID, Algos),
	// submit (SessionID, JobID, Nonce, Result, Algo) and keepalived
	// (SessionID). Absent or non-string members are nil.
	Params Params
}

// Params are the request parameters of every CryptoNote method.
type Params struct {
	Login, Pass, Agent, RigID []byte
	Algos                     [MaxAlgos][]byte
	NumAlgos                  int
	SessionID                 []byte
	JobID, Nonce, Result      []byte
	Algo                      []byte
}

var (
	methodLogin      = []byte("login")
	methodSubmit     = []byte("submit")
	methodKeepalived = []byte("keepalived")
)

// ParseRequest parses one CryptoNote miner request line into req. It fails
// with ErrMalformed (close the connection) when the line is not JSON or has
// no string method, and with ErrBadID when the id has an unusable shape
// (reply with NullID). Field contents are checked by ValidateLogin and
// ValidateSubmit, in the order the protocol requires.
func ParseRequest(p *fastjson.Parser, line []byte, req *Request) error {
	*req = Request{}
	v, m, err := parseEnvelope(p, line, &req.ID)
	if err != nil {
		return err
	}
	switch {
	case bytes.Equal(m, methodLogin):
		req.Method = MethodLogin
	case bytes.Equal(m, methodSubmit):
		req.Method = MethodSubmit
	case bytes.Equal(m, methodKeepalived):
		req.Method = MethodKeepalived
	default:
		req.Method = MethodUnknown
		return nil
	}
	params := v.Get("params")
	if params == nil || params.Type() != fastjson.TypeObject {
		return nil
	}
	pp := &req.Params
	switch req.Method {
	case MethodLogin:
		pp.Login = str(params, "login")
		pp.Pass = str(params, "pass")
		pp.Agent = str(params, "agent")
		pp.RigID = str(params, "rigid")
		for _, a := range params.GetArray("algo") {
			if pp.NumAlgos == MaxAlgos {
				break
			}
			if s := strVal(a); IsToken(s, MaxAlgoLen) {
				pp.Algos[pp.NumAlgos] = s
				pp.NumAlgos++
			}
		}
	case MethodSubmit:
		pp.SessionID = str(params, "id")
		pp.JobID = str(params, "job_id")
		pp.Nonce = str(params, "nonce")
		pp.Result = str(params, "result")
		pp.Algo = str(params, "algo")
	case MethodKeepalived:
		pp.SessionID = str(params, "id")
	}
	return nil
}

// str returns the string member key of object v, or nil when it is absent
// or not a string.
func str(v *fastjson.Value, key string) []byte {
	return strVal(v.Get(key))
}

func strVal(v *fastjson.Value) []byte {
	if v == nil || v.Type() != fastjson.TypeString {
		return nil
	}
	b, _ := v.StringBytes()
	if b == nil {
		b = []byte{}
	}
	return b
}

// ValidateLogin checks the login member: present, non-empty text of at most
// MaxLoginLen bytes. It also clears Agent and RigID when they are not
// acceptable text (they are informational and fall back to defaults) and
// reports a Pass that is not text as MsgInvalidPassword.
func (p *Params) ValidateLogin() error {
	if len(p.Login) == 0 || !IsText(p.Login, MaxLoginLen) {
		return ProtocolError(MsgInvalidAddress)
	}
	if p.Pass != nil && !IsText(p.Pass, MaxPassLen) {
		return ProtocolError(MsgInvalidPassword)
	}
	if !IsText(p.Agent, MaxAgentLen) {
		p.Agent = nil
	}
	if !IsText(p.RigID, MaxRigIDLen) {
		p.RigID = nil
	}
	return nil
}

// ValidateSubmit checks a submit's fields in the order xmrig-proxy does:
// job id present, job id shape, nonce (exactly 8 lowercase hex), result (64
// hex; a malformed result is a low-difficulty share), algo shape. The
// session id is checked by the caller first (MsgUnauthenticated).
func (p *Params) ValidateSubmit() error {
	if len(p.JobID) == 0 {
		return ProtocolError(MsgMissingJobID)
	}
	if !IsToken(p.JobID, MaxJobIDLen) {
		return ProtocolError(MsgInvalidJobID)
	}
	if len(p.Nonce) != 8 || !isHexChars(p.Nonce) {
		return ProtocolError(MsgInvalidNonce)
	}
	if len(p.Result) != 64 || !isHexChars(p.Result) {
		return ProtocolError(MsgLowDifficulty)
	}
	if p.Algo != nil && !IsToken(p.Algo, MaxAlgoLen) {
		return ProtocolError(MsgIncorrectAlgo)
	}
	return nil
}

// NonceFixedByte returns the top byte of a validated 8-hex little-endian
// nonce: hex characters 6-7, the byte a NiceHash miner must keep fixed.
func NonceFixedByte(nonce []byte) byte {
	return hexVal(nonce[6])<<4 | hexVal(nonce[7])
}
