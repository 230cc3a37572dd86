package logsafe

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type stringer string

func (s stringer) String() string { return string(s) }

// Every string a record carries reaches the wrapped handler escaped: the
// message, attribute keys and values, errors, Stringers, byte slices,
// groups and WithAttrs/WithGroup. The JSON handler leaves bidi controls
// raw on its own, so it is the one that proves it.
func TestHandler_Good(t *testing.T) {
	var out bytes.Buffer
	log := Logger(slog.New(slog.NewJSONHandler(&out, nil)))
	require.Same(t, log, Logger(log), "wrapping twice changes nothing")
	const evil = "pool\u202E\u2028x\n{\"level\":\"ERROR\"}"
	log.With("with", evil).WithGroup("g\u202E").Info("msg "+evil,
		"host", evil,
		"err", errors.New("refused: "+evil),
		"stringer", stringer(evil),
		"bytes", []byte(evil),
		"list", []string{evil},
		"n", 42, "d", time.Second,
		"addr", netip.MustParseAddr("10.0.0.1"),
		slog.Group("inner", "k\u2066", evil),
		"clean", "plain value")
	line := out.String()
	require.Equal(t, 1, strings.Count(line, "\n"), "one line: %s", line)
	require.NotContains(t, line, "\u202E")
	require.NotContains(t, line, "\u2028")
	require.NotContains(t, line, "\u2066")
	var rec map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &rec), line)
	want := String(evil)
	require.Equal(t, "msg "+want, rec["msg"])
	require.Equal(t, want, rec["with"])
	g := rec[`g\u202e`].(map[string]any)
	require.Equal(t, want, g["host"])
	require.Equal(t, "refused: "+want, g["err"])
	require.Equal(t, want, g["stringer"])
	require.Equal(t, want, g["bytes"])
	require.Equal(t, "["+want+"]", g["list"])
	require.Equal(t, float64(42), g["n"])
	require.Equal(t, "10.0.0.1", g["addr"])
	require.Equal(t, want, g["inner"].(map[string]any)[`k\u2066`])
	require.Equal(t, "plain value", g["clean"])
}

// Clean records pass through untouched (values keep their kinds) and the
// level is the wrapped handler's.
func TestHandler_Bad(t *testing.T) {
	var out bytes.Buffer
	log := Logger(slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})))
	log.Info("dropped", "x", "\u202E")
	require.Zero(t, out.Len())
	log.Warn("kept", "err", errors.New("plain"), "n", 1)
	require.JSONEq(t, `{"level":"WARN","msg":"kept","err":"plain","n":1}`, dropTime(t, out.Bytes()))
}

func dropTime(t *testing.T, b []byte) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	delete(m, "time")
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return string(out)
}
