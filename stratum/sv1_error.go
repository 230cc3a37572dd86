package stratum

import "errors"

// SV1 error codes sent to miners in "error":[code,"message",null]
// (slush stratum v1 notes; the same codes cgminer, bfgminer and ckpool use).
const (
	SV1CodeOther         = 20
	SV1CodeJobNotFound   = 21
	SV1CodeDuplicate     = 22
	SV1CodeLowDifficulty = 23
	SV1CodeUnauthorized  = 24
	SV1CodeNotSubscribed = 25
)

// SV1Error is a stratum v1 request rejection: the code and message of the
// error array sent to the miner. The connection stays open.
//
// Only *SV1Error implements error. The package-level values below are shared
// and must not be modified; Validate methods return them, so a rejection
// costs no allocation and can be matched with errors.Is or ==.
type SV1Error struct {
	Code    int
	Message string
}

// Error returns the message text, as sent to the miner.
func (e *SV1Error) Error() string { return e.Message }

// Standard stratum v1 errors (codes 20-25, usual texts).
var (
	ErrSV1Other         = &SV1Error{SV1CodeOther, "Other/Unknown"}
	ErrSV1JobNotFound   = &SV1Error{SV1CodeJobNotFound, "Job not found"}
	ErrSV1Duplicate     = &SV1Error{SV1CodeDuplicate, "Duplicate share"}
	ErrSV1LowDifficulty = &SV1Error{SV1CodeLowDifficulty, "Low difficulty share"}
	ErrSV1Unauthorized  = &SV1Error{SV1CodeUnauthorized, "Unauthorized worker"}
	ErrSV1NotSubscribed = &SV1Error{SV1CodeNotSubscribed, "Not subscribed"}
)

// More specific code-20 rejections of malformed requests. The wording of the
// submit ones follows node-stratum-pool, which many pools run.
var (
	ErrSV1UnknownMethod      = &SV1Error{SV1CodeOther, "Unknown method"}
	ErrSV1BadExtranonce2     = &SV1Error{SV1CodeOther, "Incorrect size of extranonce2"}
	ErrSV1BadNTime           = &SV1Error{SV1CodeOther, "Incorrect size of ntime"}
	ErrSV1BadNonce           = &SV1Error{SV1CodeOther, "Incorrect size of nonce"}
	ErrSV1BadVersionBits     = &SV1Error{SV1CodeOther, "Invalid version bits"}
	ErrSV1VersionBitsNotMask = &SV1Error{SV1CodeOther, "Version bits outside the negotiated mask"}
	ErrSV1BadDifficulty      = &SV1Error{SV1CodeOther, "Invalid difficulty"}
	ErrSV1BadConfigure       = &SV1Error{SV1CodeOther, "Invalid mining.configure parameters"}
)

// ErrSV1InvalidParams means a pool message has a known method or result
// shape but unusable values (a NaN difficulty, an extranonce1 that is not
// hex, an extranonce2_size of 0, ...). The message is ignored; for a
// subscribe response the pool session cannot proceed.
var ErrSV1InvalidParams = errors.New("stratum: invalid sv1 parameters from pool")
