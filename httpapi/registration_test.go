package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/internal/testutil"
	"forge.lthn.ai/core/go-proxy/registry"
)

// The registration tests run the handler over a real registry.Store in a
// temporary directory, with the fake Source's configuration (token
// "s3cret", writable unless a test says otherwise).

const testPool = "pool.example.com:3333"

// regEnv is a handler with an account store and a captured debug log.
type regEnv struct {
	t     *testing.T
	src   *fakeSource
	store registry.Store
	h     *Handler
	log   *testutil.SyncBuffer
}

func openStore(t *testing.T) registry.Store {
	t.Helper()
	store, err := registry.Open(filepath.Join(t.TempDir(), "accounts.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	return store
}

func newRegEnv(t *testing.T) *regEnv {
	t.Helper()
	src := newFake()
	src.setHTTP("s3cret", false)
	src.cfg.HTTP.RegisterPerMinute = 1 << 20 // TestRegistration_RateLimit_Good lowers it
	store := openStore(t)
	require.NoError(t, store.AddPool(context.Background(), registry.Pool{Address: testPool, Family: registry.FamilySV1, Algorithm: "sha256d"}))
	buf := &testutil.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := NewHandler(src, Options{Logger: log, NoRuntimeMetrics: true, Accounts: store})
	return &regEnv{t: t, src: src, store: store, h: h, log: buf}
}

var jsonAuth = map[string]string{"Authorization": "Bearer s3cret", "Content-Type": "application/json"}

// call sends one request from remote (default httptest's 192.0.2.1).
func (e *regEnv) call(method, path, body string, header map[string]string, remote string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if remote != "" {
		r.RemoteAddr = remote
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// register posts a registration and returns the new name.
func (e *regEnv) register(user, password string) string {
	e.t.Helper()
	w := e.call("POST", "/api/v1/users", `{"pool":"`+testPool+`","user":"`+user+`","password":"`+password+`"}`, jsonAuth, "")
	require.Equal(e.t, http.StatusCreated, w.Code, w.Body.String())
	var r RegisterResponse
	require.NoError(e.t, json.Unmarshal(w.Body.Bytes(), &r))
	return r.Name
}

// registerReply decodes a POST /api/v1/users answer, checking that it
// has exactly the spec's two keys.
func registerReply(t *testing.T, w *httptest.ResponseRecorder) RegisterResponse {
	t.Helper()
	var keys map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &keys), w.Body.String())
	require.Len(t, keys, 2, w.Body.String())
	require.Contains(t, keys, "name")
	require.Contains(t, keys, "error")
	var r RegisterResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r))
	return r
}

// apiError decodes an {"status","error"} answer and returns the error,
// checking that the status matches the code.
func apiError(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e errorBody
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), w.Body.String())
	require.Equal(t, w.Code, e.Status)
	return e.Error
}

var namePattern = regexp.MustCompile(`^[a-z2-7]{26}$`)

// The spec's request and answer, then the account as GET shows it.
func TestRegistration_Register_Good(t *testing.T) {
	e := newRegEnv(t)
	w := e.call("POST", "/api/v1/users", `{
    "pool": "pool.example.com:3333",
    "user": "alice.rig1",
    "password": "hunter2"
}`, jsonAuth, "")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	r := registerReply(t, w)
	require.Regexp(t, namePattern, r.Name, "a random base32 name from the store")
	require.Equal(t, "", r.Error)
	require.Equal(t, `{"name":"`+r.Name+`","error":""}`+"\n", w.Body.String(), "exactly the spec's body")
	require.Equal(t, "/api/v1/users/"+r.Name, w.Header().Get("Location"))

	cred, err := e.store.Credentials(context.Background(), r.Name)
	require.NoError(t, err)
	require.Equal(t, "alice.rig1", cred.User)
	require.Equal(t, "hunter2", cred.Password, "stored for the proxy's pool login")

	// The same credentials again: another, unrelated name.
	other := e.register("alice.rig1", "hunter2")
	require.NotEqual(t, r.Name, other)

	// curl -d sends a form content type; no content type at all works too;
	// the address is normalised.
	curl := map[string]string{"Authorization": "Bearer s3cret", "Content-Type": "application/x-www-form-urlencoded"}
	w = e.call("POST", "/api/v1/users", `{"pool":"POOL.Example.com:03333","user":"bob","password":""}`, curl, "")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	bob := registerReply(t, w).Name
	w = e.call("POST", "/api/v1/users", `{"pool":"pool.example.com:3333","user":"carol","password":"x"}`, map[string]string{"Authorization": "Bearer s3cret"}, "")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())

	w = e.call("GET", "/api/v1/users/"+bob, "", bearer, "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var acct map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &acct))
	require.Equal(t, bob, acct["name"])
	require.Equal(t, testPool, acct["pool"])
	require.Equal(t, "bob", acct["user"])
	require.Equal(t, "sha256d", acct["algorithm"])
	require.Equal(t, 1.0, acct["divider"])
	require.Equal(t, "sv1", acct["family"])
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, acct["created"])
	require.Nil(t, acct["last_seen"], "no miner yet")
	require.NotContains(t, acct, "password")
	require.Len(t, acct, 8)
}

// Every bad input gets a 4xx and the spec's shape with an empty name.
func TestRegistration_Register_Bad(t *testing.T) {
	e := newRegEnv(t)
	require.NoError(t, e.store.AddPool(context.Background(), registry.Pool{Address: "xmr.example.com:4444", Family: registry.FamilyCryptoNote, Algorithm: "sha256d"}))
	long := strings.Repeat("u", registry.MaxUserLen+1)
	cases := []struct {
		name, body string
		header     map[string]string
		status     int
		errPart    string
	}{
		{"unknown pool", `{"pool":"other.example.com:3333","user":"u","password":"p"}`, jsonAuth, 422, "unknown pool"},
		{"cryptonote pool", `{"pool":"xmr.example.com:4444","user":"u","password":"p"}`, jsonAuth, 422, "not a stratum v1 pool"},
		{"missing pool", `{"user":"u","password":"p"}`, jsonAuth, 400, "pool: required"},
		{"missing user", `{"pool":"` + testPool + `","password":"p"}`, jsonAuth, 400, "user: required"},
		{"missing password", `{"pool":"` + testPool + `","user":"u"}`, jsonAuth, 400, "password: required"},
		{"null user", `{"pool":"` + testPool + `","user":null,"password":"p"}`, jsonAuth, 400, "user: required"},
		{"empty user", `{"pool":"` + testPool + `","user":"","password":"p"}`, jsonAuth, 400, "user: must not be empty"},
		{"number user", `{"pool":"` + testPool + `","user":42,"password":"p"}`, jsonAuth, 400, "user: must be a string"},
		{"object password", `{"pool":"` + testPool + `","user":"u","password":{"a":1}}`, jsonAuth, 400, "password: must be a string"},
		{"array pool", `{"pool":["` + testPool + `"],"user":"u","password":"p"}`, jsonAuth, 400, "pool: must be a string"},
		{"no port", `{"pool":"pool.example.com","user":"u","password":"p"}`, jsonAuth, 400, "pool: must be host:port"},
		{"bad port", `{"pool":"pool.example.com:99999","user":"u","password":"p"}`, jsonAuth, 400, "pool: port"},
		{"bad host", `{"pool":"pool example.com:3333","user":"u","password":"p"}`, jsonAuth, 400, "pool: host"},
		{"url not host:port", `{"pool":"stratum+tcp://pool.example.com:3333","user":"u","password":"p"}`, jsonAuth, 400, "pool:"},
		{"user too long", `{"pool":"` + testPool + `","user":"` + long + `","password":"p"}`, jsonAuth, 400, "user: must be at most 256 bytes"},
		{"control character", `{"pool":"` + testPool + `","user":"a\u0007b","password":"p"}`, jsonAuth, 400, "user: must contain only printable"},
		{"unknown key", `{"pool":"` + testPool + `","user":"u","password":"p","algo":"sha256d"}`, jsonAuth, 400, `unknown key "algo"`},
		{"case-folded key", `{"Pool":"` + testPool + `","user":"u","password":"p"}`, jsonAuth, 400, `unknown key "Pool"`},
		{"duplicate key", `{"pool":"` + testPool + `","user":"u","user":"v","password":"p"}`, jsonAuth, 400, `duplicate key "user"`},
		{"not JSON", `pool=` + testPool + `&user=u&password=p`, jsonAuth, 400, "JSON object"},
		{"array", `[1,2]`, jsonAuth, 400, "JSON object"},
		{"null", `null`, jsonAuth, 400, "JSON object"},
		{"empty body", ``, jsonAuth, 400, "JSON object"},
		{"truncated", `{"pool":"` + testPool + `","user":"u"`, jsonAuth, 400, "JSON object"},
		{"trailing data", `{"pool":"` + testPool + `","user":"u","password":"p"} {}`, jsonAuth, 400, "nothing after it"},
		{"too big", `{"pool":"` + testPool + `","user":"u","password":"` + strings.Repeat("p", maxObjectBody) + `"}`, jsonAuth, 413, "body larger than"},
		{"text/plain", `{"pool":"` + testPool + `","user":"u","password":"p"}`, map[string]string{"Authorization": "Bearer s3cret", "Content-Type": "text/plain"}, 415, "Unsupported Media Type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := e.call("POST", "/api/v1/users", c.body, c.header, "")
			require.Equal(t, c.status, w.Code, w.Body.String())
			r := registerReply(t, w)
			require.Equal(t, "", r.Name)
			require.Contains(t, r.Error, c.errPart)
		})
	}
	n, err := e.store.CountAccounts(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "nothing was stored")
}

func TestRegistration_Users_Good(t *testing.T) {
	e := newRegEnv(t)
	names := []string{e.register("u1", "secret-1"), e.register("u2", "secret-2"), e.register("u3", "secret-3")}

	w := e.call("GET", "/api/v1/users?limit=2&offset=1", "", bearer, "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var page AccountListResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
	require.Equal(t, 3, page.Total)
	require.Equal(t, 2, page.Limit)
	require.Equal(t, 1, page.Offset)
	require.Len(t, page.Users, 2)
	for _, u := range page.Users {
		require.Contains(t, names, u.Name)
	}
	require.NotContains(t, w.Body.String(), "secret-2", "no passwords in the list")
	require.NotContains(t, w.Body.String(), "password")

	// Case-insensitive names, as the store has them.
	require.Equal(t, http.StatusOK, e.call("GET", "/api/v1/users/"+strings.ToUpper(names[0]), "", bearer, "").Code)
	require.Equal(t, http.StatusOK, e.call("HEAD", "/api/v1/users/"+names[0], "", bearer, "").Code)

	// DELETE needs no content type and no body.
	w = e.call("DELETE", "/api/v1/users/"+names[0], "", bearer, "")
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	require.Empty(t, w.Body.String())
	_, err := e.store.Account(context.Background(), names[0])
	require.ErrorIs(t, err, registry.ErrNotFound)
	w = e.call("GET", "/api/v1/users/"+names[0], "", bearer, "")
	require.Equal(t, http.StatusNotFound, w.Code)
	require.JSONEq(t, `{"status":404,"error":"account not found"}`, w.Body.String())
	w = e.call("DELETE", "/api/v1/users/"+names[0], "", bearer, "")
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Contains(t, w.Body.String(), `"error":"account not found"`)

	w = e.call("GET", "/api/v1/users", "", bearer, "")
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
	require.Equal(t, 2, page.Total)
	require.Equal(t, 100, page.Limit, "default page")
}

func TestRegistration_Users_Bad(t *testing.T) {
	e := newRegEnv(t)
	for _, path := range []string{"/api/v1/users/nobody", "/api/v1/users/" + strings.Repeat("a", 26), "/api/v1/users/a%2Fb"} {
		w := e.call("GET", path, "", bearer, "")
		require.Equal(t, http.StatusNotFound, w.Code, path)
		require.Contains(t, w.Body.String(), `"error"`)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "offset=-1", "offset=1.5"} {
		w := e.call("GET", "/api/v1/users?"+q, "", bearer, "")
		require.Equal(t, http.StatusBadRequest, w.Code, q)
	}
	w := e.call("PUT", "/api/v1/users", `{}`, jsonAuth, "")
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, "GET, POST", w.Header().Get("Allow"))
	require.Equal(t, http.StatusMethodNotAllowed, e.call("POST", "/api/v1/users/"+strings.Repeat("a", 26), `{}`, jsonAuth, "").Code)
	require.Equal(t, http.StatusNotFound, e.call("GET", "/api/v1/nothing", "", bearer, "").Code)
	require.Equal(t, http.StatusNotFound, e.call("GET", "/api/v1/users/", "", bearer, "").Code)

	// Without a store the routes do not exist.
	src := newFake()
	src.setHTTP("s3cret", false)
	h := newTestHandler(src)
	require.Equal(t, http.StatusNotFound, do(h, "GET", "/api/v1/pools", bearer, "").Code)
	w = do(h, "POST", "/api/v1/users", jsonAuth, `{"pool":"`+testPool+`","user":"u","password":"p"}`)
	require.Equal(t, http.StatusNotFound, w.Code)
	require.JSONEq(t, `{"name":"","error":"Not Found"}`, w.Body.String())

	// The store fails (closed): 500 without detail.
	require.NoError(t, e.store.Close())
	w = e.call("POST", "/api/v1/users", `{"pool":"`+testPool+`","user":"u","password":"p"}`, jsonAuth, "")
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.JSONEq(t, `{"name":"","error":"internal error"}`, w.Body.String())
	require.Contains(t, e.log.String(), "account store failed")
}

func TestRegistration_Pools_Good(t *testing.T) {
	e := newRegEnv(t)
	w := e.call("GET", "/api/v1/pools", "", bearer, "")
	require.Equal(t, http.StatusOK, w.Code)
	require.JSONEq(t, `{"pools":[{"address":"pool.example.com:3333","family":"sv1","algorithm":"sha256d"}]}`, w.Body.String())

	// Add (family defaults to sv1; the address is normalised).
	w = e.call("POST", "/api/v1/pools", `{"address":"LTC.Example.com:3334","algorithm":"scrypt"}`, jsonAuth, "")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	require.JSONEq(t, `{"address":"ltc.example.com:3334","family":"sv1","algorithm":"scrypt"}`, w.Body.String())
	require.Equal(t, "/api/v1/pools/ltc.example.com:3334", w.Header().Get("Location"))
	w = e.call("POST", "/api/v1/pools", `{"address":"[2001:db8::1]:3333","family":"cryptonote","algorithm":"sha256d"}`, jsonAuth, "")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	w = e.call("GET", "/api/v1/pools/ltc.example.com:3334", "", bearer, "")
	require.Equal(t, http.StatusOK, w.Code)
	require.JSONEq(t, `{"address":"ltc.example.com:3334","family":"sv1","algorithm":"scrypt"}`, w.Body.String())
	w = e.call("GET", "/api/v1/pools/[2001:db8::1]:3333", "", bearer, "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())

	// Duplicate (after normalisation): 409.
	w = e.call("POST", "/api/v1/pools", `{"address":"ltc.example.com:3334","algorithm":"sha256d"}`, jsonAuth, "")
	require.Equal(t, http.StatusConflict, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), "already exists")

	// In use by an account: 409 until the account goes.
	name := e.register("u", "p")
	w = e.call("DELETE", "/api/v1/pools/"+testPool, "", bearer, "")
	require.Equal(t, http.StatusConflict, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), "used by accounts")
	require.Equal(t, http.StatusNoContent, e.call("DELETE", "/api/v1/users/"+name, "", bearer, "").Code)
	require.Equal(t, http.StatusNoContent, e.call("DELETE", "/api/v1/pools/"+testPool, "", bearer, "").Code)
	require.Equal(t, http.StatusNotFound, e.call("DELETE", "/api/v1/pools/"+testPool, "", bearer, "").Code)
	require.Equal(t, http.StatusNotFound, e.call("GET", "/api/v1/pools/"+testPool, "", bearer, "").Code)

	w = e.call("GET", "/api/v1/pools", "", bearer, "")
	var pools PoolsResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &pools))
	require.Len(t, pools.Pools, 2)
}

func TestRegistration_Pools_Bad(t *testing.T) {
	e := newRegEnv(t)
	for _, c := range []struct {
		body    string
		status  int
		errPart string
	}{
		{`{"address":"new.example.com:1","algorithm":"nope"}`, 422, "unknown algorithm"},
		{`{"address":"new.example.com:1"}`, 400, "algorithm: required"},
		{`{"algorithm":"sha256d"}`, 400, "address: required"},
		{`{"address":"new.example.com","algorithm":"sha256d"}`, 400, "address: must be host:port"},
		{`{"address":"new.example.com:1","family":"sv2","algorithm":"sha256d"}`, 400, "family:"},
		{`{"address":"new.example.com:1","algorithm":"SHA256D"}`, 400, "algorithm:"},
		{`{"address":"new.example.com:1","algorithm":"sha256d","tls":true}`, 400, `unknown key "tls"`},
		{`{"address":1,"algorithm":"sha256d"}`, 400, "address: must be a string"},
	} {
		w := e.call("POST", "/api/v1/pools", c.body, jsonAuth, "")
		require.Equal(t, c.status, w.Code, c.body+" → "+w.Body.String())
		require.Contains(t, apiError(t, w), c.errPart, c.body)
	}
	require.Equal(t, http.StatusBadRequest, e.call("DELETE", "/api/v1/pools/no-port", "", bearer, "").Code)
	require.Equal(t, http.StatusBadRequest, e.call("GET", "/api/v1/pools/no-port", "", bearer, "").Code)
}

func TestRegistration_Algorithms_Good(t *testing.T) {
	e := newRegEnv(t)
	w := e.call("GET", "/api/v1/algorithms", "", bearer, "")
	require.Equal(t, http.StatusOK, w.Code)
	require.JSONEq(t, `{"algorithms":[{"name":"scrypt","divider":65536},{"name":"sha256d","divider":1}]}`, w.Body.String())

	w = e.call("POST", "/api/v1/algorithms", `{"name":"x11","divider":256}`, jsonAuth, "")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	require.JSONEq(t, `{"name":"x11","divider":256}`, w.Body.String())
	w = e.call("POST", "/api/v1/algorithms", `{"name":"x11","divider":1}`, jsonAuth, "")
	require.Equal(t, http.StatusConflict, w.Code)

	// A name with a '/' is addressable.
	require.Equal(t, http.StatusCreated, e.call("POST", "/api/v1/algorithms", `{"name":"rx/0","divider":1}`, jsonAuth, "").Code)
	require.Equal(t, http.StatusNoContent, e.call("DELETE", "/api/v1/algorithms/rx/0", "", bearer, "").Code)

	// In use by a pool: 409; free again: 204; gone: 404.
	require.Equal(t, http.StatusCreated, e.call("POST", "/api/v1/pools", `{"address":"x11.example.com:1","algorithm":"x11"}`, jsonAuth, "").Code)
	w = e.call("DELETE", "/api/v1/algorithms/x11", "", bearer, "")
	require.Equal(t, http.StatusConflict, w.Code)
	require.Contains(t, w.Body.String(), "used by pools")
	require.Equal(t, http.StatusNoContent, e.call("DELETE", "/api/v1/pools/x11.example.com:1", "", bearer, "").Code)
	require.Equal(t, http.StatusNoContent, e.call("DELETE", "/api/v1/algorithms/x11", "", bearer, "").Code)
	require.Equal(t, http.StatusNotFound, e.call("DELETE", "/api/v1/algorithms/x11", "", bearer, "").Code)
}

func TestRegistration_Algorithms_Bad(t *testing.T) {
	e := newRegEnv(t)
	for _, c := range []struct {
		body    string
		errPart string
	}{
		{`{"name":"a","divider":0}`, "divider: must be a number from 1 to 4294967296"},
		{`{"name":"a","divider":-1}`, "divider:"},
		// Finite but absurd: 2^32 × difficulty ÷ divider would be +Inf.
		{`{"name":"a","divider":5e-324}`, "divider: must be a number from 1 to 4294967296"},
		{`{"name":"a","divider":0.5}`, "divider: must be a number from 1 to 4294967296"},
		{`{"name":"a","divider":4294967297}`, "divider: must be a number from 1 to 4294967296"},
		{`{"name":"a","divider":1e300}`, "divider: must be a number from 1 to 4294967296"},
		{`{"name":"a","divider":"1"}`, "divider: must be a number"},
		{`{"name":"a","divider":1e999}`, "divider: must be a number"},
		{`{"name":"a"}`, "divider: required"},
		{`{"divider":1}`, "name: required"},
		{`{"name":"Bad Name","divider":1}`, "name:"},
		{`{"name":"a","divider":1,"x":0}`, `unknown key "x"`},
	} {
		w := e.call("POST", "/api/v1/algorithms", c.body, jsonAuth, "")
		require.Equal(t, http.StatusBadRequest, w.Code, c.body+" → "+w.Body.String())
		require.Contains(t, apiError(t, w), c.errPart, c.body)
	}
	require.Equal(t, http.StatusMethodNotAllowed, e.call("GET", "/api/v1/algorithms/sha256d", "", bearer, "").Code)
	require.Equal(t, http.StatusBadRequest, e.call("DELETE", "/api/v1/algorithms/UPPER", "", bearer, "").Code)
	// The bounds themselves are accepted.
	require.Equal(t, http.StatusCreated, e.call("POST", "/api/v1/algorithms", `{"name":"lo","divider":1}`, jsonAuth, "").Code)
	require.Equal(t, http.StatusCreated, e.call("POST", "/api/v1/algorithms", `{"name":"hi","divider":4294967296}`, jsonAuth, "").Code)
}

// The authentication matrix of the /api/v1 routes: the rest of the API's
// rules (xmrig-proxy's), with writes refused while restricted.
func TestRegistration_Auth_Good(t *testing.T) {
	none := map[string]string{"Content-Type": "application/json"}
	wrong := map[string]string{"Authorization": "Bearer nope", "Content-Type": "application/json"}
	right := jsonAuth
	type want struct{ read, write int }
	cases := []struct {
		token      string
		restricted bool
		header     string
		want       want
	}{
		// No token, restricted: reads open (but accounts), writes refused.
		{"", true, "none", want{200, 403}},
		{"", true, "wrong", want{401, 401}},
		// No token, unrestricted: nothing is served.
		{"", false, "none", want{401, 401}},
		{"", false, "wrong", want{401, 401}},
		// Token, restricted: reads with the token, no writes at all.
		{"s3cret", true, "none", want{401, 401}},
		{"s3cret", true, "wrong", want{403, 403}},
		{"s3cret", true, "right", want{200, 403}},
		// Token, unrestricted: everything with the token.
		{"s3cret", false, "none", want{401, 401}},
		{"s3cret", false, "wrong", want{403, 403}},
		{"s3cret", false, "right", want{200, 201}},
	}
	headers := map[string]map[string]string{"none": none, "wrong": wrong, "right": right}
	for _, c := range cases {
		e := newRegEnv(t)
		e.src.setHTTP(c.token, c.restricted)
		name := ""
		if c.want.write == 201 {
			name = e.register("u", "p")
		} else {
			acct, err := e.store.CreateAccount(context.Background(), testPool, "u", "p")
			require.NoError(t, err)
			name = acct.Name
		}
		h := headers[c.header]
		label := func(what string) string {
			return what + " token=" + c.token + " restricted=" + map[bool]string{true: "true", false: "false"}[c.restricted] + " header=" + c.header
		}
		for _, path := range []string{"/api/v1/users", "/api/v1/users/" + name, "/api/v1/pools", "/api/v1/algorithms"} {
			w := e.call("GET", path, "", h, "")
			want := c.want.read
			if want == 200 && c.token == "" && strings.HasPrefix(path, "/api/v1/users") {
				want = 403 // accounts are never shown without a token
			}
			require.Equal(t, want, w.Code, label("GET "+path))
		}
		writes := []struct{ method, path, body string }{
			{"POST", "/api/v1/users", `{"pool":"` + testPool + `","user":"u","password":"p"}`},
			{"POST", "/api/v1/pools", `{"address":"new.example.com:1","algorithm":"sha256d"}`},
			{"POST", "/api/v1/algorithms", `{"name":"x11","divider":1}`},
		}
		for _, wr := range writes {
			w := e.call(wr.method, wr.path, wr.body, h, "")
			require.Equal(t, c.want.write, w.Code, label(wr.method+" "+wr.path))
			if wr.path == "/api/v1/users" && w.Code != 201 {
				r := registerReply(t, w)
				require.Empty(t, r.Name)
				require.NotEmpty(t, r.Error)
			}
		}
		deleteWant := c.want.write
		if deleteWant == 201 {
			deleteWant = 204
		}
		for _, path := range []string{"/api/v1/users/" + name, "/api/v1/algorithms/x11", "/api/v1/pools/new.example.com:1"} {
			w := e.call("DELETE", path, "", h, "")
			require.Equal(t, deleteWant, w.Code, label("DELETE "+path))
		}
		n, err := e.store.CountAccounts(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, n, "registered two and deleted one, or no write went through")
	}
}

// http.register-token opens POST /api/v1/users and nothing else: with it
// a client cannot read the configuration, the accounts, the statistics or
// the metrics, nor write anything but a registration — restricted API or
// not. The admin token keeps working for registration too, and a
// restricted API with a registration credential takes registrations only.
func TestRegistration_RegisterToken_Ugly(t *testing.T) {
	regTok := map[string]string{"Authorization": "Bearer reg-tok", "Content-Type": "application/json"}
	body := `{"pool":"` + testPool + `","user":"u","password":"p"}`
	for _, restrictedAPI := range []bool{true, false} {
		e := newRegEnv(t)
		e.src.setHTTP("s3cret", restrictedAPI)
		e.src.setRegistration("reg-tok", false)
		label := func(s string) string { return fmt.Sprintf("%s (restricted %v)", s, restrictedAPI) }

		w := e.call("POST", "/api/v1/users", body, regTok, "")
		require.Equal(t, http.StatusCreated, w.Code, label(w.Body.String()))
		name := registerReply(t, w).Name
		require.NotEmpty(t, name)
		w = e.call("POST", "/api/v1/users", body, jsonAuth, "")
		require.Equal(t, http.StatusCreated, w.Code, label("the admin token registers too: "+w.Body.String()))

		for _, rq := range []struct{ method, path, body string }{
			{"GET", "/1/config", ""},
			{"PUT", "/1/config", `{"pools":[{"url":"pool:3333"}]}`},
			{"POST", "/1/config", `{"pools":[{"url":"pool:3333"}]}`},
			{"GET", "/1/summary", ""},
			{"GET", "/1/workers", ""},
			{"GET", "/1/miners", ""},
			{"GET", "/metrics", ""},
			{"GET", "/api/v1/users", ""},
			{"GET", "/api/v1/users/" + name, ""},
			{"DELETE", "/api/v1/users/" + name, ""},
			{"GET", "/api/v1/pools", ""},
			{"POST", "/api/v1/pools", `{"address":"new.example.com:1","algorithm":"sha256d"}`},
			{"DELETE", "/api/v1/pools/" + testPool, ""},
			{"GET", "/api/v1/algorithms", ""},
			{"POST", "/api/v1/algorithms", `{"name":"x11","divider":1}`},
			{"DELETE", "/api/v1/algorithms/sha256d", ""},
			{"HEAD", "/api/v1/users", ""},
			{"GET", "/nothing", ""},
		} {
			w := e.call(rq.method, rq.path, rq.body, regTok, "")
			require.Equal(t, http.StatusForbidden, w.Code, label(rq.method+" "+rq.path))
			require.NotContains(t, w.Body.String(), name)
		}
		n, err := e.store.CountAccounts(context.Background())
		require.NoError(t, err)
		require.Equal(t, 2, n, "nothing deleted")
		_, err = e.store.Pool(context.Background(), "new.example.com:1")
		require.ErrorIs(t, err, registry.ErrNotFound, "nothing added")

		// A wrong token is still refused, for registration too.
		wrong := map[string]string{"Authorization": "Bearer reg-tok2", "Content-Type": "application/json"}
		require.Equal(t, http.StatusForbidden, e.call("POST", "/api/v1/users", body, wrong, "").Code)
		// Without a registration credential a restricted API takes no
		// registration, even with the admin token (as before).
		e.src.setRegistration("", false)
		want := http.StatusCreated
		if restrictedAPI {
			want = http.StatusForbidden
		}
		require.Equal(t, want, e.call("POST", "/api/v1/users", body, jsonAuth, "").Code, label("admin token"))
		require.Equal(t, http.StatusForbidden, e.call("POST", "/api/v1/users", body, regTok, "").Code, "a removed token is refused")
		require.NotContains(t, e.log.String(), "reg-tok", "never logged")
	}
}

// http.open-registration: POST /api/v1/users needs no token (but is still
// limited per IP); every other route still needs the admin token, and a
// token that is sent must be right.
func TestRegistration_OpenRegistration_Good(t *testing.T) {
	e := newRegEnv(t)
	e.src.setHTTP("s3cret", true)
	e.src.setRegistration("", true)
	e.src.mu.Lock()
	e.src.cfg.HTTP.RegisterPerMinute = 3
	e.src.mu.Unlock()
	none := map[string]string{"Content-Type": "application/json"}
	body := `{"pool":"` + testPool + `","user":"u","password":"p"}`
	const ip = "198.51.100.7:40000"
	for i := 0; i < 3; i++ {
		w := e.call("POST", "/api/v1/users", body, none, ip)
		require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	}
	w := e.call("POST", "/api/v1/users", body, none, ip)
	require.Equal(t, http.StatusTooManyRequests, w.Code, "still limited per IP")
	require.Equal(t, `{"name":"","error":"rate limited"}`+"\n", w.Body.String())
	require.Equal(t, http.StatusCreated, e.call("POST", "/api/v1/users", body, none, "203.0.113.9:1").Code, "another IP")

	for _, rq := range []struct{ method, path, body string }{
		{"GET", "/api/v1/users", ""},
		{"GET", "/1/config", ""},
		{"GET", "/1/summary", ""},
		{"POST", "/api/v1/pools", `{"address":"new.example.com:1","algorithm":"sha256d"}`},
		{"PUT", "/1/config", `{"pools":[{"url":"pool:3333"}]}`},
	} {
		require.Equal(t, http.StatusUnauthorized, e.call(rq.method, rq.path, rq.body, none, "").Code, rq.method+" "+rq.path)
	}
	wrong := map[string]string{"Authorization": "Bearer nope", "Content-Type": "application/json"}
	require.Equal(t, http.StatusForbidden, e.call("POST", "/api/v1/users", body, wrong, "192.0.2.50:1").Code)
	n, err := e.store.CountAccounts(context.Background())
	require.NoError(t, err)
	require.Equal(t, 4, n)
}

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// The 11th registration within a minute from one IP is refused; another
// IP is not affected; the allowance refills at perMinute per minute.
func TestRegistration_RateLimit_Good(t *testing.T) {
	e := newRegEnv(t)
	e.src.mu.Lock()
	e.src.cfg.HTTP.RegisterPerMinute = 0 // the default, 10
	e.src.mu.Unlock()
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	e.h.reg.limiter.now = clock.Now
	body := `{"pool":"` + testPool + `","user":"u","password":"p"}`
	const ipA, ipB = "198.51.100.7:40000", "203.0.113.9:40000"
	for i := 0; i < 10; i++ {
		clock.Advance(100 * time.Millisecond) // a burst: 10 within a second
		w := e.call("POST", "/api/v1/users", body, jsonAuth, ipA)
		require.Equal(t, http.StatusCreated, w.Code, "registration %d: %s", i+1, w.Body.String())
	}
	w := e.call("POST", "/api/v1/users", body, jsonAuth, "198.51.100.7:40001")
	require.Equal(t, http.StatusTooManyRequests, w.Code, "11th from the same IP (another port)")
	require.Equal(t, `{"name":"","error":"rate limited"}`+"\n", w.Body.String())
	require.Equal(t, "6", w.Header().Get("Retry-After"))
	require.Equal(t, http.StatusCreated, e.call("POST", "/api/v1/users", body, jsonAuth, ipB).Code, "another IP")
	// Bad requests spend the allowance too (no free probing).
	require.Equal(t, http.StatusTooManyRequests, e.call("POST", "/api/v1/users", `not json`, jsonAuth, ipA).Code)
	// Reads are not limited.
	require.Equal(t, http.StatusOK, e.call("GET", "/api/v1/users", "", bearer, ipA).Code)

	// One token every 6 s.
	clock.Advance(6 * time.Second)
	require.Equal(t, http.StatusCreated, e.call("POST", "/api/v1/users", body, jsonAuth, ipA).Code)
	require.Equal(t, http.StatusTooManyRequests, e.call("POST", "/api/v1/users", body, jsonAuth, ipA).Code)

	// The configured limit applies at once (a reload).
	e.src.mu.Lock()
	e.src.cfg.HTTP.RegisterPerMinute = 2
	e.src.mu.Unlock()
	clock.Advance(time.Minute)
	require.Equal(t, http.StatusCreated, e.call("POST", "/api/v1/users", body, jsonAuth, ipA).Code)
	require.Equal(t, http.StatusCreated, e.call("POST", "/api/v1/users", body, jsonAuth, ipA).Code)
	w = e.call("POST", "/api/v1/users", body, jsonAuth, ipA)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "30", w.Header().Get("Retry-After"))

	// Addresses in one IPv6 /64 share an allowance; X-Forwarded-For is
	// ignored.
	v6 := []string{"[2001:db8:1:2::1]:1", "[2001:db8:1:2::ffff]:2"}
	require.Equal(t, http.StatusCreated, e.call("POST", "/api/v1/users", body, jsonAuth, v6[0]).Code)
	require.Equal(t, http.StatusCreated, e.call("POST", "/api/v1/users", body, jsonAuth, v6[1]).Code)
	fwd := map[string]string{"Authorization": "Bearer s3cret", "Content-Type": "application/json", "X-Forwarded-For": "192.0.2.200"}
	require.Equal(t, http.StatusTooManyRequests, e.call("POST", "/api/v1/users", body, fwd, v6[0]).Code)
}

// Idle clients are forgotten, and the table never exceeds its cap.
func TestIPLimiter_Memory_Ugly(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newIPLimiter()
	l.now = clock.Now
	ip := func(i int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	}
	for i := 0; i < maxLimitedClients; i++ {
		require.True(t, l.allow(ip(i), 10))
	}
	require.Equal(t, maxLimitedClients, l.tracked())
	require.False(t, l.allow(ip(maxLimitedClients), 10), "full of active clients: refused")
	require.True(t, l.allow(ip(5), 10), "a known client still has its allowance")
	require.Equal(t, maxLimitedClients, l.tracked())

	clock.Advance(time.Minute)
	require.True(t, l.allow(ip(maxLimitedClients), 10), "idle clients forgotten")
	require.Equal(t, 1, l.tracked())
}

func TestIPLimiter_ClientKey_Good(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.1:1234":           "192.0.2.1/32",
		"[::ffff:192.0.2.1]:1234":  "192.0.2.1/32",
		"[2001:db8::1]:80":         "2001:db8::/64",
		"[fe80::1%eth0]:80":        "fe80::/64",
		"192.0.2.1":                "192.0.2.1/32",
		"@":                        "invalid Prefix",
		"":                         "invalid Prefix",
		"[2001:db8:a:b:c::1]:9999": "2001:db8:a:b::/64",
	} {
		require.Equal(t, want, clientKey(remote).String(), remote)
	}
}

// Credentials never appear in a response or in the log, whatever
// happens; request bodies are never logged; account names are not logged.
func TestRegistration_NoSecrets_Good(t *testing.T) {
	e := newRegEnv(t)
	const secret = "Pa55-Secret-Value"
	bodies := []string{
		`{"pool":"` + testPool + `","user":"u","password":"` + secret + `"}`,
		`{"pool":"` + testPool + `","user":"u","password":"` + secret + `\u0001"}`,
		`{"pool":"` + testPool + `","user":"u","password":"` + secret + strings.Repeat("x", 300) + `"}`,
		`{"pool":"` + testPool + `","user":"u","password":"` + secret + `","x":1}`,
		`{"pool":"` + testPool + `","user":"u","password":"` + secret + `"`,
		`{"pool":"nowhere.example.com:1","user":"u","password":"` + secret + `"}`,
		`{"pool":"` + testPool + `","user":"u","password":["` + secret + `"]}`,
		`{"pool":"` + testPool + `","user":"u","password":"` + secret + `"}garbage` + secret,
		`{"pool":"` + testPool + `","user":"u","` + secret[:5] + `":"` + secret + `"}`,
	}
	var names []string
	var answers []string
	for _, b := range bodies {
		w := e.call("POST", "/api/v1/users", b, jsonAuth, "")
		answers = append(answers, w.Body.String())
		if w.Code == http.StatusCreated {
			names = append(names, registerReply(t, w).Name)
		}
	}
	require.Len(t, names, 1)
	for _, path := range []string{"/api/v1/users", "/api/v1/users/" + names[0]} {
		w := e.call("GET", path, "", bearer, "")
		require.Equal(t, http.StatusOK, w.Code)
		answers = append(answers, w.Body.String())
	}
	// A failing store must not leak either.
	require.NoError(t, e.store.Close())
	answers = append(answers, e.call("POST", "/api/v1/users", bodies[0], jsonAuth, "").Body.String())

	for _, a := range answers {
		require.NotContains(t, a, secret, "response")
	}
	logText := e.log.String()
	require.Contains(t, logText, "api: account registered", "the log was captured")
	require.NotContains(t, logText, secret, "log")
	require.NotContains(t, logText, names[0], "account names are not logged")
	require.NotContains(t, logText, `"user"`, "bodies are not logged")
}
