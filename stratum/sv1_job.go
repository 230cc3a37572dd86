package stratum

import "encoding/binary"

// Limits on stratum v1 job fields received from a pool. A job outside them
// is dropped (ErrInvalidJob).
const (
	// MaxSV1CoinbHex caps coinb1 and coinb2, each, in hex characters
	// (12 KiB of transaction bytes each). Typical pool coinbases are
	// 100-500 bytes; multi-payout coinbases reach several KB, and a notify
	// line cannot exceed MaxPoolLineSize anyway.
	MaxSV1CoinbHex = 24576
	// MaxSV1Branch caps the merkle branch: 32 levels is 2^32 transactions.
	MaxSV1Branch = 32
	// MaxSV1Coinbase is the largest coinbase transaction a share check
	// assembles, in bytes: coinb1, extranonce1, extranonce2 and coinb2.
	MaxSV1Coinbase = MaxSV1CoinbHex + 2*MaxSV1ExtranonceSize
)

// SV1Job is one stratum v1 work unit, the params of a mining.notify. It is
// immutable once built and owns its strings; ParseSV1PoolMessage validates
// every field (IsValid) before handing a job out, so encoders copy them into
// JSON without escaping. Safe for concurrent reads.
type SV1Job struct {
	JobID        string   // pool-assigned id, a token (IsToken, MaxJobIDLen)
	PrevHash     string   // 64 hex: previous block hash in stratum word order
	Coinb1       string   // hex, coinbase transaction up to extranonce1
	Coinb2       string   // hex, coinbase transaction after extranonce2
	MerkleBranch []string // 64 hex each, at most MaxSV1Branch
	Version      string   // 8 hex, big-endian block version
	NBits        string   // 8 hex, big-endian compact target
	NTime        string   // 8 hex, big-endian block time
	CleanJobs    bool     // earlier jobs are void
}

// IsValid reports whether the job can be handed to miners: a token job id,
// a 64-hex prevhash, non-empty even-length hex coinbase parts of at most
// MaxSV1CoinbHex characters, at most MaxSV1Branch 64-hex branch hashes, and
// 8-hex version, nbits and ntime. Hex may be of either case.
func (j *SV1Job) IsValid() bool {
	if !IsToken(j.JobID, MaxJobIDLen) || len(j.PrevHash) != 64 || !isHexFold(j.PrevHash) ||
		!isCoinbHex(j.Coinb1) || !isCoinbHex(j.Coinb2) || len(j.MerkleBranch) > MaxSV1Branch {
		return false
	}
	for _, b := range j.MerkleBranch {
		if len(b) != 64 || !isHexFold(b) {
			return false
		}
	}
	_, okV := parseHex32(j.Version)
	_, okB := parseHex32(j.NBits)
	_, okT := parseHex32(j.NTime)
	return okV && okB && okT
}

func isCoinbHex(s string) bool {
	return len(s) > 0 && len(s)%2 == 0 && len(s) <= MaxSV1CoinbHex && isHexFold(s)
}

// SV1JobBinary is a job decoded once for share checks and header building,
// so that no hex is decoded per share. It is immutable once built and safe
// for concurrent reads (several shards may check shares against one job).
type SV1JobBinary struct {
	Coinb1, Coinb2 []byte
	// Branch holds the merkle branch hashes in internal (hashing) byte order,
	// as sent.
	Branch [][32]byte
	// PrevHash is the previous block hash in header byte order (stratum's
	// eight 32-bit words, each byte-swapped).
	PrevHash [32]byte
	// Version, NBits and NTime are the job's big-endian hex values.
	Version, NBits, NTime uint32
}

// Binary decodes the job. It allocates and is meant to run once per job;
// it returns ErrInvalidJob when the job is not valid.
func (j *SV1Job) Binary() (*SV1JobBinary, error) {
	if !j.IsValid() {
		return nil, ErrInvalidJob
	}
	b := &SV1JobBinary{Branch: make([][32]byte, len(j.MerkleBranch))}
	b.Coinb1, _ = DecodeHex(make([]byte, 0, len(j.Coinb1)/2), j.Coinb1)
	b.Coinb2, _ = DecodeHex(make([]byte, 0, len(j.Coinb2)/2), j.Coinb2)
	for i, h := range j.MerkleBranch {
		DecodeHex(b.Branch[i][:0], h)
	}
	SV1PrevHashFromStratum(&b.PrevHash, j.PrevHash)
	b.Version, _ = parseHex32(j.Version)
	b.NBits, _ = parseHex32(j.NBits)
	b.NTime, _ = parseHex32(j.NTime)
	return b, nil
}

// Job encodes b back into the stratum form of a mining.notify with the
// given job id (a token) and clean flag: the inverse of Binary, used by mock
// pools and tests. It allocates.
func (b *SV1JobBinary) Job(jobID string, clean bool) SV1Job {
	j := SV1Job{
		JobID:     jobID,
		PrevHash:  string(AppendSV1PrevHash(nil, &b.PrevHash)),
		Coinb1:    string(AppendHex(nil, b.Coinb1)),
		Coinb2:    string(AppendHex(nil, b.Coinb2)),
		Version:   string(AppendHex32(nil, b.Version)),
		NBits:     string(AppendHex32(nil, b.NBits)),
		NTime:     string(AppendHex32(nil, b.NTime)),
		CleanJobs: clean,
	}
	j.MerkleBranch = make([]string, len(b.Branch))
	for i := range b.Branch {
		j.MerkleBranch[i] = string(AppendHex(nil, b.Branch[i][:]))
	}
	return j
}

// SV1PrevHashFromStratum decodes a 64-hex stratum prevhash into header byte
// order. Stratum sends the header's 32 prevhash bytes as eight 32-bit words,
// each word byte-swapped (cpuminer builds the header with le32dec of each
// word of the decoded prevhash and hashes the words big-endian). It reports
// false, leaving dst unchanged, when s is not 64 hex digits.
func SV1PrevHashFromStratum[T ~string | ~[]byte](dst *[32]byte, s T) bool {
	var raw [32]byte
	if len(s) != 64 {
		return false
	}
	if _, ok := DecodeHex(raw[:0], s); !ok {
		return false
	}
	for w := 0; w < 32; w += 4 {
		binary.LittleEndian.PutUint32(dst[w:], binary.BigEndian.Uint32(raw[w:]))
	}
	return true
}

// AppendSV1PrevHash appends the 64-hex stratum form of a prevhash given in
// header byte order (the inverse of SV1PrevHashFromStratum).
func AppendSV1PrevHash(dst []byte, headerOrder *[32]byte) []byte {
	for w := 0; w < 32; w += 4 {
		dst = AppendHex32(dst, binary.LittleEndian.Uint32(headerOrder[w:]))
	}
	return dst
}
