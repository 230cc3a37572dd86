package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// maxObjectBody bounds the body of an /api/v1 write: a few short fields.
const maxObjectBody = 8 << 10

// bodyError is a request body the API refuses, with the status to answer
// and a message safe to show: it never quotes a value from the body.
type bodyError struct {
	status int
	msg    string
}

func (e *bodyError) Error() string { return e.msg }

func badBody(msg string) error { return &bodyError{status: http.StatusBadRequest, msg: msg} }

// jsonObject is a parsed JSON object: raw values by key.
type jsonObject map[string]json.RawMessage

// readObject reads a request body of at most maxObjectBody bytes holding
// exactly one JSON object whose keys are all in allowed, each at most
// once. Errors are *bodyError (400, or 413 when the body is too big).
// Values are not looked at here; see str and number.
func readObject(w http.ResponseWriter, r *http.Request, allowed ...string) (jsonObject, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxObjectBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &bodyError{status: http.StatusRequestEntityTooLarge, msg: "body larger than " + strconv.Itoa(maxObjectBody) + " bytes"}
		}
		return nil, badBody("cannot read the body")
	}
	return parseObject(body, allowed)
}

// parseObject is readObject's parser.
func parseObject(body []byte, allowed []string) (jsonObject, error) {
	notObject := badBody("body must be a JSON object")
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, notObject
	}
	obj := jsonObject{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, notObject
		}
		key, _ := tok.(string)
		if !contains(allowed, key) {
			return nil, badBody("unknown key " + quoteKey(key))
		}
		if _, dup := obj[key]; dup {
			return nil, badBody("duplicate key " + quoteKey(key))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, notObject
		}
		obj[key] = raw
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, notObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badBody("body must hold one JSON object and nothing after it")
	}
	return obj, nil
}

// str returns the string value of key. A missing or null key is an error
// unless optional, when it yields def.
func (o jsonObject) str(key string, optional bool, def string) (string, error) {
	raw, ok := o[key]
	if !ok || string(raw) == "null" {
		if optional {
			return def, nil
		}
		return "", badBody(key + ": required")
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", badBody(key + ": must be a string")
	}
	return s, nil
}

// number returns the finite number value of a required key.
func (o jsonObject) number(key string) (float64, error) {
	raw, ok := o[key]
	if !ok || string(raw) == "null" {
		return 0, badBody(key + ": required")
	}
	var f float64
	if c := raw[0]; !(c == '-' || '0' <= c && c <= '9') || json.Unmarshal(raw, &f) != nil || math.IsInf(f, 0) {
		return 0, badBody(key + ": must be a number")
	}
	return f, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// quoteKey quotes a client's key for an error message, cut to 32 bytes.
func quoteKey(k string) string {
	if len(k) > 32 {
		k = k[:32]
		for !utf8.ValidString(k) {
			k = k[:len(k)-1]
		}
		return strconv.Quote(k) + "…"
	}
	return strconv.Quote(k)
}

// apiBodyTypeOK reports whether a Content-Type is acceptable for an
// /api/v1 write: application/json, none at all, or
// application/x-www-form-urlencoded (what `curl -d` sends), the body being
// JSON in every case. Accepting a form type opens no CSRF hole: every
// write needs the Bearer token, which a browser does not send cross-origin
// without a CORS preflight.
func apiBodyTypeOK(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || mt == "application/x-www-form-urlencoded")
}
