package stratum

import (
	"math"
	"strconv"
)

// Stratum v1 lines the proxy sends to miners. Every encoder appends one
// complete line, newline included, to dst and returns the extended slice; none
// allocates when dst has capacity. Job fields and ids are validated tokens
// and hex, copied without escaping; free text is JSON-escaped.

// AppendSV1SubscribeReply appends the mining.subscribe result:
// {"id":..,"result":[[["mining.set_difficulty","<sub>"],["mining.notify","<sub>"]],"<extranonce1 hex>",<e2size>],"error":null}.
// subID is the miner's subscription id, a token; extranonce1 is binary (the
// pool's extranonce1 followed by the miner's prefix in aggregate mode).
func AppendSV1SubscribeReply(dst []byte, id *RequestID, subID, extranonce1 []byte, e2Size int) []byte {
	dst = appendSV1ResultHead(dst, id)
	dst = append(dst, `[[["mining.set_difficulty","`...)
	dst = append(dst, subID...)
	dst = append(dst, `"],["mining.notify","`...)
	dst = append(dst, subID...)
	dst = append(dst, `"]],"`...)
	dst = AppendHex(dst, extranonce1)
	dst = append(dst, `",`...)
	dst = appendUint(dst, uint64(max(e2Size, 0)))
	return append(dst, `],"error":null}`+"\n"...)
}

// AppendSV1BoolReply appends {"id":..,"result":true|false,"error":null}, the
// answer to authorize, submit, extranonce.subscribe and suggest_difficulty.
func AppendSV1BoolReply(dst []byte, id *RequestID, result bool) []byte {
	dst = appendSV1ResultHead(dst, id)
	dst = strconv.AppendBool(dst, result)
	return append(dst, `,"error":null}`+"\n"...)
}

// AppendSV1ErrorReply appends {"id":..,"result":null,"error":[code,"message",null]}.
func AppendSV1ErrorReply(dst []byte, id *RequestID, e *SV1Error) []byte {
	dst = appendSV1ResultHead(dst, id)
	dst = append(dst, `null,"error":[`...)
	dst = strconv.AppendInt(dst, int64(e.Code), 10)
	dst = append(dst, ',')
	dst = AppendJSONString(dst, e.Message)
	return append(dst, ",null]}\n"...)
}

// SV1ConfigureResult is the proxy's answer to a mining.configure. Only the
// extensions in Requested get a member (BIP310: each requested code gets a
// result), in the order version-rolling, minimum-difficulty,
// subscribe-extranonce, info.
type SV1ConfigureResult struct {
	Requested SV1Extensions
	// VersionRolling grants version rolling with VersionMask (usually the
	// upstream mask & the miner's mask); the mask is sent only when granted.
	VersionRolling bool
	VersionMask    uint32
	// MinimumDifficulty, SubscribeExtranonce and Info answer those codes.
	MinimumDifficulty   bool
	SubscribeExtranonce bool
	Info                bool
}

// AppendSV1ConfigureReply appends a mining.configure result, e.g.
// {"id":1,"result":{"version-rolling":true,"version-rolling.mask":"1fffe000","minimum-difficulty":false},"error":null}.
func AppendSV1ConfigureReply(dst []byte, id *RequestID, r *SV1ConfigureResult) []byte {
	dst = appendSV1ResultHead(dst, id)
	dst = append(dst, '{')
	n := len(dst)
	if r.Requested&SV1ExtVersionRolling != 0 {
		dst = appendBoolMember(dst, n, "version-rolling", r.VersionRolling)
		if r.VersionRolling {
			dst = append(dst, `,"version-rolling.mask":"`...)
			dst = AppendHex32(dst, r.VersionMask)
			dst = append(dst, '"')
		}
	}
	if r.Requested&SV1ExtMinimumDifficulty != 0 {
		dst = appendBoolMember(dst, n, "minimum-difficulty", r.MinimumDifficulty)
	}
	if r.Requested&SV1ExtSubscribeExtranonce != 0 {
		dst = appendBoolMember(dst, n, "subscribe-extranonce", r.SubscribeExtranonce)
	}
	if r.Requested&SV1ExtInfo != 0 {
		dst = appendBoolMember(dst, n, "info", r.Info)
	}
	return append(dst, `},"error":null}`+"\n"...)
}

// AppendSV1SetDifficulty appends
// {"id":null,"method":"mining.set_difficulty","params":[<diff>]}.
// See AppendSV1Difficulty for the number format.
func AppendSV1SetDifficulty(dst []byte, diff float64) []byte {
	dst = appendSV1NotifyHead(dst, "mining.set_difficulty")
	dst = AppendSV1Difficulty(dst, diff)
	return append(dst, "]}\n"...)
}

// AppendSV1Difficulty appends a difficulty as a JSON number: integral values
// below 1e21 in plain decimal ("1024", "1048576", no ".0" and no exponent,
// which firmware reading integers needs), others in the shortest form that
// round-trips (strconv 'g', -1: 1/65536 is "1.52587890625e-05"). A NaN or
// infinite diff, which validated input never holds, is written as 0 so the
// line stays valid JSON.
func AppendSV1Difficulty(dst []byte, diff float64) []byte {
	switch {
	case math.IsNaN(diff) || math.IsInf(diff, 0):
		return append(dst, '0')
	case diff == math.Trunc(diff) && math.Abs(diff) < 1e21:
		return strconv.AppendFloat(dst, diff, 'f', -1, 64)
	}
	return strconv.AppendFloat(dst, diff, 'g', -1, 64)
}

// AppendSV1Notify appends a mining.notify line for j, with clean_jobs set to
// clean (pass j.CleanJobs to forward the pool's flag, true when re-sending
// the current job to a miner that just joined):
// {"id":null,"method":"mining.notify","params":["job","prevhash","coinb1","coinb2",["branch",..],"version","nbits","ntime",clean]}.
// j must be valid (ParseSV1PoolMessage hands out only valid jobs). The line
// is the same for every miner of an upstream.
func AppendSV1Notify(dst []byte, j *SV1Job, clean bool) []byte {
	return appendSV1Notify(dst, j, 0, j.NTime, 0, clean)
}

// AppendSV1NotifyVariant appends j as variant v of its job id (see
// SplitJobVariant), with ntime for its ntime: the same work re-sent to one
// miner with a new difficulty. A later ntime (the job's plus v, say) makes
// its headers differ from those of the job as first sent, so a miner that
// restarts its extranonce2 on a new job id (cpuminer does) does not find
// the shares it already sent again. The line is the miner's own.
func AppendSV1NotifyVariant(dst []byte, j *SV1Job, v uint8, ntime uint32, clean bool) []byte {
	return appendSV1Notify(dst, j, v, "", ntime, clean)
}

func appendSV1Notify(dst []byte, j *SV1Job, v uint8, ntimeHex string, ntime uint32, clean bool) []byte {
	dst = appendSV1NotifyHead(dst, "mining.notify")
	dst = append(dst, '"')
	dst = append(dst, j.JobID...)
	dst = AppendJobVariant(dst, v)
	dst = append(dst, `","`...)
	dst = append(dst, j.PrevHash...)
	dst = append(dst, `","`...)
	dst = append(dst, j.Coinb1...)
	dst = append(dst, `","`...)
	dst = append(dst, j.Coinb2...)
	dst = append(dst, `",[`...)
	for i, b := range j.MerkleBranch {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, b...)
		dst = append(dst, '"')
	}
	dst = append(dst, `],"`...)
	dst = append(dst, j.Version...)
	dst = append(dst, `","`...)
	dst = append(dst, j.NBits...)
	dst = append(dst, `","`...)
	if ntimeHex != "" {
		dst = append(dst, ntimeHex...)
	} else {
		dst = AppendHex32(dst, ntime)
	}
	dst = append(dst, `",`...)
	dst = strconv.AppendBool(dst, clean)
	return append(dst, "]}\n"...)
}

// AppendSV1SetExtranonce appends
// {"id":null,"method":"mining.set_extranonce","params":["<extranonce1 hex>",<e2size>]}
// with extranonce1 binary.
func AppendSV1SetExtranonce(dst []byte, extranonce1 []byte, e2Size int) []byte {
	dst = appendSV1NotifyHead(dst, "mining.set_extranonce")
	dst = append(dst, '"')
	dst = AppendHex(dst, extranonce1)
	dst = append(dst, `",`...)
	dst = appendUint(dst, uint64(max(e2Size, 0)))
	return append(dst, "]}\n"...)
}

// AppendSV1SetVersionMask appends
// {"id":null,"method":"mining.set_version_mask","params":["<mask as 8 hex>"]}.
func AppendSV1SetVersionMask(dst []byte, mask uint32) []byte {
	dst = appendSV1NotifyHead(dst, "mining.set_version_mask")
	dst = append(dst, '"')
	dst = AppendHex32(dst, mask)
	return append(dst, `"]}`+"\n"...)
}

// AppendSV1Reconnect appends
// {"id":null,"method":"client.reconnect","params":["host",port,wait]}
// asking a miner to reconnect to host:port after wait seconds. host is
// JSON-escaped; negative numbers are written as 0.
func AppendSV1Reconnect(dst []byte, host string, port, wait int) []byte {
	dst = appendSV1NotifyHead(dst, "client.reconnect")
	dst = AppendJSONString(dst, host)
	dst = append(dst, ',')
	dst = appendUint(dst, uint64(max(port, 0)))
	dst = append(dst, ',')
	dst = appendUint(dst, uint64(max(wait, 0)))
	return append(dst, "]}\n"...)
}

// appendBoolMember appends "name":v to an object whose first member would
// start at dst[start], with a comma unless it is the first.
func appendBoolMember(dst []byte, start int, name string, v bool) []byte {
	if len(dst) > start {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	dst = append(dst, `":`...)
	return strconv.AppendBool(dst, v)
}

func appendSV1ResultHead(dst []byte, id *RequestID) []byte {
	dst = append(dst, `{"id":`...)
	dst = append(dst, id.Bytes()...)
	return append(dst, `,"result":`...)
}

func appendSV1NotifyHead(dst []byte, method string) []byte {
	dst = append(dst, `{"id":null,"method":"`...)
	dst = append(dst, method...)
	return append(dst, `","params":[`...)
}
