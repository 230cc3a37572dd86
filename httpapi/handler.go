package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"forge.lthn.ai/core/go-proxy/internal/logsafe"
	"forge.lthn.ai/core/go-proxy/reactor"
)

// MaxBodyBytes bounds a request body (a configuration).
const MaxBodyBytes = 1 << 20

// DefaultTimeout bounds how long a request waits for the event loops.
const DefaultTimeout = 5 * time.Second

// Options customise a Handler. The zero value is ready.
type Options struct {
	// Logger receives reloads and errors (default slog.Default()); its
	// handler is wrapped by internal/logsafe, so every line is escaped.
	Logger *slog.Logger
	// Timeout bounds a request's (and a scrape's) wait for the event
	// loops (default DefaultTimeout).
	Timeout time.Duration
	// NoRuntimeMetrics leaves the Go runtime and process collectors out
	// of /metrics.
	NoRuntimeMetrics bool
	// Accounts, when set, is the SV1 passthrough account store, managed
	// through /api/v1 (users, pools, algorithms; see registration.go).
	// Nil leaves those routes out (404).
	Accounts AccountStore
	// Resources reads the host's memory, load and CPUs for /1/summary
	// (default ReadResources).
	Resources func() Resources
}

// Handler is the API's http.Handler. Authentication settings (token,
// restricted) are read from the Source's configuration on every request,
// so a reload applies them at once. Safe for concurrent use.
type Handler struct {
	src     Source
	log     *slog.Logger
	timeout time.Duration
	metrics http.Handler
	reg     *registration // nil without Options.Accounts
	res     func() Resources
}

// NewHandler returns the API handler over src.
func NewHandler(src Source, opts Options) *Handler {
	h := &Handler{src: src, log: opts.Logger, timeout: opts.Timeout, res: opts.Resources}
	if h.res == nil {
		h.res = ReadResources
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.log = logsafe.Logger(h.log) // request paths, pool addresses, algorithm names, errors
	if h.timeout <= 0 {
		h.timeout = DefaultTimeout
	}
	h.metrics = newMetricsHandler(src, h.log, h.timeout, !opts.NoRuntimeMetrics)
	if opts.Accounts != nil {
		h.reg = newRegistration(opts.Accounts)
	}
	return h
}

// route is one endpoint: the methods it answers and how.
type route struct {
	methods string // space-separated, e.g. "GET PUT POST"
	serve   func(h *Handler, w http.ResponseWriter, r *http.Request)
}

// lookup finds the endpoint of a path (/2/summary and /api.json are
// xmrig-proxy's aliases of /1/summary, /2/config of /1/config).
func lookup(path string) (route, bool) {
	switch path {
	case "/1/summary", "/2/summary", "/api.json":
		return route{"GET", (*Handler).serveSummary}, true
	case "/1/workers":
		return route{"GET", (*Handler).serveWorkers}, true
	case "/1/miners":
		return route{"GET", (*Handler).serveMiners}, true
	case "/1/routes":
		return route{"GET", (*Handler).serveRoutes}, true
	case "/1/config", "/2/config":
		return route{"GET PUT POST", (*Handler).serveConfig}, true
	case "/metrics":
		return route{"GET", (*Handler).serveMetrics}, true
	}
	return route{}, false
}

// ServeHTTP answers one request: CORS, then authentication, then the
// route and its methods (404, 405), then the restricted and content-type
// rules for writes (403, 415; a restricted API still takes POST
// /api/v1/users when registration has its own credential), then the
// endpoint.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", "*")
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet // net/http drops the body
	}
	switch method {
	case http.MethodOptions:
		hdr.Set("Access-Control-Allow-Methods", "GET, PUT, POST, DELETE, OPTIONS")
		hdr.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		hdr.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete:
	default:
		h.fail(w, r, http.StatusMethodNotAllowed, http.StatusText(http.StatusMethodNotAllowed))
		return
	}
	hc := &h.src.Config().HTTP
	if status := authorize(r, hc); status != http.StatusOK {
		// An unauthenticated client gets its answer and loses the
		// connection: it must not keep an API connection (a descriptor)
		// open by retrying on it.
		hdr.Set("Connection", "close")
		if status == http.StatusUnauthorized {
			hdr.Set("WWW-Authenticate", `Bearer realm="go-proxy"`)
		}
		h.fail(w, r, status, http.StatusText(status))
		return
	}
	apiV1 := strings.HasPrefix(r.URL.Path, apiPrefix)
	rt, ok := lookup(r.URL.Path)
	if !ok && apiV1 && h.reg != nil {
		rt, ok = apiLookup(r.URL.Path)
	}
	if !ok {
		h.fail(w, r, http.StatusNotFound, http.StatusText(http.StatusNotFound))
		return
	}
	if !hasMethod(rt.methods, method) {
		hdr.Set("Allow", strings.ReplaceAll(rt.methods, " ", ", "))
		h.fail(w, r, http.StatusMethodNotAllowed, http.StatusText(http.StatusMethodNotAllowed))
		return
	}
	if method != http.MethodGet {
		if restricted(hc) && !(isRegister(r) && registerCredential(hc)) {
			hdr.Set("Connection", "close")
			h.fail(w, r, http.StatusForbidden, "the API is restricted (read-only); set http.restricted to false and an access token to allow changes")
			return
		}
		// /api/v1 writes: DELETE has no body, and a JSON body may come
		// without a type or as curl -d's form type (see apiBodyTypeOK).
		ct := r.Header.Get("Content-Type")
		if !isJSON(ct) && !(apiV1 && (method == http.MethodDelete || apiBodyTypeOK(ct))) {
			h.fail(w, r, http.StatusUnsupportedMediaType, http.StatusText(http.StatusUnsupportedMediaType))
			return
		}
	}
	rt.serve(h, w, r)
}

func hasMethod(list, m string) bool {
	for _, x := range strings.Fields(list) {
		if x == m {
			return true
		}
	}
	return false
}

// isJSON reports whether a Content-Type is application/json (parameters
// such as charset allowed).
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// ctx bounds a request's wait for the event loops.
func (h *Handler) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), h.timeout)
}

func (h *Handler) serveSummary(w http.ResponseWriter, _ *http.Request) {
	s := h.src.Summary()
	cfg := h.src.Config()
	r := NewSummaryResponse(&s, cfg, h.res(), restricted(&cfg.HTTP))
	r.Routes = newRouteSummaries(h.src.Routes())
	writeJSON(w, http.StatusOK, r)
}

func (h *Handler) serveWorkers(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.ctx(r)
	defer cancel()
	views, err := h.src.Workers(ctx)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "workers: "+err.Error())
		return
	}
	s := h.src.Summary()
	writeJSON(w, http.StatusOK, NewWorkersResponse(views, &s, h.src.Config()))
}

func (h *Handler) serveMiners(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.ctx(r)
	defer cancel()
	views, err := h.src.Miners(ctx)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "miners: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, NewMinersResponse(views))
}

func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	h.metrics.ServeHTTP(w, r)
}

// serveConfig shows the configuration with secrets masked (GET, refused
// when restricted) or replaces it (PUT/POST: parse, validate, reload; 204
// on success, 400 with the reason otherwise; the running configuration
// stays when the new one is rejected). Secrets sent back masked keep
// their current values. A configuration that changes a disk-only key
// (reactor.DiskOnlyChanges: file paths, binds, the API's listener, the
// account store, any key not known to be safe) is refused with 400 naming
// the keys: those change only through the file on disk.
func (h *Handler) serveConfig(w http.ResponseWriter, r *http.Request) {
	cfg := h.src.Config()
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if restricted(&cfg.HTTP) {
			writeError(w, http.StatusForbidden, "the configuration is not shown while the API is restricted")
			return
		}
		writeJSON(w, http.StatusOK, cfg.Redacted())
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "configuration larger than 1 MiB")
			return
		}
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	next, ignored, err := reactor.ParseConfig(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if keys := reactor.DiskOnlyChanges(h.src.Config(), next); len(keys) > 0 {
		// A token holder must not choose a file the proxy writes (a log
		// aimed at a shell start-up file), a certificate it reads, a
		// listener or the account store.
		h.log.Warn("api: configuration refused: it changes disk-only keys; keeping the running one", "remote", r.RemoteAddr, "keys", strings.Join(keys, ","))
		writeError(w, http.StatusBadRequest, strings.Join(keys, ", ")+": file paths, binds, the API's listener and the account store change only in the configuration file on disk, never through the API; the running configuration stays")
		return
	}
	warnings, err := h.src.Reload(next)
	if err != nil {
		h.log.Warn("api: configuration rejected; keeping the running one", "remote", r.RemoteAddr, "err", err)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	for _, k := range ignored {
		h.log.Warn("api: config: xmrig-proxy key ignored", "key", k)
	}
	// The Source logs its own warnings (settings kept until a restart).
	h.log.Info("api: configuration replaced", "remote", r.RemoteAddr, "warnings", len(warnings))
	w.WriteHeader(http.StatusNoContent)
}

// errorBody is the body of every error answer.
type errorBody struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Status: status, Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Status: status, Error: "encoding the response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
