package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// sampleEvery is the timeline resolution; a progress line is printed
// every progressEvery.
const (
	sampleEvery   = 500 * time.Millisecond
	progressEvery = time.Second
)

// sampler records the proxy's RSS and CPU and the swarm's progress every
// sampleEvery, and prints a progress line every second.
type sampler struct {
	pid      int
	fam      family
	progress io.Writer
	label    string
	t0       time.Time
	phase    atomic.Pointer[string]

	once sync.Once
	quit chan struct{}
	done chan struct{}

	mu  sync.Mutex
	pts []sample
}

// startSampler starts sampling at once.
func startSampler(pid int, fam family, progress io.Writer, label string) *sampler {
	s := &sampler{pid: pid, fam: fam, progress: progress, label: label, t0: time.Now(),
		quit: make(chan struct{}), done: make(chan struct{})}
	s.setPhase("idle")
	s.take(false)
	go s.loop()
	return s
}

// setPhase names what the run is doing, for the progress line.
func (s *sampler) setPhase(p string) { s.phase.Store(&p) }

func (s *sampler) loop() {
	defer close(s.done)
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	ticks := 0
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			ticks++
			s.take(ticks%int(progressEvery/sampleEvery) == 0)
		}
	}
}

// take records one sample and optionally prints a progress line.
func (s *sampler) take(print bool) {
	r := readProxy(s.pid)
	sw := s.fam.SwarmStats()
	el := time.Since(s.t0)
	s.mu.Lock()
	s.pts = append(s.pts, sample{T: round3(el.Seconds()), RSS: r.RSS, CPU: round3(r.CPU), LoggedIn: sw.LoggedIn, Accepted: sw.Accepted})
	s.mu.Unlock()
	if print && s.progress != nil {
		fmt.Fprintf(s.progress, "bench: %s [%-6s %5.1fs] miners %d: connected %d logged-in %d closed %d | shares sent %d accepted %d rejected %d | errors %d | proxy rss %.1f MiB cpu %.1f s\n",
			s.label, *s.phase.Load(), el.Seconds(), sw.Miners, sw.Connected, sw.LoggedIn, sw.Closed,
			sw.Sent, sw.Accepted, sw.Rejected, sw.errorCount(), float64(r.RSS)/(1<<20), r.CPU)
	}
}

// stop ends sampling; idempotent.
func (s *sampler) stop() {
	s.once.Do(func() {
		close(s.quit)
		<-s.done
	})
}

// samples returns the timeline so far.
func (s *sampler) samples() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sample(nil), s.pts...)
}
