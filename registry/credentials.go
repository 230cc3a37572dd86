package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Redacted replaces the password wherever a Credentials value is rendered.
const Redacted = "********"

// Credentials is what the proxy needs to open a pool connection for an
// account. Password is the only copy of the secret that leaves the Store:
// read the field directly to log in to the pool. Every rendering of the value
// — fmt (all verbs, including %+v and %#v), log/slog (LogValue) and
// encoding/json (MarshalJSON) — shows Redacted instead, whether the value or
// a pointer to it is rendered. A Credentials value is plain data: safe to
// read from many goroutines, not to modify concurrently.
type Credentials struct {
	Name      string  // account name
	Pool      string  // normalised host:port
	User      string  // pool login
	Password  string  // pool password; never printed
	Algorithm string  // the pool's algorithm
	Divider   float64 // the algorithm's divider
	Family    string  // the pool's family
}

// String renders c with the password redacted.
func (c Credentials) String() string {
	return "{Name:" + c.Name +
		" Pool:" + c.Pool +
		" User:" + c.User +
		" Password:" + Redacted +
		" Algorithm:" + c.Algorithm +
		" Divider:" + strconv.FormatFloat(c.Divider, 'g', -1, 64) +
		" Family:" + c.Family + "}"
}

// GoString renders c as Go syntax with the password redacted.
func (c Credentials) GoString() string {
	return fmt.Sprintf("registry.Credentials{Name:%q, Pool:%q, User:%q, Password:%q, Algorithm:%q, Divider:%v, Family:%q}",
		c.Name, c.Pool, c.User, Redacted, c.Algorithm, c.Divider, c.Family)
}

// Format implements fmt.Formatter so that no verb or flag prints the
// password: %#v uses GoString, %q quotes String, every other verb writes
// String.
func (c Credentials) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, c.GoString())
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(c.String()))
	default:
		_, _ = io.WriteString(f, c.String())
	}
}

// LogValue implements slog.LogValuer: a group of the fields with the
// password redacted.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", c.Name),
		slog.String("pool", c.Pool),
		slog.String("user", c.User),
		slog.String("password", Redacted),
		slog.String("algorithm", c.Algorithm),
		slog.Float64("divider", c.Divider),
		slog.String("family", c.Family),
	)
}

// MarshalJSON encodes c with the password redacted.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name      string  `json:"name"`
		Pool      string  `json:"pool"`
		User      string  `json:"user"`
		Password  string  `json:"password"`
		Algorithm string  `json:"algorithm"`
		Divider   float64 `json:"divider"`
		Family    string  `json:"family"`
	}{c.Name, c.Pool, c.User, Redacted, c.Algorithm, c.Divider, c.Family})
}
