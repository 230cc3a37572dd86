package stratum

import (
	"math"

	"github.com/valyala/fastjson"
)

// SV1PoolMessageKind classifies a stratum v1 message from a pool.
type SV1PoolMessageKind uint8

// Stratum v1 pool message kinds.
const (
	// SV1PoolUnknown is a notification or request with a method the proxy
	// does not handle (Method says which).
	SV1PoolUnknown SV1PoolMessageKind = iota
	// SV1PoolResponse answers one of our requests; see Result.
	SV1PoolResponse
	// SV1PoolNotify is mining.notify; Job holds the job.
	SV1PoolNotify
	// SV1PoolSetDifficulty is mining.set_difficulty; see Difficulty.
	SV1PoolSetDifficulty
	// SV1PoolSetExtranonce is mining.set_extranonce; see Extranonce1 and
	// Extranonce2Size.
	SV1PoolSetExtranonce
	// SV1PoolSetVersionMask is mining.set_version_mask; see VersionMask.
	SV1PoolSetVersionMask
	// SV1PoolReconnect is client.reconnect; see Host, Port, Wait.
	SV1PoolReconnect
	// SV1PoolShowMessage is client.show_message; see Message.
	SV1PoolShowMessage
)

// SV1ResultKind says what the result of a pool response holds.
type SV1ResultKind uint8

// Result kinds of a pool response.
const (
	// SV1ResultNull is a null or missing result (usually with an error).
	SV1ResultNull SV1ResultKind = iota
	// SV1ResultBool is true or false (authorize, submit, ...); see ResultBool.
	SV1ResultBool
	// SV1ResultSubscribe is a subscribe result; see Extranonce1,
	// Extranonce2Size and SessionID.
	SV1ResultSubscribe
	// SV1ResultConfigure is a configure result object; see VersionRolling,
	// VersionMask and MinimumDifficulty.
	SV1ResultConfigure
	// SV1ResultOther is any other result.
	SV1ResultOther
)

// SV1PoolMessage is one parsed stratum v1 pool message. The []byte fields
// are views valid until the next Parse on the parser, each validated as
// documented; Job owns its strings. Not safe for concurrent use.
type SV1PoolMessage struct {
	Kind SV1PoolMessageKind
	// Method is the method of a notification or request (a view, not
	// validated: compare it, do not log or forward it).
	Method []byte
	// ID is the numeric id of a response (or of a pool request); HasID is
	// false when it is missing, null or not a uint64.
	ID    uint64
	HasID bool

	// Response fields.
	Result     SV1ResultKind
	ResultBool bool
	// Error is the pool's error message (text of at most MaxSV1MessageLen
	// bytes, or "error" when the pool sent none or an unprintable one); nil
	// on success. ErrorCode is its code, 0 when absent.
	Error     []byte
	ErrorCode int
	// VersionRolling and VersionMask are a configure result: rolling is
	// granted only with a valid 8-hex mask. MinimumDifficulty is the
	// "minimum-difficulty" answer.
	VersionRolling    bool
	MinimumDifficulty bool

	// Extranonce1 (hex of either case, at most MaxSV1ExtranonceSize bytes,
	// possibly empty) and Extranonce2Size (1..MaxSV1ExtranonceSize) come
	// from a subscribe result or mining.set_extranonce. SessionID is the
	// mining.notify subscription id of a subscribe result (a token of at most
	// MaxSV1SessionIDLen bytes, usable to resume), or nil.
	Extranonce1     []byte
	Extranonce2Size int
	SessionID       []byte

	// VersionMask is from a configure result or mining.set_version_mask.
	VersionMask uint32

	// Job is the job of a mining.notify; HasJob says it was present and
	// valid.
	Job    SV1Job
	HasJob bool

	// Difficulty is mining.set_difficulty's: finite, in (0, MaxSV1Difficulty].
	Difficulty float64

	// Host (a token of at most MaxSV1HostLen bytes, or nil to keep the
	// current one), Port (0 to keep the current one) and Wait (seconds,
	// at most 86400) are client.reconnect's.
	Host []byte
	Port int
	Wait int

	// Message is client.show_message's text (at most MaxSV1MessageLen
	// bytes), nil when unprintable.
	Message []byte
}

// maxSV1ReconnectWait caps client.reconnect's wait, in seconds.
const maxSV1ReconnectWait = 86400

// ParseSV1PoolMessage parses one line from a stratum v1 pool. It returns
// ErrMalformed for a line that is not a JSON object, ErrInvalidJob for a
// mining.notify whose job is invalid, and ErrSV1InvalidParams for a known
// notification or a subscribe result with unusable values; in those last
// two cases m.Kind, m.Method and m.ID are still filled. Parsing a response
// does not allocate; a valid notify allocates its job's strings.
func ParseSV1PoolMessage(p *fastjson.Parser, line []byte, m *SV1PoolMessage) error {
	*m = SV1PoolMessage{}
	v, err := p.ParseBytes(line)
	if err != nil || v.Type() != fastjson.TypeObject {
		return ErrMalformed
	}
	if iv := v.Get("id"); iv != nil && iv.Type() == fastjson.TypeNumber {
		if id, err := iv.Uint64(); err == nil {
			m.ID, m.HasID = id, true
		}
	}
	if mv := v.Get("method"); mv != nil && mv.Type() == fastjson.TypeString {
		m.Method, _ = mv.StringBytes()
		return m.parseNotification(arrayOf(v.Get("params")))
	}
	m.Kind = SV1PoolResponse
	m.readError(v.Get("error"))
	return m.readResult(v.Get("result"))
}

func (m *SV1PoolMessage) parseNotification(params []*fastjson.Value) error {
	switch string(m.Method) {
	case "mining.notify":
		m.Kind = SV1PoolNotify
		return m.readJob(params)
	case "mining.set_difficulty":
		m.Kind = SV1PoolSetDifficulty
		d, ok := difficultyVal(elem(params, 0), false)
		if !ok {
			return ErrSV1InvalidParams
		}
		m.Difficulty = d
	case "mining.set_extranonce":
		m.Kind = SV1PoolSetExtranonce
		if !m.readExtranonce(elem(params, 0), elem(params, 1)) {
			return ErrSV1InvalidParams
		}
	case "mining.set_version_mask":
		m.Kind = SV1PoolSetVersionMask
		mask, ok := parseHex32(strVal(elem(params, 0)))
		if !ok {
			return ErrSV1InvalidParams
		}
		m.VersionMask = mask
	case "client.reconnect":
		m.Kind = SV1PoolReconnect
		return m.readReconnect(params)
	case "client.show_message":
		m.Kind = SV1PoolShowMessage
		if msg := strVal(elem(params, 0)); IsText(msg, MaxSV1MessageLen) {
			m.Message = msg
		}
	default:
		m.Kind = SV1PoolUnknown
	}
	return nil
}

// readJob fills m.Job from mining.notify params [job_id, prevhash, coinb1,
// coinb2, [branch], version, nbits, ntime, clean_jobs]. A missing clean_jobs
// reads as false.
func (m *SV1PoolMessage) readJob(params []*fastjson.Value) error {
	if len(params) < 8 {
		return ErrInvalidJob
	}
	branch := elem(params, 4)
	if branch == nil || branch.Type() != fastjson.TypeArray {
		return ErrInvalidJob
	}
	hashes, _ := branch.Array()
	if len(hashes) > MaxSV1Branch {
		return ErrInvalidJob
	}
	// Check the shape before allocating anything.
	for i := 0; i < 8; i++ {
		if i != 4 && strVal(params[i]) == nil {
			return ErrInvalidJob
		}
	}
	for _, h := range hashes {
		if s := strVal(h); len(s) != 64 || !isHexFold(s) {
			return ErrInvalidJob
		}
	}
	j := &m.Job
	j.JobID = string(strVal(params[0]))
	j.PrevHash = string(strVal(params[1]))
	j.Coinb1 = string(strVal(params[2]))
	j.Coinb2 = string(strVal(params[3]))
	j.Version = string(strVal(params[5]))
	j.NBits = string(strVal(params[6]))
	j.NTime = string(strVal(params[7]))
	if c := elem(params, 8); c != nil && c.Type() == fastjson.TypeTrue {
		j.CleanJobs = true
	}
	if len(hashes) > 0 {
		j.MerkleBranch = make([]string, len(hashes))
		for i, h := range hashes {
			j.MerkleBranch[i] = string(strVal(h))
		}
	}
	if !j.IsValid() {
		m.Job = SV1Job{}
		return ErrInvalidJob
	}
	m.HasJob = true
	return nil
}

// readExtranonce validates and stores an extranonce1 hex and an
// extranonce2_size.
func (m *SV1PoolMessage) readExtranonce(e1, size *fastjson.Value) bool {
	hex := strVal(e1)
	if hex == nil || len(hex)%2 != 0 || len(hex) > 2*MaxSV1ExtranonceSize || !isHexFold(hex) {
		return false
	}
	n, ok := smallUint(size, MaxSV1ExtranonceSize)
	if !ok || n == 0 {
		return false
	}
	m.Extranonce1, m.Extranonce2Size = hex, n
	return true
}

// readReconnect reads client.reconnect [host?, port?, wait?]; null or absent
// members keep the current value.
func (m *SV1PoolMessage) readReconnect(params []*fastjson.Value) error {
	if hv := elem(params, 0); hv != nil && hv.Type() != fastjson.TypeNull {
		host := strVal(hv)
		if host == nil || (len(host) > 0 && !IsToken(host, MaxSV1HostLen)) {
			return ErrSV1InvalidParams
		}
		if len(host) > 0 {
			m.Host = host
		}
	}
	if pv := elem(params, 1); pv != nil && pv.Type() != fastjson.TypeNull {
		port, ok := smallUint(pv, 65535)
		if !ok {
			return ErrSV1InvalidParams
		}
		m.Port = port
	}
	if wv := elem(params, 2); wv != nil && wv.Type() != fastjson.TypeNull {
		wait, ok := smallUint(wv, maxSV1ReconnectWait)
		if !ok {
			return ErrSV1InvalidParams
		}
		m.Wait = wait
	}
	return nil
}

// readError reads the error member of a response: null/false (none), an
// array [code, "message", ...], an object {"code","message"} or a string.
func (m *SV1PoolMessage) readError(ev *fastjson.Value) {
	if ev == nil {
		return
	}
	var code, msg *fastjson.Value
	switch ev.Type() {
	case fastjson.TypeNull, fastjson.TypeFalse:
		return
	case fastjson.TypeArray:
		a, _ := ev.Array()
		code, msg = elem(a, 0), elem(a, 1)
	case fastjson.TypeObject:
		code, msg = ev.Get("code"), ev.Get("message")
	case fastjson.TypeString:
		msg = ev
	}
	m.Error = errorFallback
	if s := strVal(msg); len(s) > 0 && IsText(s, MaxSV1MessageLen) {
		m.Error = s
	}
	if code != nil && code.Type() == fastjson.TypeNumber {
		if c, err := code.Int(); err == nil && c >= math.MinInt32 && c <= math.MaxInt32 {
			m.ErrorCode = c
		}
	}
}

// readResult classifies and reads the result member of a response.
func (m *SV1PoolMessage) readResult(rv *fastjson.Value) error {
	if rv == nil {
		return nil
	}
	switch rv.Type() {
	case fastjson.TypeNull:
		m.Result = SV1ResultNull
	case fastjson.TypeTrue, fastjson.TypeFalse:
		m.Result = SV1ResultBool
		m.ResultBool = rv.Type() == fastjson.TypeTrue
	case fastjson.TypeArray:
		// [subscriptions, extranonce1, extranonce2_size]
		a, _ := rv.Array()
		if len(a) < 3 {
			m.Result = SV1ResultOther
			return nil
		}
		if !m.readExtranonce(a[1], a[2]) {
			m.Result = SV1ResultOther
			return ErrSV1InvalidParams
		}
		m.Result = SV1ResultSubscribe
		m.SessionID = notifySubscription(a[0])
	case fastjson.TypeObject:
		m.Result = SV1ResultConfigure
		if vr := rv.Get("version-rolling"); vr != nil && vr.Type() == fastjson.TypeTrue {
			if mask, ok := parseHex32(strVal(rv.Get("version-rolling.mask"))); ok {
				m.VersionRolling, m.VersionMask = true, mask
			}
		}
		if md := rv.Get("minimum-difficulty"); md != nil && md.Type() == fastjson.TypeTrue {
			m.MinimumDifficulty = true
		}
	default:
		m.Result = SV1ResultOther
	}
	return nil
}

// notifySubscription finds the mining.notify subscription id in a subscribe
// result's first element: [["mining.set_difficulty","id1"],["mining.notify","id2"]]
// or a single ["mining.notify","id"].
func notifySubscription(v *fastjson.Value) []byte {
	subs := arrayOf(v)
	if len(subs) == 0 {
		return nil
	}
	pair := subs
	if subs[0].Type() == fastjson.TypeArray {
		pair = nil
		for _, s := range subs {
			p := arrayOf(s)
			if string(strVal(elem(p, 0))) == "mining.notify" {
				pair = p
				break
			}
		}
	}
	if string(strVal(elem(pair, 0))) != "mining.notify" {
		return nil
	}
	id := strVal(elem(pair, 1))
	if !IsToken(id, MaxSV1SessionIDLen) {
		return nil
	}
	return id
}

// smallUint reads a non-negative integer <= max given as a JSON number or a
// string of decimal digits (some pools quote ports).
func smallUint(v *fastjson.Value, max int) (int, bool) {
	if v == nil {
		return 0, false
	}
	var digits []byte
	switch v.Type() {
	case fastjson.TypeString:
		digits, _ = v.StringBytes()
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err != nil || !(f >= 0 && f <= float64(max)) || f != math.Trunc(f) {
			return 0, false
		}
		return int(f), true
	default:
		return 0, false
	}
	if len(digits) == 0 || len(digits) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > max {
		return 0, false
	}
	return n, true
}

// Stratum v1 requests the proxy sends to a pool. Ids are numeric (the
// upstream's own counter); each encoder appends one line with its newline
// and does not allocate when dst has capacity.

// AppendSV1PoolSubscribe appends mining.subscribe ["agent"], or
// ["agent","session"] to resume a pool session when session is not empty
// (session must be a token, e.g. a SessionID the pool gave).
func AppendSV1PoolSubscribe(dst []byte, id uint64, agent, session string) []byte {
	dst = appendSV1RequestHead(dst, id, "mining.subscribe")
	dst = AppendJSONString(dst, agent)
	if session != "" {
		dst = append(dst, ',')
		dst = AppendJSONString(dst, session)
	}
	return append(dst, "]}\n"...)
}

// AppendSV1PoolAuthorize appends mining.authorize ["user","pass"], both
// JSON-escaped.
func AppendSV1PoolAuthorize(dst []byte, id uint64, user, pass string) []byte {
	dst = appendSV1RequestHead(dst, id, "mining.authorize")
	dst = AppendJSONString(dst, user)
	dst = append(dst, ',')
	dst = AppendJSONString(dst, pass)
	return append(dst, "]}\n"...)
}

// AppendSV1PoolExtranonceSubscribe appends mining.extranonce.subscribe [].
func AppendSV1PoolExtranonceSubscribe(dst []byte, id uint64) []byte {
	dst = appendSV1RequestHead(dst, id, "mining.extranonce.subscribe")
	return append(dst, "]}\n"...)
}

// AppendSV1PoolConfigure appends a BIP310 mining.configure asking for
// version rolling:
// [["version-rolling"],{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":2}].
func AppendSV1PoolConfigure(dst []byte, id uint64, mask uint32, minBitCount int) []byte {
	dst = appendSV1RequestHead(dst, id, "mining.configure")
	dst = append(dst, `["version-rolling"],{"version-rolling.mask":"`...)
	dst = AppendHex32(dst, mask)
	dst = append(dst, `","version-rolling.min-bit-count":`...)
	dst = appendUint(dst, uint64(min(max(minBitCount, 0), 32)))
	return append(dst, "}]}\n"...)
}

// AppendSV1PoolSuggestDifficulty appends mining.suggest_difficulty [diff]
// (number format as AppendSV1Difficulty).
func AppendSV1PoolSuggestDifficulty(dst []byte, id uint64, diff float64) []byte {
	dst = appendSV1RequestHead(dst, id, "mining.suggest_difficulty")
	dst = AppendSV1Difficulty(dst, diff)
	return append(dst, "]}\n"...)
}

// AppendSV1PoolSubmit appends mining.submit [worker, job_id, extranonce2,
// ntime, nonce(, version_bits)] for a share s that passed Validate. worker
// (the pool account) is JSON-escaped. The extranonce2 sent is e2Prefix (the
// miner's binary slot prefix in aggregate mode, nil otherwise) followed by
// the miner's extranonce2, so the pool rebuilds the coinbase the miner hashed.
// Hex fields are written in lowercase; version_bits only when the miner sent
// them. This is also the line a miner sends, so test miners use it too.
func AppendSV1PoolSubmit(dst []byte, id uint64, worker string, e2Prefix []byte, s *SV1Submit) []byte {
	dst = appendSV1RequestHead(dst, id, "mining.submit")
	dst = AppendJSONString(dst, worker)
	dst = append(dst, `,"`...)
	dst = append(dst, s.JobID...)
	dst = append(dst, `","`...)
	dst = AppendHex(dst, e2Prefix)
	dst = appendLowerHex(dst, s.Extranonce2)
	dst = append(dst, `","`...)
	dst = appendLowerHex(dst, s.NTime)
	dst = append(dst, `","`...)
	dst = appendLowerHex(dst, s.Nonce)
	if s.VersionBits != nil {
		dst = append(dst, `","`...)
		dst = appendLowerHex(dst, s.VersionBits)
	}
	return append(dst, `"]}`+"\n"...)
}

func appendSV1RequestHead(dst []byte, id uint64, method string) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendUint(dst, id)
	dst = append(dst, `,"method":"`...)
	dst = append(dst, method...)
	return append(dst, `","params":[`...)
}
