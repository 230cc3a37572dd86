package reactor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// watched is one call of WatchConfig's apply.
type watched struct {
	cfg     *Config
	ignored []string
	err     error
}

const watchCfgA = `{"pools":[{"url":"pool-a:3333","user":"W"}]}`

// startWatch runs WatchConfig in the current synctest bubble and returns
// its calls; the watcher stops at the end of the test.
func startWatch(t *testing.T, path string) <-chan watched {
	t.Helper()
	got := make(chan watched, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		WatchConfig(ctx, path, 100*time.Millisecond, func(cfg *Config, ignored []string, err error) {
			got <- watched{cfg, ignored, err}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	synctest.Wait() // the watcher has taken its first look
	return got
}

// settle lets virtual time run past the debounce and every poll.
func settle() {
	time.Sleep(2 * time.Second)
	synctest.Wait()
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
}

func TestWatchConfig_Apply_Good(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "config.json")
		writeFile(t, path, watchCfgA)
		got := startWatch(t, path)
		settle()
		require.Empty(t, got, "the content at start counts as applied")

		writeFile(t, path, `{"pools":[{"url":"pool-b:3333","user":"W"}],"custom-diff":5000,"donate-level":1}`)
		settle()
		require.Len(t, got, 1)
		w := <-got
		require.NoError(t, w.err)
		require.Equal(t, "pool-b:3333", w.cfg.Pools[0].URL)
		require.Equal(t, uint64(5000), w.cfg.CustomDiff)
		require.Equal(t, "nicehash", w.cfg.Mode, "defaults filled like LoadConfig")
		require.Equal(t, []string{"donate-level"}, w.ignored)

		// A touch (new mtime, same bytes) applies nothing.
		later := time.Now().Add(time.Hour)
		require.NoError(t, os.Chtimes(path, later, later))
		settle()
		require.Empty(t, got)
	})
}

func TestWatchConfig_Apply_Bad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "config.json")
		writeFile(t, path, watchCfgA)
		got := startWatch(t, path)

		// An invalid file is reported once, with the reason; the caller
		// keeps its configuration.
		writeFile(t, path, `{"pools":[{"url":"pool-a:3333"}],"mode":"turbo"}`)
		settle()
		require.Len(t, got, 1)
		w := <-got
		require.Nil(t, w.cfg)
		require.ErrorContains(t, w.err, "mode")
		require.ErrorContains(t, w.err, path)
		settle()
		require.Empty(t, got, "not reported again while unchanged")

		// Removed: reported once; back with the old content: nothing to do.
		require.NoError(t, os.Remove(path))
		settle()
		require.Len(t, got, 1)
		require.ErrorIs(t, (<-got).err, os.ErrNotExist)
		writeFile(t, path, `{"pools":[{"url":"pool-a:3333"}],"mode":"turbo"}`)
		settle()
		require.Empty(t, got, "same bytes as the last file seen")

		// Fixed: applied.
		writeFile(t, path, watchCfgA)
		settle()
		require.Len(t, got, 1)
		require.NoError(t, (<-got).err)
	})
}

func TestWatchConfig_Apply_Ugly(t *testing.T) {
	// A file written in several steps is read once, after it settles.
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "config.json")
		writeFile(t, path, watchCfgA)
		got := startWatch(t, path)
		writeFile(t, path, `{"pools":[{"url":"pool-c:3333",`)
		for i := 0; i < 5; i++ {
			time.Sleep(200 * time.Millisecond)
			writeFile(t, path, `{"pools":[{"url":"pool-c:3333","user":"W`+string(rune('0'+i))+`"}]}`)
		}
		synctest.Wait()
		require.Empty(t, got, "still changing")
		settle()
		require.Len(t, got, 1)
		w := <-got
		require.NoError(t, w.err)
		require.Equal(t, "W4", w.cfg.Pools[0].User)
	})
}

// padded returns a valid configuration of exactly n bytes (JSON allows
// trailing whitespace).
func padded(n int) string {
	return watchCfgA + strings.Repeat(" ", n-len(watchCfgA))
}

func TestLoadConfig_Size_Bad(t *testing.T) {
	dir := t.TempDir()
	at := filepath.Join(dir, "at.json")
	writeFile(t, at, padded(MaxConfigBytes))
	_, _, err := LoadConfig(at)
	require.NoError(t, err, "exactly 4 MiB is read")
	over := filepath.Join(dir, "over.json")
	writeFile(t, over, padded(MaxConfigBytes+1))
	_, _, err = LoadConfig(over)
	require.ErrorContains(t, err, "4 MiB")
	_, _, err = ParseConfig([]byte(padded(MaxConfigBytes + 1)))
	require.ErrorContains(t, err, "4 MiB")
}

// A file over MaxConfigBytes is refused with its reason, once; the caller
// keeps its configuration, and a good file after it applies.
func TestWatchConfig_TooLarge_Bad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "config.json")
		writeFile(t, path, watchCfgA)
		got := startWatch(t, path)
		big := `{"pools":[{"url":"pool-big:3333","user":"W"}]}`
		writeFile(t, path, big+strings.Repeat(" ", MaxConfigBytes+1-len(big)))
		settle()
		require.Len(t, got, 1)
		w := <-got
		require.Nil(t, w.cfg, "not applied")
		require.ErrorContains(t, w.err, "4 MiB")
		settle()
		require.Empty(t, got, "not reported again while unchanged")
		writeFile(t, path, `{"pools":[{"url":"pool-b:3333","user":"W"}]}`)
		settle()
		require.Len(t, got, 1)
		w = <-got
		require.NoError(t, w.err)
		require.Equal(t, "pool-b:3333", w.cfg.Pools[0].URL)
	})
}
