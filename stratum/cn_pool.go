package stratum

import (
	"bytes"
	"errors"

	"github.com/valyala/fastjson"
)

// ErrInvalidJob means a pool sent a job that fails Job.IsValid. The job is
// dropped; the rest of the message is still usable.
var ErrInvalidJob = errors.New("stratum: invalid job from pool")

// PoolMessageKind classifies a CryptoNote message from a pool.
type PoolMessageKind uint8

// Pool message kinds.
const (
	// PoolUnknown is a notification with a method the proxy ignores.
	PoolUnknown PoolMessageKind = iota
	// PoolResponse answers one of our requests (login, submit, keepalived).
	PoolResponse
	// PoolJobNotify is a "job" notification.
	PoolJobNotify
	// PoolReconnect is a "client.reconnect" request: Host and Port say
	// where to go ("" and 0: reconnect to the same pool), Wait how many
	// seconds to wait first.
	PoolReconnect
)

// PoolMessage is one parsed CryptoNote pool message. Error, Status,
// SessionID and Method are views valid until the next Parse on the parser;
// Job owns its strings.
type PoolMessage struct {
	Kind PoolMessageKind
	// ID is the id of the request a response answers; HasID is false when
	// the response id is missing or not a number (it cannot be ours).
	ID    uint64
	HasID bool
	// Error is the pool's error message, nil on success. A response whose
	// error has no readable message gets "error".
	Error []byte
	// Status is result.status ("OK", "KEEPALIVED"), if any.
	Status []byte
	// SessionID is result.id of a login response.
	SessionID []byte
	// Job is the job of a login response or job notification; HasJob says
	// whether one was present and valid.
	Job    Job
	HasJob bool
	Method []byte
	// Host, Port and Wait are the parameters of client.reconnect.
	Host []byte
	Port int
	Wait int
}

var (
	errorFallback   = []byte("error")
	methodJob       = []byte("job")
	methodReconnect = []byte("client.reconnect")
)

// ParsePoolMessage parses one line from a CryptoNote pool. It returns
// ErrMalformed for a line that is not a JSON object, and ErrInvalidJob when
// a job was present but invalid (m is filled otherwise).
func ParsePoolMessage(p *fastjson.Parser, line []byte, m *PoolMessage) error {
	*m = PoolMessage{}
	v, err := p.ParseBytes(line)
	if err != nil || v.Type() != fastjson.TypeObject {
		return ErrMalformed
	}
	if mv := v.Get("method"); mv != nil && mv.Type() == fastjson.TypeString {
		m.Method, _ = mv.StringBytes()
		switch {
		case bytes.Equal(m.Method, methodJob):
			m.Kind = PoolJobNotify
			return readJob(v.Get("params"), m)
		case bytes.Equal(m.Method, methodReconnect):
			m.Kind = PoolReconnect
			readReconnect(v.Get("params"), m)
			return nil
		}
		m.Kind = PoolUnknown
		return nil
	}
	m.Kind = PoolResponse
	if iv := v.Get("id"); iv != nil && iv.Type() == fastjson.TypeNumber {
		if id, err := iv.Uint64(); err == nil {
			m.ID, m.HasID = id, true
		}
	}
	if ev := v.Get("error"); ev != nil && ev.Type() != fastjson.TypeNull {
		m.Error = str(ev, "message")
		if len(m.Error) == 0 || !IsText(m.Error, 256) {
			m.Error = errorFallback
		}
		return nil
	}
	res := v.Get("result")
	if res == nil || res.Type() != fastjson.TypeObject {
		return nil
	}
	m.Status = str(res, "status")
	m.SessionID = str(res, "id")
	if jv := res.Get("job"); jv != nil {
		return readJob(jv, m)
	}
	return nil
}

// readReconnect reads client.reconnect parameters: [host, port, wait] with
// the port as a number or a string, or an object with the same keys.
// Unreadable parameters mean "reconnect to the same pool".
func readReconnect(v *fastjson.Value, m *PoolMessage) {
	if v == nil {
		return
	}
	var host, port, wait *fastjson.Value
	switch v.Type() {
	case fastjson.TypeArray:
		a, _ := v.Array()
		if len(a) > 0 {
			host = a[0]
		}
		if len(a) > 1 {
			port = a[1]
		}
		if len(a) > 2 {
			wait = a[2]
		}
	case fastjson.TypeObject:
		host, port, wait = v.Get("host"), v.Get("port"), v.Get("wait")
	default:
		return
	}
	if h := strVal(host); IsToken(h, 255) {
		m.Host = h
	}
	m.Port = smallInt(port, 65535)
	m.Wait = smallInt(wait, 3600)
	if m.Host == nil || m.Port == 0 {
		m.Host, m.Port = nil, 0
	}
}

// smallInt reads a non-negative integer up to max given as a JSON number or
// a decimal string; anything else reads as 0.
func smallInt(v *fastjson.Value, max int) int {
	if v == nil {
		return 0
	}
	var n int
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err != nil || f < 0 || f > float64(max) || f != float64(int(f)) {
			return 0
		}
		n = int(f)
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		if len(s) == 0 || len(s) > 5 {
			return 0
		}
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0
			}
			n = n*10 + int(c-'0')
		}
		if n > max {
			return 0
		}
	}
	return n
}

// readJob fills m.Job from a job object and validates it.
func readJob(v *fastjson.Value, m *PoolMessage) error {
	if v == nil || v.Type() != fastjson.TypeObject {
		return ErrInvalidJob
	}
	j := &m.Job
	j.Blob = string(str(v, "blob"))
	j.JobID = string(str(v, "job_id"))
	j.Target = string(str(v, "target"))
	j.Algo = string(str(v, "algo"))
	j.SeedHash = string(str(v, "seed_hash"))
	if hv := v.Get("height"); hv != nil && hv.Type() == fastjson.TypeNumber {
		j.Height, _ = hv.Uint64()
	}
	if sid := str(v, "id"); sid != nil && m.SessionID == nil {
		m.SessionID = sid
	}
	if !j.IsValid() {
		return ErrInvalidJob
	}
	m.HasJob = true
	return nil
}

// PoolLogin holds what the proxy sends in its own login to a pool.
type PoolLogin struct {
	Login, Pass, Agent, RigID string
	Algos                     []string
}

// AppendPoolLogin appends a login request line for a pool.
func AppendPoolLogin(dst []byte, id uint64, l *PoolLogin) []byte {
	dst = appendRequestHead(dst, id, "login")
	dst = append(dst, `{"login":`...)
	dst = AppendJSONString(dst, l.Login)
	dst = append(dst, `,"pass":`...)
	dst = AppendJSONString(dst, l.Pass)
	dst = append(dst, `,"agent":`...)
	dst = AppendJSONString(dst, l.Agent)
	if l.RigID != "" {
		dst = append(dst, `,"rigid":`...)
		dst = AppendJSONString(dst, l.RigID)
	}
	if len(l.Algos) > 0 {
		dst = append(dst, `,"algo":[`...)
		for i, a := range l.Algos {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, a)
		}
		dst = append(dst, ']')
	}
	return append(dst, "}}\n"...)
}

// AppendPoolSubmit appends a submit request line for a pool. All fields must
// already be validated tokens/hex (ValidateSubmit, Job.IsValid).
func AppendPoolSubmit(dst []byte, id uint64, session string, jobID, nonce, result, algo []byte) []byte {
	dst = appendRequestHead(dst, id, "submit")
	dst = append(dst, `{"id":"`...)
	dst = append(dst, session...)
	dst = append(dst, `","job_id":"`...)
	dst = append(dst, jobID...)
	dst = append(dst, `","nonce":"`...)
	dst = append(dst, nonce...)
	dst = append(dst, `","result":"`...)
	dst = append(dst, result...)
	dst = append(dst, '"')
	if len(algo) > 0 {
		dst = append(dst, `,"algo":"`...)
		dst = append(dst, algo...)
		dst = append(dst, '"')
	}
	return append(dst, "}}\n"...)
}

// AppendPoolKeepalived appends a keepalived request line for a pool.
func AppendPoolKeepalived(dst []byte, id uint64, session string) []byte {
	dst = appendRequestHead(dst, id, "keepalived")
	dst = append(dst, `{"id":"`...)
	dst = append(dst, session...)
	return append(dst, `"}}`+"\n"...)
}

func appendRequestHead(dst []byte, id uint64, method string) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendUint(dst, id)
	dst = append(dst, `,"jsonrpc":"2.0","method":"`...)
	dst = append(dst, method...)
	return append(dst, `","params":`...)
}
