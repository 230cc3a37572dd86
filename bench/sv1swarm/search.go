package sv1swarm

import (
	"sync"
	"sync/atomic"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// searchChunk is how many nonces a search tries between two checks of its
// cancel flag (about a millisecond of one core).
const searchChunk = 4096

// taskSink receives finished searches; a loop implements it.
type taskSink interface {
	post(t *task)
}

// task is one nonce search for one miner. The loop fills the inputs and
// hands it to a worker through the queue; the worker fills the outputs and
// posts it back; the loop owns it again from then on. cancel may be set by
// the loop at any time.
type task struct {
	// Inputs.
	sink   taskSink
	slot   int32 // miner slot in the loop
	job    *jobData
	e1     [16]byte
	e1Len  uint8
	e2Len  uint8
	rolled bool // version bits are submitted
	mask   uint32
	unit   workUnit
	diff   float64 // the share difficulty searched for
	ntime  uint32
	cancel atomic.Bool

	// Outputs.
	found  bool
	nonce  uint32
	hash   [32]byte
	hashes uint64
}

// version returns the header version the task hashes.
func (t *task) version() uint32 {
	return stratum.SV1RollVersion(t.job.bin.Version, t.unit.bits, t.mask)
}

// searcher is the pool of search goroutines shared by every loop.
type searcher struct {
	queue chan *task
	stop  func() bool // the swarm is closing: abandon every search
	wg    sync.WaitGroup
}

// newSearcher starts workers goroutines serving a queue of queueLen tasks.
func newSearcher(workers, queueLen int, stop func() bool) *searcher {
	sr := &searcher{queue: make(chan *task, queueLen), stop: stop}
	for i := 0; i < workers; i++ {
		sr.wg.Add(1)
		go sr.work()
	}
	return sr
}

// offer queues t without blocking; false when the queue is full.
func (sr *searcher) offer(t *task) bool {
	select {
	case sr.queue <- t:
		return true
	default:
		return false
	}
}

// close stops the workers once every loop has stopped offering, and waits
// for them.
func (sr *searcher) close() {
	close(sr.queue)
	sr.wg.Wait()
}

// work is one search goroutine. It owns a hasher and a target cache.
func (sr *searcher) work() {
	defer sr.wg.Done()
	var (
		h          stratum.SV1Hasher
		lastDiff   float64
		lastTarget stratum.SV1Target
	)
	for t := range sr.queue {
		if t.diff != lastDiff {
			lastTarget, _ = stratum.SV1TargetFromDifficulty(t.diff) // diff is validated
			lastDiff = t.diff
		}
		t.search(&h, &lastTarget, sr.stop)
		t.sink.post(t)
	}
}

// search tries nonces from unit.start until one meets target, the whole
// 2^32 range is done, or the task or the swarm is cancelled.
func (t *task) search(h *stratum.SV1Hasher, target *stratum.SV1Target, stop func() bool) {
	hdr := h.Header(t.job.bin, t.e1[:t.e1Len], t.unit.e2[:t.e2Len], t.version(), t.ntime, 0)
	n := t.unit.start
	for done := uint64(0); done < 1<<32; done += searchChunk {
		if t.cancel.Load() || stop() {
			t.hashes = done
			return
		}
		if nonce, hash, ok := hdr.Search(target, n, searchChunk); ok {
			t.found, t.nonce, t.hash = true, nonce, hash
			t.hashes = done + uint64(nonce-n) + 1
			return
		}
		n += searchChunk
	}
	t.hashes = 1 << 32
}
