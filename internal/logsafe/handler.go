package logsafe

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler wraps a slog.Handler and escapes (Text mode) the message and
// every attribute key and value before the wrapped handler sees them:
// strings, errors, fmt.Stringers, byte slices and, through their text,
// any other value. A value that needs no escaping is passed on unchanged.
// So every line of a logger built on it is safe whatever an attribute
// carries, and whichever handler (text or JSON) formats it. Safe for
// concurrent use if the wrapped handler is.
type Handler struct{ h slog.Handler }

// NewHandler returns h wrapped; a Handler is returned as it is (escaping
// twice would double the backslashes).
func NewHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(*Handler); ok {
		return h
	}
	return &Handler{h: h}
}

// Logger returns a logger whose handler is l's wrapped by NewHandler.
func Logger(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(*Handler); ok {
		return l
	}
	return slog.New(NewHandler(l.Handler()))
}

// Enabled reports whether the wrapped handler handles level.
func (x *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return x.h.Enabled(ctx, level)
}

// Handle escapes the record and passes it on.
func (x *Handler) Handle(ctx context.Context, r slog.Record) error {
	dirty := Needs(r.Message, Text)
	if !dirty {
		r.Attrs(func(a slog.Attr) bool {
			dirty = attrNeeds(a)
			return !dirty
		})
	}
	if !dirty {
		return x.h.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(escapeAttr(a))
		return true
	})
	return x.h.Handle(ctx, out)
}

// WithAttrs escapes attrs and passes them on.
func (x *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = escapeAttr(a)
	}
	return &Handler{h: x.h.WithAttrs(out)}
}

// WithGroup escapes the group name and passes it on.
func (x *Handler) WithGroup(name string) slog.Handler {
	return &Handler{h: x.h.WithGroup(String(name))}
}

// valueText returns the text a handler would print for a resolved
// non-group value, and whether the value is text-like (so its escaped
// form can replace it).
func valueText(v slog.Value) (string, bool) {
	switch v.Kind() {
	case slog.KindString:
		return v.String(), true
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return x.Error(), true
		case fmt.Stringer:
			return x.String(), true
		case []byte:
			return string(x), true
		default:
			return fmt.Sprint(x), true
		}
	}
	return "", false // numbers, bools, times, durations: always safe
}

func attrNeeds(a slog.Attr) bool {
	if Needs(a.Key, Text) {
		return true
	}
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			if attrNeeds(g) {
				return true
			}
		}
		return false
	}
	s, ok := valueText(v)
	return ok && Needs(s, Text)
}

func escapeAttr(a slog.Attr) slog.Attr {
	key := String(a.Key)
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i := range g {
			out[i] = escapeAttr(g[i])
		}
		return slog.Attr{Key: key, Value: slog.GroupValue(out...)}
	}
	if s, ok := valueText(v); ok && Needs(s, Text) {
		return slog.String(key, String(s))
	}
	return slog.Attr{Key: key, Value: v}
}
