package stratum

import (
	"bytes"
	"errors"
)

// MaxLineSize is the longest line accepted from a miner, newline excluded.
// A peer that sends more without a newline is cut off.
const MaxLineSize = 16384

// MaxPoolLineSize is the longest line accepted from a pool. Stratum v1
// pools with many coinbase payouts (PPLNS on Bitcoin Cash, for instance)
// send mining.notify lines of 8–9 KB today; pools get four times the
// miners' limit so such a pool is never cut off as a framing error.
const MaxPoolLineSize = 65536

// Framing errors. A connection that produces either of them is closed.
var (
	// ErrLineTooLong means MaxLineSize bytes arrived without a newline.
	ErrLineTooLong = errors.New("stratum: line too long")
	// ErrNotJSONObject means a line does not start with '{'.
	ErrNotJSONObject = errors.New("stratum: line is not a JSON object")
)

// NextLine finds the first complete line in buf. It returns the line without
// its trailing "\n" or "\r\n" and the number of bytes of buf it consumed.
// When buf holds no complete line it returns n == 0 and a nil error, or
// ErrLineTooLong when buf already exceeds MaxLineSize. Blank lines are
// returned as empty (non-nil) lines so the caller can skip them; a non-blank
// line that does not start with '{' yields ErrNotJSONObject.
//
// The returned line aliases buf.
func NextLine(buf []byte) (line []byte, n int, err error) { return NextLineMax(buf, MaxLineSize) }

// NextLineMax is NextLine with a line limit of max bytes (MaxPoolLineSize
// for pools).
func NextLineMax(buf []byte, max int) (line []byte, n int, err error) {
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		if len(buf) > max {
			return nil, 0, ErrLineTooLong
		}
		return nil, 0, nil
	}
	if i > max {
		return nil, 0, ErrLineTooLong
	}
	line = buf[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	line = trimSpace(line)
	if len(line) > 0 && line[0] != '{' {
		return nil, i + 1, ErrNotJSONObject
	}
	return line, i + 1, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
