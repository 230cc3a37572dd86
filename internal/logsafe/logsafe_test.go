package logsafe

import (
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestAppend_Good(t *testing.T) {
	for _, tc := range []struct{ in, text, field string }{
		{"", "", ""},
		{"WALLET.rig-1", "WALLET.rig-1", "WALLET.rig-1"},
		{"XMRig/6.22.2 (Linux x86_64) libuv/1.48.0", "XMRig/6.22.2 (Linux x86_64) libuv/1.48.0", `XMRig/6.22.2 \x28Linux x86_64\x29 libuv/1.48.0`},
		{"héllo wörld 矿工 🙂", "héllo wörld 矿工 🙂", "héllo wörld 矿工 🙂"},
		{"\uFFFD", "\uFFFD", "\uFFFD"}, // a real replacement character is text
		{"a\\b", `a\\b`, `a\\b`},
		{"\x00\x01\x1b[31m", `\x00\x01\x1b[31m`, `\x00\x01\x1b[31m`},
		{"a\tb\nc\rd\x7f", `a\tb\nc\rd\x7f`, `a\tb\nc\rd\x7f`},
		{"x;id>/tmp/f;#", "x;id>/tmp/f;#", `x\x3bid\x3e/tmp/f\x3b#`},
		{"$(id)`id`|a&b<c'd\"e", "$(id)`id`|a&b<c'd\"e", `\x24\x28id\x29\x60id\x60\x7ca\x26b\x3cc\x27d\x22e`},
		{"\u0085\u009b", `\u0085\u009b`, `\u0085\u009b`}, // C1: NEL, CSI
		{"evil\u202Egnp.exe", `evil\u202egnp.exe`, `evil\u202egnp.exe`},
		{"\u202A\u202B\u202C\u202D\u2066\u2067\u2068\u2069\u200E\u200F\u061C", `\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061c`, `\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061c`},
		{"a\u2028b\u2029c", `a\u2028b\u2029c`, `a\u2028b\u2029c`},
		{"zero\u200Bwidth\uFEFF", `zero\u200bwidth\ufeff`, `zero\u200bwidth\ufeff`},
		{"tag\U000E0041", `tag\U000e0041`, `tag\U000e0041`},
		{"bad\xff\xc3(utf8\xe2\x80", `bad\xff\xc3(utf8\xe2\x80`, `bad\xff\xc3\x28utf8\xe2\x80`},
		{"\xed\xa0\x80", `\xed\xa0\x80`, `\xed\xa0\x80`}, // an encoded surrogate is not UTF-8
	} {
		require.Equal(t, tc.text, string(Append(nil, tc.in, -1, Text)), "text %q", tc.in)
		require.Equal(t, tc.field, string(Append(nil, tc.in, -1, Field)), "field %q", tc.in)
		require.Equal(t, tc.text, String(tc.in))
		require.Equal(t, tc.text != tc.in, Needs(tc.in, Text), "%q", tc.in)
		require.Equal(t, tc.field != tc.in, Needs(tc.in, Field), "%q", tc.in)
		require.Equal(t, tc.in, unescape(t, tc.field), "round trip")
	}
}

// A limit cuts before an escape or a character that would not fit whole.
func TestAppend_Bad(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"abcdef", 3, "abc"},
		{"ab\ncd", 3, "ab"},
		{"ab\ncd", 4, `ab\n`},
		{"a\x01", 4, "a"},
		{"a\x01", 5, `a\x01`},
		{"a\u202E", 6, "a"},
		{"a\u202E", 7, `a\u202e`},
		{"aé", 2, "a"},
		{"a🙂", 4, "a"},
		{"a\U000E0041", 10, "a"},
		{"abc", 0, ""},
	} {
		got := string(Append([]byte("pre:"), tc.in, tc.max, Text))
		require.Equal(t, "pre:"+tc.want, got, "%q max %d", tc.in, tc.max)
	}
	require.Equal(t, "x", string(Append(nil, "x", -1, Mode(9))), "an unknown mode is Field")
	require.Equal(t, `\x3b`, string(Append(nil, ";", -1, Mode(9))))
}

func TestAppend_Allocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instruments allocations")
	}
	buf := make([]byte, 0, 1024)
	in := "x;id>/tmp/f;# \u202Eevil\xff" + strings.Repeat("w", 100)
	allocs := testing.AllocsPerRun(1000, func() {
		buf = Append(buf[:0], in, 256, Field)
		_ = Needs(in, Text)
		_ = String("clean string")
	})
	require.Zero(t, allocs)
}

// unescape reads an escaped string back (the escapes are Go's).
func unescape(t testing.TB, s string) string {
	t.Helper()
	out, err := strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
	require.NoError(t, err, "%q", s)
	return out
}

// checkSafe asserts the properties every escaped string has.
func checkSafe(t testing.TB, in, out string, m Mode) {
	t.Helper()
	require.True(t, utf8.ValidString(out), "%q → %q: valid UTF-8", in, out)
	for _, r := range out {
		require.False(t, r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0), "%q → %q: control %U", in, out, r)
		require.False(t, r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Cf, r), "%q → %q: format or separator %U", in, out, r)
		if m == Field {
			require.NotContains(t, "\"'`$;&|<>()", string(r), "%q → %q", in, out)
		}
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "WALLET", "x;id>/tmp/f;#", "a\nb", "\u202Eabc", "\xff\xfe", "\U000E0041", "a\\x41", "$(id)"} {
		f.Add(s, 64)
	}
	f.Fuzz(func(t *testing.T, in string, limit int) {
		for _, m := range []Mode{Text, Field} {
			out := string(Append(nil, in, -1, m))
			checkSafe(t, in, out, m)
			require.Equal(t, in, unescape(t, strings.ReplaceAll(out, `"`, `\x22`)), "round trip")
			require.Equal(t, out != in, Needs(in, m))
			limit = limit % 300
			if limit < 0 {
				limit = -limit
			}
			cut := string(Append(nil, in, limit, m))
			require.LessOrEqual(t, len(cut), limit)
			require.True(t, strings.HasPrefix(out, cut), "a cut value is a prefix of the whole")
			checkSafe(t, in, cut, m)
			_ = unescape(t, strings.ReplaceAll(cut, `"`, `\x22`)) // never a broken escape
		}
	})
}
