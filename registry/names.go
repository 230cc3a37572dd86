package registry

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"
)

// Account names are 128 bits from crypto/rand encoded as NameLength
// characters of lowercase RFC 4648 base32 ("a"-"z", "2"-"7") without padding.
// They carry no information about the pool or the credentials, so knowing a
// pool login does not reveal (or let anyone guess) the account name.
const NameLength = 26

const nameBytes = 16 // 128 bits

const nameAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// nameEncoding is read-only after initialisation.
var nameEncoding = base32.NewEncoding(nameAlphabet).WithPadding(base32.NoPadding)

// newName returns a fresh random account name.
func newName() (string, error) {
	var b [nameBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("registry: generate account name: %w", err)
	}
	return nameEncoding.EncodeToString(b[:]), nil
}

// canonicalName lowercases s and reports whether it has the shape of an
// account name: exactly NameLength base32 characters that decode to 128 bits
// (the two spare bits of the last character are zero), as newName makes.
func canonicalName(s string) (string, bool) {
	if len(s) != NameLength {
		return "", false
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
			b[i] = c
		}
		if strings.IndexByte(nameAlphabet, c) < 0 {
			return "", false
		}
	}
	// 26 characters carry 130 bits; the last one's low 2 bits are padding.
	if strings.IndexByte(nameAlphabet, b[NameLength-1])%4 != 0 {
		return "", false
	}
	return string(b), true
}
