package reactor

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2/pkg/logging"
)

// warnLimiter lets one warning message through per minute and reports how
// many were suppressed, so a misbehaving miner or pool cannot flood logs.
type warnLimiter struct {
	mu   sync.Mutex
	seen map[string]*warnState
}

type warnState struct {
	next       time.Time
	suppressed int
}

// warnLimited logs msg at warn level at most once a minute.
func (p *Proxy) warnLimited(msg string, args ...any) {
	w := &p.warn
	now := time.Now()
	w.mu.Lock()
	if w.seen == nil {
		w.seen = map[string]*warnState{}
	}
	st := w.seen[msg]
	if st == nil {
		if len(w.seen) > 1024 {
			clear(w.seen)
		}
		st = &warnState{}
		w.seen[msg] = st
	}
	if now.Before(st.next) {
		st.suppressed++
		w.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.suppressed = 0
	st.next = now.Add(time.Minute)
	w.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	p.log.Warn(msg, args...)
}

// gnetLogger routes gnet's logging into slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.log(slog.LevelDebug, f, a) }
func (g gnetLogger) Infof(f string, a ...any)  { g.log(slog.LevelDebug, f, a) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.log(slog.LevelWarn, f, a) }
func (g gnetLogger) Errorf(f string, a ...any) { g.log(slog.LevelError, f, a) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.log(slog.LevelError, f, a) }

func (g gnetLogger) log(l slog.Level, f string, a []any) {
	if g.l.Enabled(context.Background(), l) {
		g.l.Log(context.Background(), l, "gnet: "+fmt.Sprintf(f, a...))
	}
}

func gnetLogLevel(level string) logging.Level {
	switch level {
	case "debug":
		return logging.DebugLevel
	case "warn":
		return logging.WarnLevel
	case "error":
		return logging.ErrorLevel
	}
	return logging.InfoLevel
}
