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
// The token is compared in constant time (over SHA-256 digests, so not
// even its length leaks).
func authorize(r *http.Request, hc *reactor.HTTPConfig) int {
	got := r.Header.Get("Authorization")
	if got == "" {
		if hc.AccessToken != "" || !restricted(hc) {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	}
	if hc.AccessToken == "" {
		return http.StatusUnauthorized
	}
	const scheme = "Bearer "
	if len(got) <= len(scheme) || !strings.EqualFold(got[:len(scheme)], scheme) {
		return http.StatusForbidden
	}
	a := sha256.Sum256([]byte(got[len(scheme):]))
	b := sha256.Sum256([]byte(hc.AccessToken))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return http.StatusForbidden
	}
	return http.StatusOK
}

// restricted reports whether the API is read-only (the default).
func restricted(hc *reactor.HTTPConfig) bool { return hc.Restricted == nil || *hc.Restricted }
