package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"forge.lthn.ai/core/go-proxy/reactor"
)

// authorize applies xmrig-proxy's rules (src/base/api/Httpd.cpp) and
// returns the HTTP status to answer with, http.StatusOK when the request
// may proceed:
//
//   - no Authorization header: 401 when a token is configured or the API
//     is unrestricted (an API that accepts writes always needs a token),
//     else OK;
//   - an Authorization header when no token is configured: 401;
//   - anything but "Bearer <token>": 403.
//
// Registration has credentials of its own (see registerCredential), valid
// for POST /api/v1/users and for nothing else: http.register-token as the
// bearer token (any other route gets 403 with it), or no header at all
// with http.open-registration. The admin token (http.access-token) is
// valid everywhere, registration included.
//
// Tokens are compared in constant time (over SHA-256 digests, so not even
// their lengths leak), both of them on every request.
func authorize(r *http.Request, hc *reactor.HTTPConfig) int {
	register := isRegister(r)
	got := r.Header.Get("Authorization")
	if got == "" {
		if register && hc.OpenRegistration {
			return http.StatusOK
		}
		if hc.AccessToken != "" || !restricted(hc) {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	}
	if hc.AccessToken == "" && hc.RegisterToken == "" {
		return http.StatusUnauthorized
	}
	const scheme = "Bearer "
	if len(got) <= len(scheme) || !strings.EqualFold(got[:len(scheme)], scheme) {
		return http.StatusForbidden
	}
	sent := sha256.Sum256([]byte(got[len(scheme):]))
	admin := tokenMatches(&sent, hc.AccessToken)
	registration := tokenMatches(&sent, hc.RegisterToken)
	switch {
	case admin:
		return http.StatusOK
	case registration && register:
		return http.StatusOK
	case registration:
		return http.StatusForbidden // the registration token opens nothing else
	case hc.AccessToken == "":
		return http.StatusUnauthorized
	}
	return http.StatusForbidden
}

// tokenMatches compares a sent token's digest with a configured token in
// constant time; an unset token matches nothing.
func tokenMatches(sent *[sha256.Size]byte, token string) bool {
	want := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sent[:], want[:]) == 1 && token != ""
}

// registerCredential reports whether registration has a credential of its
// own (http.register-token or http.open-registration): then POST
// /api/v1/users is served even while the API is restricted, since the
// operator opened exactly that route.
func registerCredential(hc *reactor.HTTPConfig) bool {
	return hc.RegisterToken != "" || hc.OpenRegistration
}

// restricted reports whether the API is read-only (the default).
func restricted(hc *reactor.HTTPConfig) bool { return hc.Restricted == nil || *hc.Restricted }
