package main

import (
	"context"
	"sync"
	"time"

	"forge.lthn.ai/core/go-proxy/bench/internal/hist"
)

// jobRecord is one job the harness had the pool broadcast, with the
// swarm's cumulative job-latency histogram just before it was sent and
// just before the next one (or at the end): After minus Before is this
// job's fan-out, one sample per miner that received it.
type jobRecord struct {
	ID       string
	SentAt   time.Time
	LoggedIn int // miners logged in when it was sent
	Before   hist.Histogram
	After    hist.Histogram
}

// jobDriver broadcasts a job every interval. The pool's own timer is off,
// so that the harness knows which samples belong to which job.
type jobDriver struct {
	fam  family
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	jobs []*jobRecord
}

// startJobDriver starts broadcasting, first after one interval.
func startJobDriver(fam family, every time.Duration) *jobDriver {
	d := &jobDriver{fam: fam, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(d.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-t.C:
				d.broadcast()
			}
		}
	}()
	return d
}

// broadcast closes the previous job's sample window and sends a new job.
func (d *jobDriver) broadcast() {
	s := d.fam.SwarmStats()
	d.mu.Lock()
	if n := len(d.jobs); n > 0 {
		d.jobs[n-1].After = s.JobLatency
	}
	d.mu.Unlock()
	id, at := d.fam.Broadcast()
	d.mu.Lock()
	d.jobs = append(d.jobs, &jobRecord{ID: id, SentAt: at, LoggedIn: s.LoggedIn, Before: s.JobLatency})
	d.mu.Unlock()
}

// count returns the number of jobs sent so far.
func (d *jobDriver) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.jobs)
}

// finish stops broadcasting, waits (at most wait) until every logged-in
// miner has the last job, closes its sample window and returns the jobs.
func (d *jobDriver) finish(ctx context.Context, wait time.Duration) []*jobRecord {
	close(d.stop)
	<-d.done
	d.mu.Lock()
	jobs := d.jobs
	d.mu.Unlock()
	if len(jobs) == 0 {
		return nil
	}
	last := jobs[len(jobs)-1]
	wctx, cancel := context.WithTimeout(ctx, wait)
	_ = d.fam.WaitSwarm(wctx, func(s swarmCounts) bool {
		return s.LastJobID == last.ID && s.WithLastJob >= s.LoggedIn
	})
	cancel()
	last.After = d.fam.SwarmStats().JobLatency
	return jobs
}

// jobResult is one job's fan-out as reported.
type jobResult struct {
	ID string `json:"id"`
	// SentMs is when the pool sent it, ms after the measurement window
	// opened (negative: during the ramp).
	SentMs   float64 `json:"sent_ms"`
	InWindow bool    `json:"in_window"`
	// Miners received it (of LoggedIn logged in when it was sent).
	Miners   int64 `json:"miners"`
	LoggedIn int   `json:"logged_in"`
	// P50Ms, P99Ms and LastMs are kernel-rx minus pool-send over the
	// miners that received it; LastMs is the time the last one had it.
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	LastMs float64 `json:"last_ms"`

	samples dist
}

// analyseJobs turns job records into per-job fan-out; jobs sent within
// [from, to) are marked in the window.
func analyseJobs(jobs []*jobRecord, from, to time.Time) []jobResult {
	out := make([]jobResult, 0, len(jobs))
	for _, j := range jobs {
		d := distOf(j.After).sub(distOf(j.Before))
		out = append(out, jobResult{
			ID:       j.ID,
			SentMs:   ms(j.SentAt.Sub(from)),
			InWindow: !j.SentAt.Before(from) && j.SentAt.Before(to),
			Miners:   d.count(),
			LoggedIn: j.LoggedIn,
			P50Ms:    ms(d.quantile(0.5)),
			P99Ms:    ms(d.quantile(0.99)),
			LastMs:   ms(d.max()),
			samples:  d,
		})
	}
	return out
}
