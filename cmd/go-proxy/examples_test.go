package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every file in examples/ passes --check-config as it is (run from an
// empty directory, where its relative log and store paths land).
func TestExamples_CheckConfig_Good(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.json")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 5)
	for _, f := range files {
		abs, err := filepath.Abs(f)
		require.NoError(t, err)
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Chdir(t.TempDir())
			var out, errOut bytes.Buffer
			require.Equal(t, exitOK, run([]string{"--check-config", "-c", abs}, &out, &errOut), errOut.String())
			require.Contains(t, out.String(), "configuration OK")
			require.NotContains(t, errOut.String(), "level=WARN", "an example uses no key go-proxy ignores")
		})
	}
}

// readmeJSON returns the README's ```json blocks, except those marked
// <!-- api-response --> on the line before (API bodies, not
// configurations).
func readmeJSON(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../../README.md")
	require.NoError(t, err)
	defer f.Close()
	var blocks []string
	var cur *strings.Builder
	prev, skip := "", false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```json":
			cur, skip = new(strings.Builder), strings.TrimSpace(prev) == "<!-- api-response -->"
		case cur != nil && strings.TrimSpace(line) == "```":
			if !skip {
				blocks = append(blocks, cur.String())
			}
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
		prev = line
	}
	require.NoError(t, sc.Err())
	return blocks
}

// The README's configuration snippets pass --check-config as written; a
// fragment ("pools": [...]) is checked inside braces.
func TestReadme_Snippets_Good(t *testing.T) {
	blocks := readmeJSON(t)
	require.GreaterOrEqual(t, len(blocks), 3)
	for i, b := range blocks {
		text := strings.TrimSpace(b)
		if !strings.HasPrefix(text, "{") {
			text = "{" + text + "}"
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "snippet.json")
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
		t.Chdir(dir)
		var out, errOut bytes.Buffer
		require.Equal(t, exitOK, run([]string{"--check-config", "-c", path}, &out, &errOut), "README json block %d:\n%s\n%s", i+1, text, errOut.String())
	}
}

// The README's go-proxy command lines that name a pool (-o) pass
// --dry-run as written.
func TestReadme_CommandLines_Good(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || (fields[0] != "go-proxy" && fields[0] != "./go-proxy") || !strings.Contains(line, " -o ") {
			continue
		}
		args := fields[1:]
		for i, a := range args {
			if a == "#" { // a comment ends the command
				args = args[:i]
				break
			}
		}
		t.Chdir(t.TempDir())
		var out, errOut bytes.Buffer
		require.Equal(t, exitOK, run(append(args, "--dry-run"), &out, &errOut), "%s\n%s", line, errOut.String())
		n++
	}
	require.GreaterOrEqual(t, n, 2)
}
