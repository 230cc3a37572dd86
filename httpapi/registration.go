package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"forge.lthn.ai/core/go-proxy/registry"
)

// The /api/v1 management API of the SV1 passthrough mode, served when
// Options.Accounts holds a store (404 otherwise):
//
//	POST   /api/v1/users              {"pool","user","password"} → 201 {"name":"…","error":""}
//	GET    /api/v1/users?limit&offset → 200 {"total","limit","offset","users":[account…]}
//	GET    /api/v1/users/{name}       → 200 account | 404
//	DELETE /api/v1/users/{name}       → 204 | 404
//	GET    /api/v1/pools              → 200 {"pools":[{"address","family","algorithm"}…]}
//	POST   /api/v1/pools              {"address","family"?,"algorithm"} → 201 pool | 409 | 422
//	GET    /api/v1/pools/{host:port}  → 200 pool | 404
//	DELETE /api/v1/pools/{host:port}  → 204 | 404 | 409 (accounts use it)
//	GET    /api/v1/algorithms         → 200 {"algorithms":[{"name","divider"}…]}
//	POST   /api/v1/algorithms         {"name","divider"} → 201 algorithm | 409
//	DELETE /api/v1/algorithms/{name}  → 204 | 404 | 409 (pools use it)
//
// Authentication is the rest of the API's (see authorize): every route
// needs the admin token when one is configured, and a restricted API
// refuses every write with 403. Registration alone may have credentials
// of its own, so registering users never hold the admin token:
// http.register-token (a bearer token valid for POST /api/v1/users only;
// 403 anywhere else) and http.open-registration (POST /api/v1/users with
// no token at all). With either set, POST /api/v1/users is served even
// while the API is restricted. Reads of accounts (names and pool logins)
// are stricter still: without a configured admin token they are refused
// with 403, as /1/config is while restricted. POST /api/v1/users is also
// limited per client IP (http.register-per-minute, 429 beyond), whatever
// the credential.
//
// Security rules: a password goes into the store and never comes out —
// AccountStore cannot return one, and no answer, error message or log
// line quotes a request body. Account names (which let anyone mine on the
// account) are not logged either.

// registration is the state of the /api/v1 routes. Safe for concurrent use.
type registration struct {
	store   AccountStore
	limiter *ipLimiter
}

func newRegistration(store AccountStore) *registration {
	return &registration{store: store, limiter: newIPLimiter()}
}

// Paging of GET /api/v1/users.
const (
	defaultUsersLimit = 100
	maxUsersLimit     = 1000
)

// The /api/v1 paths.
const (
	apiPrefix     = "/api/v1/"
	usersPath     = "/api/v1/users"
	poolsPath     = "/api/v1/pools"
	algorithmPath = "/api/v1/algorithms"
)

// apiLookup finds the /api/v1 endpoint of a path. Parameters are the rest
// of the path: an account name, a pool's host:port, an algorithm name
// (which may contain '/', as in "rx/0").
func apiLookup(path string) (route, bool) {
	switch path {
	case usersPath:
		return route{"GET POST", (*Handler).serveUsers}, true
	case poolsPath:
		return route{"GET POST", (*Handler).servePools}, true
	case algorithmPath:
		return route{"GET POST", (*Handler).serveAlgorithms}, true
	}
	if name, ok := strings.CutPrefix(path, usersPath+"/"); ok && name != "" && !strings.Contains(name, "/") {
		return route{"GET DELETE", func(h *Handler, w http.ResponseWriter, r *http.Request) { h.serveUser(w, r, name) }}, true
	}
	if addr, ok := strings.CutPrefix(path, poolsPath+"/"); ok && addr != "" && !strings.Contains(addr, "/") {
		return route{"GET DELETE", func(h *Handler, w http.ResponseWriter, r *http.Request) { h.servePool(w, r, addr) }}, true
	}
	if name, ok := strings.CutPrefix(path, algorithmPath+"/"); ok && name != "" {
		return route{"DELETE", func(h *Handler, w http.ResponseWriter, r *http.Request) { h.serveAlgorithm(w, r, name) }}, true
	}
	return route{}, false
}

// isRegister reports whether r is POST /api/v1/users, whose errors have
// the spec's shape.
func isRegister(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == usersPath
}

// RegisterResponse is the body of every POST /api/v1/users answer, as the
// spec has it: the new account's name and "" on success; "" and what is
// wrong otherwise.
type RegisterResponse struct {
	Name  string `json:"name"`
	Error string `json:"error"`
}

// fail answers an error in the shape the route's clients expect:
// RegisterResponse for POST /api/v1/users, {"status","error"} elsewhere.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if isRegister(r) {
		writeJSON(w, status, RegisterResponse{Error: msg})
		return
	}
	writeError(w, status, msg)
}

// failErr answers a body or store error (see storeFailure).
func (h *Handler) failErr(w http.ResponseWriter, r *http.Request, op string, err error) {
	status, msg := h.storeFailure(op, err)
	h.fail(w, r, status, msg)
}

// storeFailure maps an error of readObject or of the store to a status
// and a message safe to show: registry errors never contain a password or
// an account name, and their FieldErrors name the field without quoting
// it. Unexpected errors are logged and answered 500 without detail.
func (h *Handler) storeFailure(op string, err error) (int, string) {
	var be *bodyError
	var fe *registry.FieldError
	msg := strings.TrimPrefix(err.Error(), "registry: ")
	switch {
	case errors.As(err, &be):
		return be.status, be.msg
	case errors.As(err, &fe):
		return http.StatusBadRequest, fe.Field + ": " + fe.Reason
	case errors.Is(err, registry.ErrNotFound):
		return http.StatusNotFound, msg
	case errors.Is(err, registry.ErrUnknownPool), errors.Is(err, registry.ErrUnknownAlgorithm):
		return http.StatusUnprocessableEntity, msg
	case errors.Is(err, registry.ErrConflict), errors.Is(err, registry.ErrInUse):
		return http.StatusConflict, msg
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		h.log.Warn("api: account store did not answer in time", "op", op, "err", err)
		return http.StatusServiceUnavailable, "the account store did not answer in time"
	}
	h.log.Error("api: account store failed", "op", op, "err", err)
	return http.StatusInternalServerError, "internal error"
}

// serveUsers is POST (register) or GET (list) /api/v1/users.
func (h *Handler) serveUsers(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		h.serveRegister(w, r)
		return
	}
	if !h.accountReadsAllowed(w, r) {
		return
	}
	limit, offset, err := paging(r)
	if err != nil {
		h.failErr(w, r, "list accounts", err)
		return
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	total, err := h.reg.store.CountAccounts(ctx)
	if err != nil {
		h.failErr(w, r, "count accounts", err)
		return
	}
	accts, err := h.reg.store.ListAccounts(ctx, limit, offset)
	if err != nil {
		h.failErr(w, r, "list accounts", err)
		return
	}
	resp := AccountListResponse{Total: total, Limit: limit, Offset: offset, Users: make([]AccountResponse, 0, len(accts))}
	for i := range accts {
		resp.Users = append(resp.Users, NewAccountResponse(&accts[i]))
	}
	writeJSON(w, http.StatusOK, resp)
}

// accountReadsAllowed refuses (403) to show accounts through an API that
// has no access token: they hold pool logins and the names that mine on
// them.
func (h *Handler) accountReadsAllowed(w http.ResponseWriter, r *http.Request) bool {
	if h.src.Config().HTTP.AccessToken == "" {
		h.fail(w, r, http.StatusForbidden, "accounts are shown only when http.access-token is set")
		return false
	}
	return true
}

// paging reads ?limit (1..1000, default 100) and ?offset (≥ 0, default 0).
func paging(r *http.Request) (limit, offset int, err error) {
	q := r.URL.Query()
	limit, offset = defaultUsersLimit, 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxUsersLimit {
			return 0, 0, badBody("limit: must be an integer from 1 to " + strconv.Itoa(maxUsersLimit))
		}
		limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, 0, badBody("offset: must be a non-negative integer")
		}
		offset = n
	}
	return limit, offset, nil
}

// serveRegister registers pool credentials under a new random account
// name: 201 RegisterResponse{name, ""}. The client IP's allowance is taken
// before the body is read; bad input gets 400 (413 when too big), an
// unregistered or non-SV1 pool 422, too many registrations 429.
func (h *Handler) serveRegister(w http.ResponseWriter, r *http.Request) {
	perMinute := h.src.Config().HTTP.RegisterPerMinute
	if perMinute < 1 {
		perMinute = DefaultRegisterPerMinute
	}
	if !h.reg.limiter.allow(clientKey(r.RemoteAddr), perMinute) {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, (60+perMinute-1)/perMinute)))
		h.fail(w, r, http.StatusTooManyRequests, "rate limited")
		return
	}
	obj, err := readObject(w, r, "pool", "user", "password")
	if err != nil {
		h.failErr(w, r, "register", err)
		return
	}
	var pool, user, password string
	for _, f := range []struct {
		key string
		dst *string
	}{{"pool", &pool}, {"user", &user}, {"password", &password}} {
		if *f.dst, err = obj.str(f.key, false, ""); err != nil {
			h.failErr(w, r, "register", err)
			return
		}
	}
	addr, err := registry.NormalizeAddress(pool)
	if err != nil {
		var fe *registry.FieldError
		if errors.As(err, &fe) {
			err = &registry.FieldError{Field: "pool", Reason: fe.Reason}
		}
		h.failErr(w, r, "register", err)
		return
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	p, err := h.reg.store.Pool(ctx, addr)
	if errors.Is(err, registry.ErrNotFound) {
		h.fail(w, r, http.StatusUnprocessableEntity, "unknown pool "+strconv.Quote(addr)+": ask the operator to add it (POST /api/v1/pools)")
		return
	}
	if err != nil {
		h.failErr(w, r, "register", err)
		return
	}
	if p.Family != registry.FamilySV1 {
		h.fail(w, r, http.StatusUnprocessableEntity, "pool "+strconv.Quote(addr)+" is not a stratum v1 pool")
		return
	}
	acct, err := h.reg.store.CreateAccount(ctx, addr, user, password)
	if err != nil {
		h.failErr(w, r, "register", err)
		return
	}
	h.log.Info("api: account registered", "pool", acct.Pool, "algorithm", acct.Algorithm, "remote", r.RemoteAddr)
	w.Header().Set("Location", usersPath+"/"+acct.Name)
	writeJSON(w, http.StatusCreated, RegisterResponse{Name: acct.Name})
}

// serveUser is GET or DELETE /api/v1/users/{name}.
func (h *Handler) serveUser(w http.ResponseWriter, r *http.Request, name string) {
	ctx, cancel := h.ctx(r)
	defer cancel()
	if r.Method == http.MethodDelete {
		if err := h.reg.store.DeleteAccount(ctx, name); err != nil {
			h.failErr(w, r, "delete account", err)
			return
		}
		h.log.Info("api: account deleted", "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !h.accountReadsAllowed(w, r) {
		return
	}
	acct, err := h.reg.store.Account(ctx, name)
	if err != nil {
		h.failErr(w, r, "get account", err)
		return
	}
	writeJSON(w, http.StatusOK, NewAccountResponse(&acct))
}

// AccountResponse is a registered account as the API shows it: never
// with a password. Times are RFC 3339 UTC; LastSeen is null until a miner
// first authorized with the name.
type AccountResponse struct {
	Name      string  `json:"name"`
	Pool      string  `json:"pool"`
	User      string  `json:"user"`
	Algorithm string  `json:"algorithm"`
	Divider   float64 `json:"divider"`
	Family    string  `json:"family"`
	Created   string  `json:"created"`
	LastSeen  *string `json:"last_seen"`
}

// AccountListResponse is a page of GET /api/v1/users, oldest first.
type AccountListResponse struct {
	Total  int               `json:"total"`
	Limit  int               `json:"limit"`
	Offset int               `json:"offset"`
	Users  []AccountResponse `json:"users"`
}

// NewAccountResponse builds the API view of an account.
func NewAccountResponse(a *registry.Account) AccountResponse {
	r := AccountResponse{
		Name: a.Name, Pool: a.Pool, User: a.User, Algorithm: a.Algorithm, Divider: a.Divider, Family: a.Family,
		Created: a.CreatedAt.UTC().Format(time.RFC3339),
	}
	if !a.LastSeen.IsZero() {
		s := a.LastSeen.UTC().Format(time.RFC3339)
		r.LastSeen = &s
	}
	return r
}
