package simminer

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// SV1 is a stratum v1 miner that hashes at a set pace (see the package
// doc).
type SV1 struct {
	cfg    Config
	c      *conn
	rec    record
	pow    stratum.SV1Algo
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// stopMine ends the mining goroutine alone (Stop); mined is closed
	// when it has returned.
	stopMine context.CancelFunc
	mined    chan struct{}

	mu      sync.Mutex
	e1      []byte
	e2size  int
	diff    float64 // from mining.set_difficulty, applied with the next job
	job     *sv1Work
	gen     uint64 // bumped with every job
	changed chan struct{}
}

// sv1Work is a job with the difficulty it is mined at.
type sv1Work struct {
	id   string
	bin  *stratum.SV1JobBinary
	diff float64
	e1   []byte
	e2n  int
}

type sv1Line struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
	Result json.RawMessage   `json:"result"`
	Error  []json.RawMessage `json:"error"`
}

// StartSV1 connects, subscribes, authorizes and mines until ctx ends or
// Close.
func StartSV1(ctx context.Context, cfg Config) (*SV1, error) {
	if !(cfg.Hashrate > 0) {
		return nil, errors.New("simminer: hashrate must be positive")
	}
	c, err := dialConn(&cfg)
	if err != nil {
		return nil, err
	}
	m := &SV1{cfg: cfg, c: c, pow: stratum.SV1AlgoSHA256d, diff: 1, changed: make(chan struct{}, 1)}
	if cfg.Scrypt {
		m.pow = stratum.SV1AlgoScrypt
	}
	m.rec.st.Hashrate = cfg.Hashrate
	if err := m.login(); err != nil {
		c.nc.Close()
		return nil, err
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.wg.Add(2)
	go m.read(ctx)
	mineCtx, stopMine := context.WithCancel(ctx)
	m.stopMine, m.mined = stopMine, make(chan struct{})
	go func() { defer close(m.mined); m.mine(mineCtx) }()
	go func() { <-ctx.Done(); c.nc.Close() }()
	return m, nil
}

// login subscribes and authorizes, then waits for the first job.
func (m *SV1) login() error {
	if m.cfg.Suggest > 0 {
		if _, err := m.c.send(`"method":"mining.suggest_difficulty","params":[%v]}`, m.cfg.Suggest); err != nil {
			return err
		}
	}
	sub, err := m.c.send(`"method":"mining.subscribe","params":["simminer/1.0"]}`)
	if err != nil {
		return err
	}
	auth, err := m.c.send(`"method":"mining.authorize","params":[%q,"x"]}`, m.cfg.User)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(m.cfg.timeout())
	authorized := false
	for !authorized || m.job == nil {
		b, err := m.c.readLine(deadline)
		if err != nil {
			return fmt.Errorf("simminer: login: %w", err)
		}
		var l sv1Line
		if json.Unmarshal(b, &l) != nil {
			continue
		}
		switch string(l.ID) {
		case strconv.Itoa(sub):
			var res []json.RawMessage
			var e1 string
			if json.Unmarshal(l.Result, &res) != nil || len(res) < 3 || json.Unmarshal(res[1], &e1) != nil || json.Unmarshal(res[2], &m.e2size) != nil {
				return fmt.Errorf("simminer: subscribe refused: %s", strings.TrimSpace(string(b)))
			}
			m.e1, _ = hex.DecodeString(e1)
		case strconv.Itoa(auth):
			if string(l.Result) != "true" {
				return fmt.Errorf("simminer: authorize refused: %s", strings.TrimSpace(string(b)))
			}
			authorized = true
		default:
			if err := m.notification(b, &l); err != nil {
				return err
			}
		}
	}
	return nil
}

// notification applies set_difficulty, notify and set_extranonce.
func (m *SV1) notification(b []byte, l *sv1Line) error {
	switch l.Method {
	case "mining.set_difficulty":
		var d float64
		if len(l.Params) == 0 || json.Unmarshal(l.Params[0], &d) != nil || !(d > 0) {
			return fmt.Errorf("simminer: bad set_difficulty: %s", b)
		}
		m.mu.Lock()
		m.diff = d
		m.mu.Unlock()
	case "mining.set_extranonce":
		var e1 string
		m.mu.Lock()
		if len(l.Params) == 2 && json.Unmarshal(l.Params[0], &e1) == nil && json.Unmarshal(l.Params[1], &m.e2size) == nil {
			m.e1, _ = hex.DecodeString(e1)
		}
		m.mu.Unlock()
	case "mining.notify":
		var p fastjson.Parser
		var pm stratum.SV1PoolMessage
		if err := stratum.ParseSV1PoolMessage(&p, b, &pm); err != nil || !pm.HasJob {
			return fmt.Errorf("simminer: bad notify: %s", b)
		}
		bin, err := pm.Job.Binary()
		if err != nil {
			return err
		}
		m.mu.Lock()
		w := &sv1Work{id: pm.Job.JobID, bin: bin, diff: m.diff, e1: m.e1, e2n: m.e2size}
		m.job = w
		m.gen++
		m.mu.Unlock()
		m.rec.job(w.diff)
		select {
		case m.changed <- struct{}{}:
		default:
		}
	}
	return nil
}

func (m *SV1) read(ctx context.Context) {
	defer m.wg.Done()
	for ctx.Err() == nil {
		b, err := m.c.readLine(time.Time{})
		if err != nil {
			if ctx.Err() == nil {
				m.rec.fail(err)
			}
			return
		}
		var l sv1Line
		if json.Unmarshal(b, &l) != nil {
			continue
		}
		if l.Method != "" {
			if err := m.notification(b, &l); err != nil {
				m.rec.fail(err)
			}
			continue
		}
		id, err := strconv.Atoi(string(l.ID))
		if err != nil {
			continue
		}
		msg := ""
		if len(l.Error) > 1 {
			_ = json.Unmarshal(l.Error[1], &msg)
		}
		m.rec.answered(id, string(l.Result) == "true" && len(l.Error) == 0, msg)
	}
}

// slice is the pacing unit: the miner hashes a slice's worth, then sleeps
// off what is left of it.
const slice = 10 * time.Millisecond

// mine hashes at the configured pace: each slice it searches the nonces
// the elapsed time pays for, starting a fresh extranonce2 for every job
// and whenever the nonces of one run out.
func (m *SV1) mine(ctx context.Context) {
	defer m.wg.Done()
	var (
		hasher stratum.SV1Hasher
		sc     *stratum.ScryptHasher
		work   *sv1Work
		gen    uint64
		target stratum.SV1Target
		header stratum.BlockHeader
		e2n    uint64
		e2     []byte
		pos    uint64 // next nonce; 1<<32 = this extranonce2 is used up
		budget float64
		last   = time.Now()
	)
	if m.pow == stratum.SV1AlgoScrypt {
		sc = new(stratum.ScryptHasher)
	}
	for ctx.Err() == nil {
		m.mu.Lock()
		if m.gen != gen {
			work, gen, pos = m.job, m.gen, 1<<32
			target, _ = m.pow.TargetFromDifficulty(work.diff)
		}
		m.mu.Unlock()
		now := time.Now()
		budget = min(budget+m.cfg.Hashrate*now.Sub(last).Seconds(), m.cfg.Hashrate) // at most a second's worth owed
		last = now
		if budget < 1 {
			select {
			case <-ctx.Done():
				return
			case <-m.changed:
			case <-time.After(slice):
			}
			continue
		}
		if pos >= 1<<32 {
			e2n++
			pos = 0
			var c [8]byte
			binary.BigEndian.PutUint64(c[:], e2n)
			e2 = make([]byte, work.e2n)
			copy(e2[max(0, work.e2n-8):], c[max(0, 8-work.e2n):])
			header = hasher.Header(work.bin, work.e1, e2, work.bin.Version, work.bin.NTime, 0)
		}
		n := min(uint64(budget), 1<<32-pos, uint64(m.cfg.Hashrate*slice.Seconds())+1)
		found := false
		var nonce uint64
		var h [32]byte
		for i := uint64(0); i < n; i++ {
			header.SetNonce(uint32(pos + i))
			if sc != nil {
				h = sc.Hash(&header)
			} else {
				h = header.Hash()
			}
			if target.Meets(&h) {
				found, nonce = true, pos+i
				n = i + 1
				break
			}
		}
		budget -= float64(n)
		pos += n
		m.rec.hashed(float64(n))
		if found {
			if err := m.submit(work, e2, uint32(nonce), &h); err != nil {
				if ctx.Err() == nil {
					m.rec.fail(err)
				}
				return
			}
		}
	}
}

// submit sends the share found on job w with extranonce2 e2 and nonce
// (its proof-of-work hash is hash).
func (m *SV1) submit(w *sv1Work, e2 []byte, nonce uint32, hash *[32]byte) error {
	sh := Share{At: time.Now(), Diff: w.diff, Actual: m.pow.HashDifficulty(hash)}
	m.c.wmu.Lock()
	id := m.c.nextID
	m.rec.sent(id, sh)
	m.c.wmu.Unlock()
	_, err := m.c.send(`"method":"mining.submit","params":[%q,%q,"%x","%08x","%08x"]}`,
		m.cfg.User, w.id, e2, w.bin.NTime, nonce)
	return err
}

// Stats returns a snapshot.
func (m *SV1) Stats() Stats { return m.rec.snapshot() }

// Close stops the miner and closes its connection.
func (m *SV1) Close() {
	m.cancel()
	m.c.nc.Close()
	m.wg.Wait()
}

// Stop stops mining, waits (at most the configured timeout) for the
// answers to the shares in flight, then closes the connection: every
// share sent has its answer recorded.
func (m *SV1) Stop() {
	m.stopMine()
	<-m.mined
	deadline := time.Now().Add(m.cfg.timeout())
	for m.rec.inFlight() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	m.Close()
}
