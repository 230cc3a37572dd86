package stratum

// Extensions is the set of CryptoNote stratum extensions a login reply
// advertises; XMRig switches NiceHash mode on when it sees "nicehash".
type Extensions uint8

// Extension bits, emitted in this order.
const (
	ExtAlgo Extensions = 1 << iota
	ExtNiceHash
	ExtKeepalive
)

// JobOptions says how one miner sees a job.
type JobOptions struct {
	// FixedByte is the miner's NiceHash byte written at NiceHashOffset, or
	// -1 to send the blob as the pool sent it.
	FixedByte int
	// Target overrides the job's target (custom difficulty); "" keeps it.
	Target string
	// Algo includes the job's "algo" member (the miner negotiated the algo
	// extension and the job has one).
	Algo bool
	// Variant, when not 0, sends the job under a variant of its id (see
	// SplitJobVariant): the same work re-sent with a new target.
	Variant uint8
}

// AppendJobObject appends the JSON object of a job as a miner sees it:
// {"blob","job_id","target","algo"?,"height"?,"seed_hash"?,"id"}.
// session is the miner's session id.
func AppendJobObject(dst []byte, j *Job, session []byte, o JobOptions) []byte {
	dst = append(dst, `{"blob":"`...)
	if o.FixedByte >= 0 {
		dst = AppendBlobWithFixedByte(dst, j.Blob, uint8(o.FixedByte))
	} else {
		dst = append(dst, j.Blob...)
	}
	dst = append(dst, `","job_id":"`...)
	dst = append(dst, j.JobID...)
	dst = AppendJobVariant(dst, o.Variant)
	dst = append(dst, `","target":"`...)
	if o.Target != "" {
		dst = append(dst, o.Target...)
	} else {
		dst = append(dst, j.Target...)
	}
	dst = append(dst, '"')
	if o.Algo && j.Algo != "" {
		dst = append(dst, `,"algo":"`...)
		dst = append(dst, j.Algo...)
		dst = append(dst, '"')
	}
	if j.Height != 0 {
		dst = append(dst, `,"height":`...)
		dst = appendUint(dst, j.Height)
	}
	if j.SeedHash != "" {
		dst = append(dst, `,"seed_hash":"`...)
		dst = append(dst, j.SeedHash...)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"id":"`...)
	dst = append(dst, session...)
	return append(dst, `"}`...)
}

// AppendJobNotify appends a "job" notification line (with its newline).
func AppendJobNotify(dst []byte, j *Job, session []byte, o JobOptions) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","method":"job","params":`...)
	dst = AppendJobObject(dst, j, session, o)
	return append(dst, "}\n"...)
}

// AppendLoginReply appends the successful login reply line: the session id,
// the miner's first job, the extensions and status "OK".
func AppendLoginReply(dst []byte, id *RequestID, session []byte, j *Job, o JobOptions, ext Extensions) []byte {
	dst = appendReplyHead(dst, id)
	dst = append(dst, `"error":null,"result":{"id":"`...)
	dst = append(dst, session...)
	dst = append(dst, `","job":`...)
	dst = AppendJobObject(dst, j, session, o)
	dst = append(dst, `,"extensions":[`...)
	first := true
	for _, e := range [...]struct {
		bit  Extensions
		name string
	}{{ExtAlgo, "algo"}, {ExtNiceHash, "nicehash"}, {ExtKeepalive, "keepalive"}} {
		if ext&e.bit == 0 {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, e.name...)
		dst = append(dst, '"')
	}
	return append(dst, `],"status":"OK"}}`+"\n"...)
}

// AppendStatusReply appends a success reply line carrying a status:
// {"id":..,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}.
func AppendStatusReply(dst []byte, id *RequestID, status string) []byte {
	dst = appendReplyHead(dst, id)
	dst = append(dst, `"error":null,"result":{"status":"`...)
	dst = append(dst, status...)
	return append(dst, `"}}`+"\n"...)
}

// AppendErrorReply appends an error reply line:
// {"id":..,"jsonrpc":"2.0","error":{"code":-1,"message":".."}}.
func AppendErrorReply(dst []byte, id *RequestID, message string) []byte {
	dst = appendReplyHead(dst, id)
	dst = append(dst, `"error":{"code":-1,"message":`...)
	dst = AppendJSONString(dst, message)
	return append(dst, "}}\n"...)
}

func appendReplyHead(dst []byte, id *RequestID) []byte {
	dst = append(dst, `{"id":`...)
	dst = append(dst, id.Bytes()...)
	return append(dst, `,"jsonrpc":"2.0",`...)
}
