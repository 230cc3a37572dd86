package stratum

// Job id variants. A proxy that changes one miner's difficulty while the
// pool's job stands re-sends that job to the miner under an id of its own:
// the pool's id followed by '~' and a variant number 1..255 in lowercase
// hex without leading zeros ("a3f~1", "a3f~ff"). The miner takes it for a
// new job and applies the new difficulty to it (cpuminer and most firmware
// apply a difficulty from the next job with a new id; XMRig applies a new
// target to a job whose id changed without restarting its nonces when the
// blob is the same), and the shares it already found for the pool's id
// stay told apart: each id has one difficulty. The proxy maps a variant
// back to the pool's id before forwarding, so the pool only ever sees its
// own ids. Variant 0 is the pool's id itself.

// JobVariantSep separates a pool's job id from a variant number.
const JobVariantSep = '~'

// MaxJobVariant is the highest variant number.
const MaxJobVariant = 255

// maxVariantSuffix is the longest suffix: '~' and two hex digits.
const maxVariantSuffix = 3

// JobVariantFits reports whether every variant of a pool job id is still a
// valid job id for a miner to submit (MaxJobIDLen bytes at most).
func JobVariantFits[T ~string | ~[]byte](id T) bool {
	return len(id)+maxVariantSuffix <= MaxJobIDLen
}

// AppendJobVariant appends the suffix of variant v ("~" and v in lowercase
// hex); nothing for v == 0.
func AppendJobVariant(dst []byte, v uint8) []byte {
	if v == 0 {
		return dst
	}
	dst = append(dst, JobVariantSep)
	const digits = "0123456789abcdef"
	if v >= 16 {
		dst = append(dst, digits[v>>4])
	}
	return append(dst, digits[v&15])
}

// SplitJobVariant splits a submitted job id into the pool's id and the
// variant number: "a3f~1f" gives ("a3f", 31, true). It reports false when
// id carries no well-formed suffix ('~' after at least one byte, then one or
// two lowercase hex digits without a leading zero): such an id can only be
// the pool's own. base aliases id.
func SplitJobVariant(id []byte) (base []byte, v uint8, ok bool) {
	n := len(id)
	var i int
	switch {
	case n >= 3 && id[n-2] == JobVariantSep:
		i = n - 2
	case n >= 4 && id[n-3] == JobVariantSep:
		i = n - 3
	default:
		return id, 0, false
	}
	var x uint
	for _, c := range id[i+1:] {
		switch {
		case c >= '0' && c <= '9':
			x = x<<4 | uint(c-'0')
		case c >= 'a' && c <= 'f':
			x = x<<4 | uint(c-'a'+10)
		default:
			return id, 0, false
		}
	}
	if x == 0 || id[i+1] == '0' {
		return id, 0, false
	}
	return id[:i], uint8(x), true
}
