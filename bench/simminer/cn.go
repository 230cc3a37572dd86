package simminer

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// Config is a miner's identity and speed.
type Config struct {
	// Addr is the proxy's (or pool's) miner port.
	Addr string
	// User is the login (CryptoNote) or the authorized worker (SV1); RigID
	// the CryptoNote rig id.
	User, RigID string
	// Hashrate is the miner's speed in H/s (difficulty × hashes per
	// difficulty-1 share per second: CryptoNote 1, sha256d 2^32, scrypt
	// 2^16).
	Hashrate float64
	// Seed makes a CN miner's draws reproducible.
	Seed uint64
	// Timeout bounds the dial, the login and each write (default 10 s).
	Timeout time.Duration
	// Scrypt makes an SV1 miner hash scrypt instead of sha256d.
	Scrypt bool
	// Suggest, when positive, makes an SV1 miner send
	// mining.suggest_difficulty before it subscribes.
	Suggest float64
}

func (c *Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 10 * time.Second
	}
	return c.Timeout
}

// conn is the line transport both miners use.
type conn struct {
	nc     net.Conn
	r      *bufio.Reader
	wmu    sync.Mutex
	nextID int
	wait   time.Duration
}

func dialConn(c *Config) (*conn, error) {
	nc, err := net.DialTimeout("tcp", c.Addr, c.timeout())
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), nextID: 1, wait: c.timeout()}, nil
}

// send writes a request (the rest of the JSON object after {"id":N,) and
// returns its id.
func (c *conn) send(format string, args ...any) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	id := c.nextID
	c.nextID++
	line := fmt.Sprintf(`{"id":%d,`, id) + fmt.Sprintf(format, args...) + "\n"
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.wait))
	_, err := c.nc.Write([]byte(line))
	return id, err
}

func (c *conn) readLine(deadline time.Time) ([]byte, error) {
	_ = c.nc.SetReadDeadline(deadline)
	return c.r.ReadBytes('\n')
}

// CN is a simulated CryptoNote miner (see the package doc).
type CN struct {
	cfg    Config
	c      *conn
	rec    record
	rng    *rand.Rand // miner goroutine only
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// stopMine ends the mining goroutine alone (Stop); mined is closed
	// when it has returned.
	stopMine context.CancelFunc
	mined    chan struct{}

	mu      sync.Mutex
	session string
	job     cnJob
	changed chan struct{} // a new job (capacity 1)
	nonce   uint32
}

// cnJob is a job as the miner uses it.
type cnJob struct {
	id    string
	diff  float64
	fixed byte
}

type cnJobJSON struct {
	Blob   string `json:"blob"`
	JobID  string `json:"job_id"`
	Target string `json:"target"`
}

type cnLine struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params *cnJobJSON      `json:"params"`
	Result *struct {
		ID     string     `json:"id"`
		Status string     `json:"status"`
		Job    *cnJobJSON `json:"job"`
	} `json:"result"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// StartCN connects, logs in and mines until ctx ends or Close.
func StartCN(ctx context.Context, cfg Config) (*CN, error) {
	if !(cfg.Hashrate > 0) {
		return nil, errors.New("simminer: hashrate must be positive")
	}
	c, err := dialConn(&cfg)
	if err != nil {
		return nil, err
	}
	m := &CN{cfg: cfg, c: c, rng: rand.New(rand.NewPCG(cfg.Seed, 0x636e)), changed: make(chan struct{}, 1)}
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

func (m *CN) login() error {
	id, err := m.c.send(`"jsonrpc":"2.0","method":"login","params":{"login":%q,"pass":"x","agent":"simminer/1.0","algo":["rx/0"],"rigid":%q}}`,
		m.cfg.User, m.cfg.RigID)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(m.cfg.timeout())
	for {
		b, err := m.c.readLine(deadline)
		if err != nil {
			return fmt.Errorf("simminer: login: %w", err)
		}
		var l cnLine
		if json.Unmarshal(b, &l) != nil || string(l.ID) != strconv.Itoa(id) {
			continue
		}
		if l.Error != nil || l.Result == nil || l.Result.Job == nil {
			return fmt.Errorf("simminer: login refused: %s", strings.TrimSpace(string(b)))
		}
		m.session = l.Result.ID
		return m.setJob(l.Result.Job)
	}
}

// setJob installs a job.
func (m *CN) setJob(j *cnJobJSON) error {
	d := stratum.DifficultyFromTarget(j.Target)
	if d == 0 || len(j.Blob) < 86 {
		return fmt.Errorf("simminer: unusable job %+v", *j)
	}
	fixed, err := strconv.ParseUint(j.Blob[84:86], 16, 8)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.job = cnJob{id: j.JobID, diff: float64(d), fixed: byte(fixed)}
	m.mu.Unlock()
	m.rec.job(float64(d))
	select {
	case m.changed <- struct{}{}:
	default:
	}
	return nil
}

func (m *CN) read(ctx context.Context) {
	defer m.wg.Done()
	for ctx.Err() == nil {
		b, err := m.c.readLine(time.Time{})
		if err != nil {
			if ctx.Err() == nil {
				m.rec.fail(err)
			}
			return
		}
		var l cnLine
		if json.Unmarshal(b, &l) != nil {
			continue
		}
		if l.Method == "job" && l.Params != nil {
			if err := m.setJob(l.Params); err != nil {
				m.rec.fail(err)
			}
			continue
		}
		id, err := strconv.Atoi(string(l.ID))
		if err != nil {
			continue
		}
		ok := l.Error == nil && l.Result != nil && l.Result.Status == "OK"
		msg := ""
		if l.Error != nil {
			msg = l.Error.Message
		}
		m.rec.answered(id, ok, msg)
	}
}

// mine draws shares: the wait for the next one is exponential with mean
// diff/hashrate; a new job draws again (the process is memoryless).
func (m *CN) mine(ctx context.Context) {
	defer m.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		m.mu.Lock()
		j := m.job
		m.mu.Unlock()
		wait := time.Duration(m.rng.ExpFloat64() * j.diff / m.cfg.Hashrate * float64(time.Second))
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-m.changed:
			continue
		case <-t.C:
		}
		if err := m.submit(j); err != nil {
			if ctx.Err() == nil {
				m.rec.fail(err)
			}
			return
		}
	}
}

// submit sends a share for job j: a fresh nonce in the job's NiceHash
// range and a result of difficulty diff/U.
func (m *CN) submit(j cnJob) error {
	m.nonce++
	var nb [4]byte
	binary.LittleEndian.PutUint32(nb[:], m.nonce&0xffffff|uint32(j.fixed)<<24)
	actual := j.diff / (1 - m.rng.Float64())
	tail := uint64(math.MaxUint64)
	if actual < math.MaxUint64 {
		tail = uint64(float64(math.MaxUint64) / actual)
	}
	tail = max(tail, 1)
	var tb [8]byte
	binary.LittleEndian.PutUint64(tb[:], tail)
	result := strings.Repeat("00", 24) + fmt.Sprintf("%x", tb)
	sh := Share{At: time.Now(), Diff: j.diff, Actual: float64(stratum.ResultDifficulty(result))}
	m.c.wmu.Lock()
	id := m.c.nextID // the id send will use; recorded first so the answer finds it
	m.rec.sent(id, sh)
	m.c.wmu.Unlock()
	_, err := m.c.send(`"jsonrpc":"2.0","method":"submit","params":{"id":%q,"job_id":%q,"nonce":"%x","result":%q,"algo":"rx/0"}}`,
		m.session, j.id, nb, result)
	return err
}

// Stats returns a snapshot.
func (m *CN) Stats() Stats { return m.rec.snapshot() }

// Close stops the miner and closes its connection.
func (m *CN) Close() {
	m.cancel()
	m.c.nc.Close()
	m.wg.Wait()
}

// Stop stops mining, waits (at most the configured timeout) for the
// answers to the shares in flight, then closes the connection: every
// share sent has its answer recorded.
func (m *CN) Stop() {
	m.stopMine()
	<-m.mined
	deadline := time.Now().Add(m.cfg.timeout())
	for m.rec.inFlight() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	m.Close()
}
