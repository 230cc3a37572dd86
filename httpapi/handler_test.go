package httpapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/reactor"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenDir is the repository's golden-file directory.
const goldenDir = "../testdata/golden"

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestHandler(src Source) *Handler {
	return NewHandler(src, Options{Logger: quietLogger(), NoRuntimeMetrics: true, Resources: fixedResources})
}

// fixedResources stands in for the host's state in golden bodies.
func fixedResources() Resources {
	return Resources{MemoryFree: 8 << 30, MemoryTotal: 16 << 30, RSS: 40 << 20, LoadAverage: [3]float64{0.5, 0.25, 0.125}, CPUs: 8}
}

// do sends one request to h and returns the recorded response.
func do(h http.Handler, method, path string, header map[string]string, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var bearer = map[string]string{"Authorization": "Bearer s3cret"}

// The JSON endpoints match their golden files byte for byte (after
// indentation), which pins key order, column order and number formats.
func TestAPI_Golden_Good(t *testing.T) {
	h := newTestHandler(newFake())
	for _, name := range []string{"summary", "workers", "miners", "routes"} {
		t.Run(name, func(t *testing.T) {
			w := do(h, "GET", "/1/"+name, bearer, "")
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			require.Equal(t, "application/json", w.Header().Get("Content-Type"))
			require.Equal(t, "*", w.Header().Get("Access-Control-Allow-Origin"))
			var pretty bytes.Buffer
			require.NoError(t, json.Indent(&pretty, w.Body.Bytes(), "", "  "))
			path := filepath.Join(goldenDir, name+".json")
			if *update {
				require.NoError(t, os.MkdirAll(goldenDir, 0o755))
				require.NoError(t, os.WriteFile(path, pretty.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./httpapi -update to create it")
			require.Equal(t, string(want), pretty.String())
		})
	}
}

// The summary carries every key xmrig-proxy 6.26's /1/summary carries,
// in its order, with its types and units (hashrate.total in kH/s); then
// go-proxy's additions.
func TestAPI_Summary_Good(t *testing.T) {
	w := do(newTestHandler(newFake()), "GET", "/1/summary", bearer, "")
	require.Equal(t, http.StatusOK, w.Code)
	body := w.Body.String()
	order := []string{`"id"`, `"worker_id"`, `"uptime"`, `"restricted"`, `"resources"`, `"memory"`, `"free"`, `"total"`,
		`"resident_set_memory"`, `"load_average"`, `"hardware_concurrency"`, `"features"`, `"version"`, `"kind"`, `"algo"`,
		`"mode"`, `"ua"`, `"donate_level"`, `"donated"`, `"hashrate"`, `"total"`, `"miners"`, `"now"`, `"max"`, `"workers"`,
		`"upstreams"`, `"active"`, `"sleep"`, `"error"`, `"total"`, `"ratio"`, `"results"`, `"accepted"`, `"rejected"`,
		`"invalid"`, `"expired"`, `"avg_time"`, `"latency"`, `"hashes_total"`, `"hashes_donate"`, `"best"`,
		`"sv1_mode"`, `"connections"`, `"families"`}
	at := 0
	for _, k := range order {
		i := strings.Index(body[at:], k)
		require.GreaterOrEqual(t, i, 0, "%s after position %d in %s", k, at, body)
		at += i + len(k)
	}
	// xmrig-proxy's types, checked on the raw JSON.
	var raw map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &raw))
	require.IsType(t, "", raw["id"])
	require.IsType(t, "", raw["worker_id"])
	require.IsType(t, true, raw["restricted"])
	require.Equal(t, "proxy", raw["kind"])
	require.Equal(t, []any{"api", "http", "tls"}, raw["features"])
	require.Equal(t, 0.0, raw["donate_level"])
	require.Len(t, raw["resources"].(map[string]any)["load_average"], 3)

	var r SummaryResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r))
	require.Equal(t, 142.0, r.Upstreams.Ratio, "miners per active upstream")
	require.Equal(t, uint64(226587/4821), r.Results.AvgTime)
	require.Equal(t, uint64(4821000000), r.Results.HashesTotal)
	require.Equal(t, 12.34, r.Hashrate.Total[0], "kH/s, rounded down to two decimals, as xmrig-proxy")
	require.Equal(t, 12.1, r.Hashrate.Total[2])
	require.Equal(t, 12345.68, r.Hashrate.TotalHs[0], "go-proxy's own figure, H/s")
	require.Equal(t, "proxy-test-1", r.ID)
	require.Equal(t, "edge-test", r.WorkerID)
	require.True(t, r.Restricted, "the fake API is restricted (the default)")
	require.Equal(t, "go-proxy/"+reactor.Version, r.UA)
	for _, alias := range []string{"/2/summary", "/api.json"} {
		require.Equal(t, w.Body.String(), do(newTestHandler(newFake()), "GET", alias, bearer, "").Body.String())
	}
}

// Without api.id the id is 16 hex digits, the same on every call; without
// api.worker-id the worker id is the host name; $VAR is expanded.
func TestAPI_SummaryID_Good(t *testing.T) {
	src := newFake()
	src.cfg.API = reactor.APIConfig{}
	var a, b SummaryResponse
	require.NoError(t, json.Unmarshal(do(newTestHandler(src), "GET", "/1/summary", bearer, "").Body.Bytes(), &a))
	require.NoError(t, json.Unmarshal(do(newTestHandler(src), "GET", "/1/summary", bearer, "").Body.Bytes(), &b))
	require.Regexp(t, `^[0-9a-f]{16}$`, a.ID)
	require.Equal(t, a.ID, b.ID)
	host, _ := os.Hostname()
	require.Equal(t, host, a.WorkerID)
	t.Setenv("GOPROXY_SITE", "fra")
	src.cfg.API.WorkerID = "edge-${GOPROXY_SITE}"
	require.NoError(t, json.Unmarshal(do(newTestHandler(src), "GET", "/1/summary", bearer, "").Body.Bytes(), &a))
	require.Equal(t, "edge-fra", a.WorkerID)
	// The host's figures come from /proc by default.
	res := ReadResources()
	require.Positive(t, res.CPUs)
	if _, err := os.Stat("/proc/meminfo"); err == nil {
		require.Positive(t, res.MemoryTotal)
		require.Positive(t, res.RSS)
		require.LessOrEqual(t, res.MemoryFree, res.MemoryTotal)
	}
}

// /1/workers: xmrig-proxy's hashrate, mode names and 13 columns (kH/s,
// last_hash in ms), then go-proxy's H/s columns.
func TestAPI_Workers_Good(t *testing.T) {
	w := do(newTestHandler(newFake()), "GET", "/1/workers", bearer, "")
	var r struct {
		Hashrate map[string][]float64 `json:"hashrate"`
		Mode     string               `json:"mode"`
		Workers  [][]any              `json:"workers"`
		Format   []string             `json:"format"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r))
	require.Equal(t, "rig_id", r.Mode, "xmrig-proxy's name")
	require.Equal(t, 12.34, r.Hashrate["total"][0])
	require.Equal(t, []any{"rig-alpha", "10.0.0.1", 2.0, 1240.0, 1.0, 0.0, 124000000000.0, 1712232000000.0,
		4.32, 4.2, 4.1, 4.05, 4.0, 4321.0, 4200.0, 4100.13, 4050.0, 4000.0, "rack1", "a,a2"}, r.Workers[0])
	require.Equal(t, []string{"route", "target"}, r.Format[18:], "where it mines: route and target")
	require.Equal(t, "", r.Workers[1][18], "not routed yet")
	require.Len(t, r.Format, len(r.Workers[0]))
	for mode, name := range map[reactor.WorkersMode]string{reactor.WorkersDisabled: "none", reactor.WorkersByUser: "user",
		reactor.WorkersByIP: "ip", reactor.WorkersByAgent: "agent", reactor.WorkersByPassword: "password"} {
		require.Equal(t, name, xmrigWorkersMode(mode))
	}
}

func TestAPI_Miners_Good(t *testing.T) {
	w := do(newTestHandler(newFake()), "GET", "/1/miners", bearer, "")
	var r struct {
		Format []string `json:"format"`
		Miners [][]any  `json:"miners"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r))
	require.Equal(t, []string{"id", "ip", "tx", "rx", "state", "diff", "user", "password", "rig_id", "agent", "port"}, r.Format)
	require.Len(t, r.Miners, 2)
	require.Equal(t, []any{1.0, "10.0.0.1", 4096.0, 512.0, 2.0, 100000.0, "WALLET", "********", "rig-alpha", "XMRig/6.21.0", 49152.0}, r.Miners[0])
	for _, m := range r.Miners {
		require.Equal(t, "********", m[7], "password always masked")
	}
}

func TestAPI_Workers_Bad(t *testing.T) {
	// The event loops do not answer (proxy stopping): 503, not a hang.
	src := newFake()
	src.loopErr = errStopped
	h := newTestHandler(src)
	for _, p := range []string{"/1/workers", "/1/miners"} {
		w := do(h, "GET", p, bearer, "")
		require.Equal(t, http.StatusServiceUnavailable, w.Code)
		require.Contains(t, w.Body.String(), "stopped")
	}
	require.Equal(t, http.StatusOK, do(h, "GET", "/1/summary", bearer, "").Code, "summary never waits for the loops")
}

// The authentication matrix, as xmrig-proxy decides it.
func TestAPI_Auth_Good(t *testing.T) {
	none := map[string]string{}
	wrong := map[string]string{"Authorization": "Bearer nope"}
	basic := map[string]string{"Authorization": "Basic czNjcmV0"}
	right := bearer
	jsonRight := map[string]string{"Authorization": "Bearer s3cret", "Content-Type": "application/json"}
	cfgBody := `{"pools":[{"url":"pool.example.com:3333","user":"W"}],"http":{"enabled":true,"port":8080,"access-token":"s3cret","restricted":false}}`
	cases := []struct {
		name       string
		token      string
		restricted bool
		method     string
		header     map[string]string
		want       int
	}{
		// No token, restricted (the default): reads are open, writes refused.
		{"open read", "", true, "GET", none, 200},
		{"open read with a header", "", true, "GET", right, 401},
		{"open write", "", true, "PUT", jsonRight, 401},
		{"open write, no header", "", true, "PUT", map[string]string{"Content-Type": "application/json"}, 403},
		// Token, restricted.
		{"token read, none", "s3cret", true, "GET", none, 401},
		{"token read, wrong", "s3cret", true, "GET", wrong, 403},
		{"token read, basic", "s3cret", true, "GET", basic, 403},
		{"token read, right", "s3cret", true, "GET", right, 200},
		{"token write, none", "s3cret", true, "PUT", none, 401},
		{"token write, wrong", "s3cret", true, "PUT", wrong, 403},
		{"token write, right", "s3cret", true, "PUT", jsonRight, 403},
		// Token, unrestricted: writes allowed with the token.
		{"rw read, none", "s3cret", false, "GET", none, 401},
		{"rw read, wrong", "s3cret", false, "GET", wrong, 403},
		{"rw read, right", "s3cret", false, "GET", right, 200},
		{"rw write, none", "s3cret", false, "PUT", none, 401},
		{"rw write, wrong", "s3cret", false, "PUT", wrong, 403},
		{"rw write, right", "s3cret", false, "PUT", jsonRight, 204},
		{"rw write, right, not json", "s3cret", false, "PUT", right, 415},
		// Unrestricted without a token: nothing is served (xmrig's rule:
		// an API that accepts writes needs a token).
		{"unsafe read", "", false, "GET", none, 401},
		{"unsafe write", "", false, "PUT", map[string]string{"Content-Type": "application/json"}, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := newFake()
			src.setHTTP(c.token, c.restricted)
			path, body := "/1/summary", ""
			if c.method == "PUT" {
				path, body = "/1/config", cfgBody
			}
			w := do(newTestHandler(src), c.method, path, c.header, body)
			require.Equal(t, c.want, w.Code, w.Body.String())
			require.Equal(t, "*", w.Header().Get("Access-Control-Allow-Origin"))
			if c.want == 401 {
				require.Contains(t, w.Header().Get("WWW-Authenticate"), "Bearer")
			}
			require.NotContains(t, w.Body.String(), "s3cret", "the token never appears")
		})
	}
}

func TestAPI_Routes_Bad(t *testing.T) {
	src := newFake()
	src.setHTTP("s3cret", false)
	h := newTestHandler(src)
	jsonRight := map[string]string{"Authorization": "Bearer s3cret", "Content-Type": "application/json"}

	w := do(h, "GET", "/1/nothing", bearer, "")
	require.Equal(t, http.StatusNotFound, w.Code)
	require.JSONEq(t, `{"status":404,"error":"Not Found"}`, w.Body.String())
	w = do(h, "POST", "/1/summary", jsonRight, "{}")
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, "GET", w.Header().Get("Allow"))
	w = do(h, "DELETE", "/1/config", jsonRight, "")
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, "GET, PUT, POST", w.Header().Get("Allow"))
	require.Equal(t, http.StatusMethodNotAllowed, do(h, "PATCH", "/1/config", jsonRight, "{}").Code)

	// The route and its methods are checked before the write rules: a
	// write without a JSON content type to a read-only or unknown path is
	// 405 or 404, not 415 (nor 403 while restricted).
	w = do(h, "DELETE", "/1/summary", bearer, "")
	require.Equal(t, http.StatusMethodNotAllowed, w.Code, w.Body.String())
	require.Equal(t, "GET", w.Header().Get("Allow"))
	require.Equal(t, http.StatusNotFound, do(h, "POST", "/nothing", bearer, "x").Code)
	require.Equal(t, http.StatusNotFound, do(h, "DELETE", "/api/v1/users/x", bearer, "").Code, "no store: no /api/v1")
	require.Equal(t, http.StatusUnsupportedMediaType, do(h, "PUT", "/1/config", bearer, "{}").Code)
	ro := newFake()
	ro.setHTTP("s3cret", true)
	hro := newTestHandler(ro)
	require.Equal(t, http.StatusMethodNotAllowed, do(hro, "DELETE", "/1/summary", bearer, "").Code)
	require.Equal(t, http.StatusNotFound, do(hro, "POST", "/nothing", jsonRight, "{}").Code)
	require.Equal(t, http.StatusForbidden, do(hro, "PUT", "/1/config", bearer, "{}").Code, "restricted before the content type")

	// CORS preflight needs no credentials.
	w = do(h, "OPTIONS", "/1/config", nil, "")
	require.Equal(t, http.StatusNoContent, w.Code)
	require.Equal(t, "*", w.Header().Get("Access-Control-Allow-Origin"))
	require.Contains(t, w.Header().Get("Access-Control-Allow-Headers"), "Authorization")
	require.Contains(t, w.Header().Get("Access-Control-Allow-Methods"), "PUT")

	// HEAD is a GET without a body.
	w = do(h, "HEAD", "/1/summary", bearer, "")
	require.Equal(t, http.StatusOK, w.Code)
}

func TestAPI_Config_Good(t *testing.T) {
	src := newFake()
	h := newTestHandler(src)
	// Restricted: the configuration is not shown.
	require.Equal(t, http.StatusForbidden, do(h, "GET", "/1/config", bearer, "").Code)

	src.setHTTP("s3cret", false)
	w := do(h, "GET", "/1/config", bearer, "")
	require.Equal(t, http.StatusOK, w.Code)
	body := w.Body.String()
	for _, secret := range []string{"s3cret", "poolsecret", "minerpass"} {
		require.NotContains(t, body, secret)
	}
	require.Contains(t, body, `"pass":"********"`)
	require.Contains(t, body, `"access-token":"********"`)

	// What GET returned can be sent back (masked secrets included).
	jsonRight := map[string]string{"Authorization": "Bearer s3cret", "Content-Type": "application/json; charset=utf-8"}
	edited := strings.Replace(body, "pool.example.com:3333", "pool2.example.com:3333", 1)
	w = do(h, "PUT", "/1/config", jsonRight, edited)
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	require.Len(t, src.reloaded, 1)
	require.Equal(t, "stratum+tcp://pool2.example.com:3333", src.reloaded[0].Pools[0].URL)
	w = do(h, "POST", "/1/config", jsonRight, edited)
	require.Equal(t, http.StatusNoContent, w.Code, "POST works like PUT")
}

// /2/config is xmrig-proxy's alias of /1/config, with the same status
// codes; a body may carry comments and trailing commas, as xmrig-proxy's
// parser allows.
func TestAPI_ConfigV2_Good(t *testing.T) {
	src := newFake()
	h := newTestHandler(src)
	require.Equal(t, http.StatusForbidden, do(h, "GET", "/2/config", bearer, "").Code, "restricted")
	src.setHTTP("s3cret", false)
	require.Equal(t, http.StatusOK, do(h, "GET", "/2/config", bearer, "").Code)
	jsonRight := map[string]string{"Authorization": "Bearer s3cret", "Content-Type": "application/json"}
	body := `{
		// edited by hand
		"pools": [{"url": "pool3.example.com:3333", "user": "W",},],
		"http": {"enabled": true, "port": 8080, "access-token": "s3cret", "restricted": false},
	}`
	for _, method := range []string{"PUT", "POST"} {
		w := do(h, method, "/2/config", jsonRight, body)
		require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	}
	require.Equal(t, "pool3.example.com:3333", src.reloaded[0].Pools[0].URL)
	w := do(h, "PUT", "/2/config", jsonRight, `{"pools":[{"url":"pool:3333","coinn":"x"}]}`)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), `pools[0].coinn: unknown key; did you mean \"coin\"?`)
	require.Equal(t, http.StatusMethodNotAllowed, do(h, "DELETE", "/2/config", jsonRight, "").Code)
}

func TestAPI_Config_Bad(t *testing.T) {
	src := newFake()
	src.setHTTP("s3cret", false)
	h := newTestHandler(src)
	jsonRight := map[string]string{"Authorization": "Bearer s3cret", "Content-Type": "application/json"}
	for body, reason := range map[string]string{
		`not json`: "config",
		`{"pools":[{"url":"pool:3333"}],"mode":"turbo"}`: "mode",
		`{"pools":[]}`: "pools",
		`{"pools":[{"url":"pool:3333"}],"bogus":1}`: "bogus",
	} {
		w := do(h, "PUT", "/1/config", jsonRight, body)
		require.Equal(t, http.StatusBadRequest, w.Code, body)
		var e errorBody
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e))
		require.Contains(t, e.Error, reason, body)
	}
	require.Empty(t, src.reloaded, "nothing reloaded")

	// The proxy refuses it (e.g. not running): 400 with its reason.
	src.reloadErr = errStopped
	w := do(h, "PUT", "/1/config", jsonRight, `{"bind":["0.0.0.0:3333"],"pools":[{"url":"pool:3333"}],"http":{"enabled":true,"port":8080,"access-token":"s3cret","restricted":false}}`)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "stopped")

	// Bodies over 1 MiB are refused.
	big := `{"pools":[{"url":"pool:3333","user":"` + strings.Repeat("x", MaxBodyBytes) + `"}]}`
	require.Equal(t, http.StatusRequestEntityTooLarge, do(h, "PUT", "/1/config", jsonRight, big).Code)
	require.Equal(t, http.StatusUnsupportedMediaType,
		do(h, "PUT", "/1/config", map[string]string{"Authorization": "Bearer s3cret", "Content-Type": "text/plain"}, "{}").Code)
}

// Every key of xmrig-proxy 6.26's /1/summary, /1/workers and /1/miners
// (testdata/xmrig-proxy/api-shapes.json) is in go-proxy's bodies with the
// same JSON type and, for fixed arrays, the same length; rows may carry
// extra columns after xmrig-proxy's, and /1/miners' format starts with
// xmrig-proxy's column names.
func TestAPI_XmrigProxyShapes_Good(t *testing.T) {
	data, err := os.ReadFile("../testdata/xmrig-proxy/api-shapes.json")
	require.NoError(t, err)
	var shapes map[string]any
	require.NoError(t, json.Unmarshal(data, &shapes))
	h := newTestHandler(newFake())
	for _, name := range []string{"summary", "workers", "miners"} {
		var got any
		w := do(h, "GET", "/1/"+name, bearer, "")
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
		checkShape(t, name, shapes[name], got, false)
	}
}

// checkShape compares a body with a shape (see TestAPI_XmrigProxyShapes_Good).
func checkShape(t *testing.T, path string, want, got any, row bool) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		require.True(t, ok, "%s: want an object, got %T", path, got)
		for k, v := range w {
			if k == "//" {
				continue
			}
			require.Contains(t, g, k, "%s.%s missing", path, k)
			checkShape(t, path+"."+k, v, g[k], false)
		}
	case []any:
		g, ok := got.([]any)
		require.True(t, ok, "%s: want an array, got %T", path, got)
		switch {
		case strings.HasSuffix(path, ".format"):
			require.GreaterOrEqual(t, len(g), len(w), path)
			require.Equal(t, w, g[:len(w)], "%s starts with xmrig-proxy's columns", path)
		case len(w) == 1: // a list: every element like w[0]
			require.NotEmpty(t, g, "%s: the fake has rows", path)
			for i, e := range g {
				checkShape(t, fmt.Sprintf("%s[%d]", path, i), w[0], e, true)
			}
		case row: // a row: xmrig-proxy's columns first
			require.GreaterOrEqual(t, len(g), len(w), path)
			for i := range w {
				checkShape(t, fmt.Sprintf("%s[%d]", path, i), w[i], g[i], false)
			}
		default: // a fixed array
			require.Len(t, g, len(w), path)
			for i := range w {
				checkShape(t, fmt.Sprintf("%s[%d]", path, i), w[i], g[i], false)
			}
		}
	default:
		require.IsType(t, want, got, path)
	}
}

// Issue 10: the API token must not be a path to the host. A configuration
// that sets or changes a file path, a bind, the API's listener or the
// account store's location is refused with 400 naming the key; nothing is
// reloaded and no file is created. The same configuration without those
// changes is applied.
func TestAPI_Config_DiskOnly_Ugly(t *testing.T) {
	src := newFake()
	src.setHTTP("s3cret", false)
	h := newTestHandler(src)
	jsonRight := map[string]string{"Authorization": "Bearer s3cret", "Content-Type": "application/json"}
	dir := t.TempDir()
	target := filepath.Join(dir, ".bashrc")
	const base = `"bind":["0.0.0.0:3333"],"pools":[{"url":"pool:3333"}],"http":{"enabled":true,"port":8080,"access-token":"********","restricted":false}`
	for key, body := range map[string]string{
		"access-log-file":        `{` + base + `,"access-log-file":` + strconv.Quote(target) + `}`,
		"share-log-file":         `{` + base + `,"share-log-file":` + strconv.Quote(target) + `}`,
		"tls.cert, tls.cert_key": `{` + base + `,"tls":{"cert":"/etc/shadow","cert_key":"/etc/shadow"}}`,
		"registry.path":          `{` + base + `,"registry":{"path":` + strconv.Quote(target) + `}}`,
		"bind[0].port":           `{"bind":["0.0.0.0:22"],"pools":[{"url":"pool:3333"}],"http":{"enabled":true,"port":8080,"access-token":"s3cret","restricted":false}}`,
		"bind[1].family, bind[1].host, bind[1].port": `{"bind":["0.0.0.0:3333","127.0.0.1:4444"],"pools":[{"url":"pool:3333"}],"http":{"enabled":true,"port":8080,"access-token":"s3cret","restricted":false}}`,
		"http.host":               `{"bind":["0.0.0.0:3333"],"pools":[{"url":"pool:3333"}],"http":{"enabled":true,"host":"0.0.0.0","port":8080,"access-token":"s3cret","restricted":false}}`,
		"http.enabled, http.port": `{"bind":["0.0.0.0:3333"],"pools":[{"url":"pool:3333"}]}`,
	} {
		w := do(h, "PUT", "/1/config", jsonRight, body)
		require.Equal(t, http.StatusBadRequest, w.Code, body)
		var e errorBody
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e))
		require.True(t, strings.HasPrefix(e.Error, key+": "), "%s: %s", key, e.Error)
		require.Contains(t, e.Error, "configuration file on disk")
		require.Equal(t, http.StatusBadRequest, do(h, "POST", "/1/config", jsonRight, body).Code, "POST too: "+body)
	}
	require.Empty(t, src.reloaded, "nothing reloaded")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "no file created")

	// The same configuration, disk-only keys as they run: applied.
	w := do(h, "PUT", "/1/config", jsonRight, `{`+base+`,"custom-diff":5000}`)
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	require.Len(t, src.reloaded, 1)
	require.Equal(t, uint64(5000), src.reloaded[0].CustomDiff)
}

// GET /1/routes: every route with its targets, from the source's view;
// /1/summary carries the short form.
func TestAPI_Routes_Good(t *testing.T) {
	h := newTestHandler(newFake())
	w := do(h, "GET", "/1/routes", bearer, "")
	require.Equal(t, http.StatusOK, w.Code)
	var r RoutesResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r))
	require.Len(t, r.Routes, 2)
	rack := r.Routes[0]
	require.Equal(t, "rack1", rack.Name)
	require.Equal(t, "cryptonote", rack.Family)
	require.Equal(t, []string{"a", "a2"}, rack.Targets[0].Pools)
	require.Equal(t, 0.69, rack.Targets[0].Share)
	require.Equal(t, 80, rack.Targets[0].Miners)
	require.True(t, r.Routes[1].Implicit)
	require.Equal(t, http.StatusMethodNotAllowed, do(h, "PUT", "/1/routes", bearer, "").Code)
	require.Equal(t, http.StatusUnauthorized, do(h, "GET", "/1/routes", nil, "").Code, "the API's authentication applies")

	var sum struct {
		Routes []RouteSummary `json:"routes"`
	}
	w = do(h, "GET", "/1/summary", bearer, "")
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &sum))
	require.Len(t, sum.Routes, 2)
	require.Equal(t, TargetSummary{Name: "b", Goal: 0.3, Share: 0.31, Miners: 40, Pool: "b"}, sum.Routes[0].Targets[1])
}
