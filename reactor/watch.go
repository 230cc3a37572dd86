package reactor

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"time"
)

// watchSettle is how long a changed config file must stay unchanged
// before it is read: editors and deploy tools write in several steps.
const watchSettle = 500 * time.Millisecond

// fileStamp is what one poll sees of a file.
type fileStamp struct {
	mtime int64 // unix nanoseconds
	size  int64
	err   bool // the stat failed (file missing while being replaced)
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{err: true}
	}
	return fileStamp{mtime: fi.ModTime().UnixNano(), size: fi.Size()}
}

// WatchConfig polls the configuration file at path every interval (1 s
// when every ≤ 0) until ctx ends; run it on its own goroutine. When the
// file's modification time or size changes and then stays put for about
// 500 ms, it reads the file and, unless the content is byte-for-byte what
// it last saw (a touch), parses it like LoadConfig (a file over
// MaxConfigBytes is refused unread) and calls apply with
// the result: a parsed configuration and the ignored xmrig-proxy keys, or
// the error that makes the new file unusable (the caller keeps its
// running configuration). The content present when WatchConfig starts is
// taken as already applied. apply runs on the watcher goroutine, one call
// at a time. No fsnotify: polling works on every file system, including
// bind-mounted ConfigMaps that are replaced by a rename.
func WatchConfig(ctx context.Context, path string, every time.Duration, apply func(cfg *Config, ignored []string, err error)) {
	WatchConfigWith(ctx, path, every, func(data []byte) (*Config, []string, error) {
		return ParseConfigFile(path, data, nil)
	}, apply)
}

// WatchConfigWith is WatchConfig with the parser given: parse turns the
// file's new contents into a configuration (for example ParseConfigFile
// with command-line overrides on top).
func WatchConfigWith(ctx context.Context, path string, every time.Duration, parse func(data []byte) (*Config, []string, error), apply func(cfg *Config, ignored []string, err error)) {
	if every <= 0 {
		every = time.Second
	}
	seen := stampOf(path)
	var applied [sha256.Size]byte
	if data, err := readConfigFile(path); err == nil {
		applied = sha256.Sum256(data)
	}
	var changedAt time.Time // zero: nothing pending
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		st := stampOf(path)
		if st != seen {
			seen, changedAt = st, now
			continue
		}
		if changedAt.IsZero() || now.Sub(changedAt) < watchSettle {
			continue
		}
		changedAt = time.Time{}
		data, err := readConfigFile(path) // at most MaxConfigBytes
		if err != nil {
			apply(nil, nil, fmt.Errorf("config watch: %w", err))
			continue
		}
		sum := sha256.Sum256(data)
		if sum == applied {
			continue
		}
		applied = sum
		cfg, ignored, err := parse(data)
		apply(cfg, ignored, err)
	}
}
