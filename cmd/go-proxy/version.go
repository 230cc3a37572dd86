package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"forge.lthn.ai/core/go-proxy/reactor"
)

// printVersion writes what `go-proxy version` prints: the version, the
// commit and build date stamped by the build command (see README
// "Building"), else the ones the Go toolchain recorded (builds with VCS
// stamping on), else "unknown", and the Go version and platform.
func printVersion(w io.Writer) {
	commit, date := reactor.Commit, reactor.BuildDate
	if commit == "" || date == "" {
		vcsCommit, vcsDate := vcsStamp()
		if commit == "" {
			commit = vcsCommit
		}
		if date == "" {
			date = vcsDate
		}
	}
	fmt.Fprintln(w, "go-proxy", reactor.Version)
	fmt.Fprintln(w, "commit:", orUnknown(commit))
	fmt.Fprintln(w, "built: ", orUnknown(date))
	fmt.Fprintln(w, "go:    ", runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
}

// vcsStamp returns the commit and commit time `go build` recorded, if it
// did (not with -buildvcs=false, which the machines here set).
func vcsStamp() (commit, date string) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "", ""
	}
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.time":
			date = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if commit != "" && modified {
		commit += "-dirty"
	}
	return commit, date
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
