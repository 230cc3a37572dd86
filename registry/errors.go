package registry

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by a Store method that is caused by
// one of these conditions matches it with errors.Is. Error texts never contain
// a password or an account name.
var (
	// ErrNotFound reports that the account, pool or algorithm does not exist.
	ErrNotFound = errors.New("registry: not found")
	// ErrUnknownPool reports that an account names a pool that is not registered.
	ErrUnknownPool = errors.New("registry: unknown pool")
	// ErrUnknownAlgorithm reports that a pool names an algorithm that is not registered.
	ErrUnknownAlgorithm = errors.New("registry: unknown algorithm")
	// ErrConflict reports that a pool or algorithm with the same key already exists.
	ErrConflict = errors.New("registry: already exists")
	// ErrInUse reports that a pool or algorithm cannot be deleted while rows reference it.
	ErrInUse = errors.New("registry: in use")
	// ErrInvalid reports bad input; the concrete error is a *FieldError.
	ErrInvalid = errors.New("registry: invalid input")
)

// FieldError names the input field that failed validation and why. It wraps
// ErrInvalid. Reason is a fixed phrase and never quotes the rejected value, so
// a FieldError is safe to show to API clients and to log even for passwords.
// It is immutable once returned and safe to share between goroutines.
type FieldError struct {
	Field  string // input field, e.g. "pool", "user", "password", "divider"
	Reason string // what the value must be, e.g. "must be at most 256 bytes"
}

// Error returns "registry: invalid <field>: <reason>".
func (e *FieldError) Error() string {
	return "registry: invalid " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalid so that errors.Is(err, ErrInvalid) holds.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(field, reason string) error {
	return &FieldError{Field: field, Reason: reason}
}

// kindError is a domain error with its own message that matches a sentinel.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// fail builds an error whose text is "registry: " + the formatted message and
// which matches kind with errors.Is. Callers pass no secret in args.
func fail(kind error, format string, args ...any) error {
	return &kindError{msg: "registry: " + fmt.Sprintf(format, args...), kind: kind}
}
