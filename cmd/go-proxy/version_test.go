package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/reactor"
)

// `go-proxy version` prints what the build command stamped, and says
// "unknown" for what it did not (the machines here build with
// -buildvcs=false, so the toolchain records nothing either).
func TestRun_Version_Stamped_Good(t *testing.T) {
	oldCommit, oldDate := reactor.Commit, reactor.BuildDate
	t.Cleanup(func() { reactor.Commit, reactor.BuildDate = oldCommit, oldDate })

	reactor.Commit, reactor.BuildDate = "0123456789ab", "2026-12-06T06:00:00Z"
	var out bytes.Buffer
	require.Equal(t, exitOK, run([]string{"version"}, &out, &out))
	require.Equal(t, "go-proxy "+reactor.Version+"\n"+
		"commit: 0123456789ab\n"+
		"built:  2026-12-06T06:00:00Z\n"+
		"go:     "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n", out.String())

	reactor.Commit, reactor.BuildDate = "", ""
	out.Reset()
	require.Equal(t, exitOK, run([]string{"--version"}, &out, &out))
	lines := strings.Split(out.String(), "\n")
	require.Equal(t, "go-proxy "+reactor.Version, lines[0])
	require.True(t, strings.HasPrefix(lines[1], "commit: "), lines[1])
	require.True(t, strings.HasPrefix(lines[2], "built:  "), lines[2])
}
