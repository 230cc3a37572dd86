package stratum

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNextLine_Good(t *testing.T) {
	buf := []byte("{\"a\":1}\n{\"b\":2}\r\n{\"c\"")
	line, n, err := NextLine(buf)
	require.NoError(t, err)
	require.Equal(t, `{"a":1}`, string(line))
	buf = buf[n:]
	line, n, err = NextLine(buf)
	require.NoError(t, err)
	require.Equal(t, `{"b":2}`, string(line), "CRLF is accepted")
	buf = buf[n:]
	line, n, err = NextLine(buf)
	require.NoError(t, err)
	require.Zero(t, n, "incomplete line waits for more bytes")
	require.Nil(t, line)
}

func TestNextLine_Bad(t *testing.T) {
	_, _, err := NextLine([]byte("GET / HTTP/1.1\r\n"))
	require.ErrorIs(t, err, ErrNotJSONObject)
	_, _, err = NextLine([]byte(strings.Repeat("x", MaxLineSize+1)))
	require.ErrorIs(t, err, ErrLineTooLong, "no newline within the cap")
	_, _, err = NextLine([]byte("{" + strings.Repeat("x", MaxLineSize) + "}\n"))
	require.ErrorIs(t, err, ErrLineTooLong, "newline beyond the cap")
}

func TestNextLine_Ugly(t *testing.T) {
	line, n, err := NextLine([]byte("\n"))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NotNil(t, line)
	require.Empty(t, line, "blank lines are skipped by the caller")
	line, _, err = NextLine([]byte("  \t{\"x\":1}  \r\n"))
	require.NoError(t, err)
	require.Equal(t, `{"x":1}`, string(line))
	// Exactly MaxLineSize bytes plus newline is accepted.
	full := "{" + strings.Repeat("x", MaxLineSize-2) + "}\n"
	line, _, err = NextLine([]byte(full))
	require.NoError(t, err)
	require.Len(t, line, MaxLineSize)
}

func TestNextLineMax_Good(t *testing.T) {
	// A pool's 30 KB notify is over the miners' limit, within the pools'.
	long := []byte(`{"p":"` + strings.Repeat("a", 30000) + `"}` + "\n")
	_, _, err := NextLine(long)
	require.ErrorIs(t, err, ErrLineTooLong)
	line, n, err := NextLineMax(long, MaxPoolLineSize)
	require.NoError(t, err)
	require.Equal(t, len(long), n)
	require.Len(t, line, len(long)-1)
	_, _, err = NextLineMax(make([]byte, MaxPoolLineSize+1), MaxPoolLineSize)
	require.ErrorIs(t, err, ErrLineTooLong)
}
