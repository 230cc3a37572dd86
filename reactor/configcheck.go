package reactor

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// Preflight checks what Validate cannot see from the text and what would
// stop or cripple a start: the TLS certificate and key (readable, a
// matching pair, not expired), every log file and, in SV1 passthrough
// mode, the account store (writable), and max-connections against the
// open-files limit. It is what --check-config adds to ParseConfig. Each
// problem names its key; all are returned together. Nothing is left
// behind: an absent file is not created (its directory is probed with a
// temporary file, removed at once).
func (c *Config) Preflight() error {
	var errs []error
	if c.TLS.CertFile != "" {
		errs = append(errs, checkCertificate(c.TLS.CertFile, c.TLS.KeyFile))
	}
	for _, f := range []struct{ key, path string }{
		{"log-file", c.LogFile}, {"access-log-file", c.AccessLogFile}, {"share-log-file", c.ShareLogFile},
	} {
		if f.path != "" {
			if err := checkWritable(f.path); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.key, err))
			}
		}
	}
	if c.SV1Mode == "passthrough" {
		if err := checkWritable(c.Registry.Path); err != nil {
			errs = append(errs, fmt.Errorf("registry.path: %w", err))
		} else if err := probeDir(filepath.Dir(c.Registry.Path)); err != nil {
			errs = append(errs, fmt.Errorf("registry.path: SQLite needs to create its journal next to the store: %w", err))
		}
	}
	if c.MaxConnections > 0 {
		limit := openFilesLimit()
		loops := c.EventLoops
		if loops == 0 {
			loops = runtime.GOMAXPROCS(0)
		}
		uncapped := *c
		uncapped.MaxConnections = 0
		if cap := planDescriptors(&uncapped, limit, loops).Miners; c.MaxConnections > cap {
			errs = append(errs, fmt.Errorf("max-connections: %d is more than the open-files limit allows (%d open files: at most %d miner connections, the rest is kept for pools, logs and the API); raise the limit (ulimit -n, systemd LimitNOFILE=) or lower max-connections",
				c.MaxConnections, limit, cap))
		}
	}
	return errors.Join(errs...)
}

// checkCertificate loads a certificate and key pair the way the TLS
// listener will.
func checkCertificate(certFile, keyFile string) error {
	if _, err := os.ReadFile(certFile); err != nil {
		return fmt.Errorf("tls.cert: %w", err)
	}
	if _, err := os.ReadFile(keyFile); err != nil {
		return fmt.Errorf("tls.cert_key: %w", err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("tls.cert / tls.cert_key: %w", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fmt.Errorf("tls.cert: %w", err)
	}
	if now := time.Now(); now.After(leaf.NotAfter) {
		return fmt.Errorf("tls.cert: the certificate expired on %s", leaf.NotAfter.UTC().Format(time.DateOnly))
	} else if now.Before(leaf.NotBefore) {
		return fmt.Errorf("tls.cert: the certificate is not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkWritable reports whether path can be opened for appending: an
// existing file is opened (not truncated) and closed; for an absent one a
// temporary file is created in its directory and removed.
func checkWritable(path string) error {
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory", path)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		return f.Close()
	}
	if err := probeDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("cannot create %s: %w", path, err)
	}
	return nil
}

// probeDir reports whether files can be created in dir, by creating and
// removing a temporary one.
func probeDir(dir string) error {
	f, err := os.CreateTemp(dir, ".go-proxy-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}
