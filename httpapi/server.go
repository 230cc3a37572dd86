package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Server serves the API on its own goroutine at the configured
// http.host:http.port. Create it with NewServer, then Start; Shutdown
// ends it. Its methods are safe for concurrent use.
type Server struct {
	h   *Handler
	log *slog.Logger

	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// NewServer returns a server for the API over src; it binds nothing yet.
func NewServer(src Source, opts Options) *Server {
	h := NewHandler(src, opts)
	return &Server{h: h, log: h.log}
}

// Handler returns the server's handler (for mounting elsewhere).
func (s *Server) Handler() *Handler { return s.h }

// Start listens on the configuration's http.host:http.port (port 0 picks
// a free one; see Addr) and serves in the background. It returns the
// bind error, if any.
func (s *Server) Start() error {
	hc := s.h.src.Config().HTTP
	addr := net.JoinHostPort(hc.Host, strconv.Itoa(hc.Port))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("httpapi: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("httpapi: listen %s: %w", addr, err)
	}
	// Connections are capped and short-lived: they come out of the same
	// descriptor budget as the miners (reactor/limits.go). Unauthenticated
	// requests also get "Connection: close" (ServeHTTP).
	maxConns := orDefault(hc.MaxConnections, 64)
	s.ln, s.done = ln, make(chan struct{})
	s.srv = &http.Server{
		Handler:           s.h,
		ReadHeaderTimeout: time.Duration(orDefault(hc.ReadHeaderTimeout, 5)) * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       time.Duration(orDefault(hc.IdleTimeout, 5)) * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	srv, done, lln := s.srv, s.done, newLimitListener(ln, maxConns, s.log)
	go func() {
		defer close(done)
		if err := srv.Serve(lln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("httpapi: server stopped", "err", err)
		}
	}()
	s.log.Info("HTTP API listening", "addr", ln.Addr().String(), "restricted", restricted(&hc), "token", hc.AccessToken != "", "max_connections", maxConns)
	return nil
}

// Addr returns the listening address (nil before Start).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops accepting requests and waits (bounded by ctx) for those
// in progress. A server never started shuts down at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	<-done
	if err != nil {
		return fmt.Errorf("httpapi: shutdown: %w", err)
	}
	return nil
}

// orDefault is v, or d when v is not positive (a configuration that was
// not normalized).
func orDefault(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}
