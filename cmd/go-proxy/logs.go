package main

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"forge.lthn.ai/core/go-proxy/reactor"
)

// logSwitch holds the access and share logs in force. The hooks it gives
// the reactor reach them through atomic pointers, so a reload can open,
// close or move a log without restarting the proxy; with no log
// configured a hook costs one atomic load. Safe for concurrent use.
type logSwitch struct {
	log    *slog.Logger
	mu     sync.Mutex // serialises apply, reopen and close
	access atomic.Pointer[reactor.AccessLog]
	share  atomic.Pointer[reactor.ShareLog]
}

// hooks returns the reactor hooks feeding whichever logs are in force.
func (s *logSwitch) hooks() reactor.Hooks {
	return reactor.Hooks{
		OnLogin: func(e reactor.MinerEvent) {
			if l := s.access.Load(); l != nil {
				l.OnLogin(e)
			}
		},
		OnClose: func(e reactor.MinerEvent) {
			if l := s.access.Load(); l != nil {
				l.OnClose(e)
			}
		},
		OnAccept: func(e reactor.ShareEvent) {
			if l := s.share.Load(); l != nil {
				l.OnAccept(e)
			}
		},
		OnReject: func(e reactor.ShareEvent) {
			if l := s.share.Load(); l != nil {
				l.OnReject(e)
			}
		},
	}
}

// apply opens the logs cfg names and closes those it no longer names. A
// log whose new file cannot be opened keeps its current file.
func (s *logSwitch) apply(cfg *reactor.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if cur := s.access.Load(); pathOf(cur) != cfg.AccessLogFile {
		var next *reactor.AccessLog
		var err error
		if cfg.AccessLogFile != "" {
			next, err = reactor.NewAccessLog(cfg.AccessLogFile)
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			s.access.Store(next)
			if cur != nil {
				s.closeOld(cur)
			}
			if next != nil {
				s.log.Info("access log opened", "path", next.Path())
			}
		}
	}
	if cur := s.share.Load(); pathOf(cur) != cfg.ShareLogFile {
		var next *reactor.ShareLog
		var err error
		if cfg.ShareLogFile != "" {
			next, err = reactor.NewShareLog(cfg.ShareLogFile)
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			s.share.Store(next)
			if cur != nil {
				s.closeOld(cur)
			}
			if next != nil {
				s.log.Info("share log opened", "path", next.Path())
			}
		}
	}
	return errors.Join(errs...)
}

// logCloser is what AccessLog and ShareLog have in common here.
type logCloser interface {
	Path() string
	Reopen() error
	Close() error
}

// pathOf returns a log's path, "" for none.
func pathOf[L *reactor.AccessLog | *reactor.ShareLog](l L) string {
	switch v := any(l).(type) {
	case *reactor.AccessLog:
		if v != nil {
			return v.Path()
		}
	case *reactor.ShareLog:
		if v != nil {
			return v.Path()
		}
	}
	return ""
}

// closeOld closes a log that was replaced.
func (s *logSwitch) closeOld(l logCloser) {
	if err := l.Close(); err != nil {
		s.log.Warn("closing a replaced log", "path", l.Path(), "err", err)
	}
}

// reopen reopens every log at its path (after a rotation; SIGHUP).
func (s *logSwitch) reopen() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.current() {
		if err := l.Reopen(); err != nil {
			s.log.Error("reopening a log", "path", l.Path(), "err", err)
		} else {
			s.log.Info("log reopened", "path", l.Path())
		}
	}
}

// close flushes and closes every log; hooks called later do nothing.
func (s *logSwitch) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.current()
	s.access.Store(nil)
	s.share.Store(nil)
	for _, l := range cur {
		if err := l.Close(); err != nil {
			s.log.Warn("closing a log", "path", l.Path(), "err", err)
		}
	}
}

// current returns the open logs.
func (s *logSwitch) current() []logCloser {
	var out []logCloser
	if l := s.access.Load(); l != nil {
		out = append(out, l)
	}
	if l := s.share.Load(); l != nil {
		out = append(out, l)
	}
	return out
}
