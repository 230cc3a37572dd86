package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/sv1pool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/haproxytest"
	"forge.lthn.ai/core/go-proxy/internal/pgtest"
	"forge.lthn.ai/core/go-proxy/internal/testsvc"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// farmInstance is one go-proxy process of a farm test: its miner port
// (PROXY protocol only) and API.
type farmInstance struct {
	name       string // its server name in deploy/haproxy.cfg
	minerPort  int
	apiPort    int
	proc       *proc
	killed     bool
	configPath string
}

// startFarmInstance runs go-proxy as a child process in SV1 passthrough
// mode on the shared PostgreSQL store at url, its miner port taking
// connections from the balancer only ("proxy-protocol": true), and waits
// until its API answers.
func startFarmInstance(t *testing.T, name, url string) *farmInstance {
	t.Helper()
	in := &farmInstance{name: name, minerPort: testPort(t), apiPort: testPort(t)}
	in.configPath = filepath.Join(t.TempDir(), "config.json")
	cfg := fmt.Sprintf(`{"sv1-mode":"passthrough","event-loops":2,"pool-timeout":3,"connect-timeout":2,
		"bind":[{"host":"127.0.0.1","port":%d,"proxy-protocol":true}],
		"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"tok","restricted":false},
		"registry":{"url":%q}}`, in.minerPort, in.apiPort, url)
	require.NoError(t, os.WriteFile(in.configPath, []byte(cfg), 0o600))
	in.run(t)
	return in
}

// run starts the instance's process (again, after a stop) and waits until
// its API answers.
func (in *farmInstance) run(t *testing.T) {
	t.Helper()
	p := startProcess(t, filepath.Dir(in.configPath), nil, "-c", in.configPath)
	in.proc, in.killed = p, false
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s's log:\n%s", in.name, p.stderr.String())
		}
	})
	testutil.Eventually(t, func() bool {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%s exited: %v\n%s", in.name, err, p.stderr.String())
		default:
		}
		code, _, err := apiGet(in.api("/1/summary"), "tok")
		return err == nil && code == http.StatusOK
	}, in.name+" answers on its API")
}

func (in *farmInstance) api(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", in.apiPort, path)
}

// call sends one request to the instance's API with the admin token.
func (in *farmInstance) call(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, in.api(path), strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// kill ends the process at once (SIGKILL): no shutdown, no goodbye to
// its miners or pools.
func (in *farmInstance) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, in.proc.cmd.Process.Signal(syscall.SIGKILL))
	err := <-in.proc.done
	in.proc.done <- err // for the cleanup
	in.killed = true
}

// minerAddrs returns the addresses ("ip:port") /1/miners shows.
func (in *farmInstance) minerAddrs(t *testing.T) []string {
	t.Helper()
	code, body, err := apiGet(in.api("/1/miners"), "tok")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, string(body))
	var r struct{ Miners [][]any }
	require.NoError(t, json.Unmarshal(body, &r))
	var out []string
	for _, row := range r.Miners {
		out = append(out, fmt.Sprintf("%v:%v", row[1], row[10]))
	}
	return out
}

// farm is deploy/haproxy.cfg in front of two go-proxy processes sharing a
// PostgreSQL store, and the pool they mine on.
type farm struct {
	t     *testing.T
	pool  *sv1pool.Pool
	inst  []*farmInstance
	h     *haproxytest.HAProxy
	front string
}

// startFarm starts the pool, PostgreSQL (pgtest), two instances and
// HAProxy with deploy/haproxy.cfg (balance replaced by balance, its
// example servers by the instances, faster health checks), and waits
// until the balancer sees both instances up.
func startFarm(t *testing.T, balance string) *farm {
	t.Helper()
	if _, err := haproxytest.Binary(); err != nil {
		testsvc.Skip(t, "HAProxy", err)
	}
	url := pgtest.Schema(t)
	f := &farm{t: t, pool: startSV1Pool(t, nil)}
	f.inst = []*farmInstance{startFarmInstance(t, "proxy-a", url), startFarmInstance(t, "proxy-b", url)}
	front := haproxytest.FreePort(t)
	f.front = fmt.Sprintf("127.0.0.1:%d", front)
	replace := []string{
		"log /dev/log local0 notice", "log stdout format raw local0 notice",
		"    stats socket /run/haproxy/admin.sock mode 660 level admin\n", "", // the helper has its own
		"maxconn 200000", "maxconn 2000",
		"maxconn 190000", "maxconn 1900",
		"bind :3333", "bind " + f.front,
		"bind 127.0.0.1:8404", fmt.Sprintf("bind 127.0.0.1:%d", haproxytest.FreePort(t)),
		"change-me-api-token", "tok",
		"check port 8080 inter 5s fall 3 rise 2", "check inter 300ms fall 2 rise 1",
		"server proxy-a 10.0.0.11:3333", fmt.Sprintf("server proxy-a 127.0.0.1:%d port %d", f.inst[0].minerPort, f.inst[0].apiPort),
		"server proxy-b 10.0.0.12:3333", fmt.Sprintf("server proxy-b 127.0.0.1:%d port %d", f.inst[1].minerPort, f.inst[1].apiPort),
		"    server proxy-c 10.0.0.13:3333\n", "",
	}
	if balance != "source" {
		replace = append(replace, "balance source", "balance "+balance)
	}
	f.h = haproxytest.Start(t, haproxytest.Config(t, "../../deploy/haproxy.cfg", replace...))
	for _, in := range f.inst {
		testutil.Eventually(t, func() bool {
			s, err := f.h.ServerStatus("go-proxy", in.name)
			return err == nil && s == "UP"
		}, "the health check marks "+in.name+" up")
	}
	return f
}

// hostOf returns the live instance whose /1/miners shows a miner from
// addr, waiting for it to appear.
func (f *farm) hostOf(addr string) *farmInstance {
	f.t.Helper()
	var host *farmInstance
	testutil.Eventually(f.t, func() bool {
		for _, in := range f.inst {
			if in.killed {
				continue
			}
			for _, a := range in.minerAddrs(f.t) {
				if a == addr {
					host = in
					return true
				}
			}
		}
		return false
	}, "a miner from "+addr+" is listed by an instance")
	return host
}

// other returns the instance that is not in.
func (f *farm) other(in *farmInstance) *farmInstance {
	if f.inst[0] == in {
		return f.inst[1]
	}
	return f.inst[0]
}

// farmMiner is a miner behind the balancer, connecting from its own
// loopback address (so /1/miners can tell it from the balancer), that
// keeps its subscription id across connections as real miners do and
// counts what it is told and what is accepted.
type farmMiner struct {
	t          *testing.T
	f          *farm
	src        string // its loopback address, 127.0.0.x
	xsub       bool
	m          *testminer.SV1
	sub        string // subscription id of the last subscribe answer
	reconnects int    // client.reconnect received
	accepted   int    // shares accepted
}

// dial connects to the balancer from the miner's address. It does not
// subscribe.
func (fm *farmMiner) dial() {
	fm.t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(fm.src)}}
	c, err := d.Dial("tcp", fm.f.front)
	require.NoError(fm.t, err)
	fm.t.Cleanup(func() { _ = c.Close() })
	fm.m = testminer.NewSV1(fm.t, c)
	fm.m.Timeout = testutil.WaitTimeout
}

// addr is the miner's current source address as the instances should
// show it.
func (fm *farmMiner) addr() string { return fm.m.Conn.LocalAddr().String() }

// read returns the next line, counting client.reconnect.
func (fm *farmMiner) read() testminer.SV1Line {
	fm.t.Helper()
	l := fm.m.Read()
	if l.Method == "client.reconnect" {
		fm.reconnects++
	}
	return l
}

func (fm *farmMiner) reply(id int) testminer.SV1Line {
	fm.t.Helper()
	for {
		if l := fm.read(); l.Method == "" && string(l.ID) == fmt.Sprint(id) {
			return l
		}
	}
}

// subscribe sends mining.subscribe (resuming fm.sub when set) and
// records the answer's subscription id, extranonce1 and size.
func (fm *farmMiner) subscribe() (e1 string) {
	fm.t.Helper()
	params := `["cpuminer/2.5.1"]`
	if fm.sub != "" {
		params = fmt.Sprintf(`["cpuminer/2.5.1",%q]`, fm.sub)
	}
	r := fm.reply(fm.m.Send(`"method":"mining.subscribe","params":%s}`, params))
	var res []json.RawMessage
	require.NoError(fm.t, json.Unmarshal(r.Result, &res), r.Raw)
	require.Len(fm.t, res, 3, r.Raw)
	var subs [][]string
	require.NoError(fm.t, json.Unmarshal(res[0], &subs), r.Raw)
	require.NoError(fm.t, json.Unmarshal(res[1], &e1), r.Raw)
	require.NoError(fm.t, json.Unmarshal(res[2], &fm.m.E2Size), r.Raw)
	fm.m.E1 = mustDecodeHex(fm.t, e1)
	fm.sub = subs[0][1]
	if fm.xsub {
		require.Empty(fm.t, fm.reply(fm.m.Send(`"method":"mining.extranonce.subscribe","params":[]}`)).Error)
	}
	return e1
}

// authorize logs in as name; it must succeed.
func (fm *farmMiner) authorize(name string) {
	fm.t.Helper()
	r := fm.reply(fm.m.Send(`"method":"mining.authorize","params":[%q,"x"]}`, name))
	require.True(fm.t, r.Accepted(), r.Raw)
}

// startsClean reads up to the first job and checks the miner got the
// session's difficulty and then a clean job, with no reconnect.
func (fm *farmMiner) startsClean() {
	fm.t.Helper()
	var methods []string
	for {
		l := fm.read()
		methods = append(methods, l.Method)
		if l.Method == "mining.notify" {
			require.Equal(fm.t, "true", string(l.Params[len(l.Params)-1]), "a clean job: %s", l.Raw)
			break
		}
		require.NotEqual(fm.t, "client.reconnect", l.Method)
	}
	require.Contains(fm.t, methods, "mining.set_difficulty", "the difficulty comes before the first job: %v", methods)
}

// submit mines and submits one share, which must be accepted.
func (fm *farmMiner) submit() {
	fm.t.Helper()
	e2, ntime, nonce, _ := fm.m.Share() // no version rolling
	r := fm.reply(fm.m.Send(`"method":"mining.submit","params":[%q,%q,"%x","%08x","%08x"]}`, fm.m.Worker, fm.m.Job.JobID, e2, ntime, nonce))
	require.True(fm.t, r.Accepted(), "share on %s: %s", fm.addr(), r.Raw)
	fm.accepted++
}

// resume connects again after its connection ended (an instance died),
// resuming its subscription: a connection the balancer closes before an
// answer (an instance that has just died, not yet marked down) is tried
// again, as miners do.
func (fm *farmMiner) resume(name string) {
	fm.t.Helper()
	deadline := time.Now().Add(testutil.WaitTimeout)
	for {
		fm.dial()
		_, err := fm.m.Conn.Write([]byte(fmt.Sprintf(`{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5.1",%q]}`+"\n", fm.sub)))
		require.NoError(fm.t, err)
		line, err := fm.m.ReadLineBy(time.Now().Add(testutil.WaitTimeout))
		if err == nil {
			var l testminer.SV1Line
			require.NoError(fm.t, json.Unmarshal([]byte(line), &l), line)
			var res []json.RawMessage
			require.NoError(fm.t, json.Unmarshal(l.Result, &res), line)
			require.Len(fm.t, res, 3, line)
			var e1 string
			require.NoError(fm.t, json.Unmarshal(res[1], &e1), line)
			require.NotEmpty(fm.t, e1, "resumed: answered with its account's session: %s", line)
			require.NoError(fm.t, json.Unmarshal(res[2], &fm.m.E2Size), line)
			fm.m.E1 = mustDecodeHex(fm.t, e1)
			break
		}
		var ne net.Error
		require.False(fm.t, errors.As(err, &ne) && ne.Timeout(), "no answer to the resuming subscribe")
		require.True(fm.t, time.Now().Before(deadline), "no instance took the miner back: %v", err)
	}
	if fm.xsub {
		require.Empty(fm.t, fm.reply(fm.m.Send(`"method":"mining.extranonce.subscribe","params":[]}`)).Error)
	}
	fm.authorize(name)
	fm.startsClean()
}

func mustDecodeHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// The farm of the README behind deploy/haproxy.cfg, with source-address
// stickiness and with plain round-robin: two go-proxy processes share a
// PostgreSQL store behind HAProxy (send-proxy-v2, health checks on the
// API). An account registered through one instance is mined with through
// the balancer on the other; /1/miners shows the miners' own addresses; a
// cpuminer-style miner (no mining.extranonce.subscribe) mines after a
// single client.reconnect wherever the balancer sends its reconnection;
// and when the instance serving the miners is killed, they reconnect
// through the balancer to the other, resume their subscriptions there
// (difficulty and a clean job at once) and their next shares are
// accepted. The pool sees no share twice and every share the miners saw
// accepted.
func TestFarm_Balancer_Good(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go-proxy processes, PostgreSQL and HAProxy")
	}
	for _, balance := range []string{"source", "roundrobin"} {
		t.Run(balance, func(t *testing.T) { testFarmBalancer(t, balance) })
	}
}

func testFarmBalancer(t *testing.T, balance string) {
	f := startFarm(t, balance)
	code, body := f.inst[0].call(t, "POST", "/api/v1/pools", `{"address":"`+f.pool.Addr()+`","algorithm":"sha256d"}`)
	require.Equal(t, http.StatusCreated, code, body)

	// The cpuminer-style miner subscribes; the account is registered
	// through the instance it did not land on.
	cpu := &farmMiner{t: t, f: f, src: "127.0.0.2"}
	cpu.dial()
	require.Empty(t, cpu.subscribe(), "no account yet, no extranonce")
	first := f.hostOf(cpu.addr())
	code, body = f.other(first).call(t, "POST", "/api/v1/users", `{"pool":"`+f.pool.Addr()+`","user":"farm.rig1","password":"pool-pass"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var reg struct{ Name string }
	require.NoError(t, json.Unmarshal([]byte(body), &reg))
	cpu.authorize(reg.Name)
	for cpu.read().Method != "client.reconnect" {
	}
	require.Equal(t, 1, cpu.reconnects)
	cpu.m.ExpectClosed()

	// It comes back through the balancer (round-robin: on the other
	// instance) and mines without another reconnect.
	cpu.dial()
	require.NotEmpty(t, cpu.subscribe(), "resumed: its account's session's extranonce")
	cpu.authorize(reg.Name)
	cpu.startsClean()
	cpu.submit()
	second := f.hostOf(cpu.addr())
	if balance == "roundrobin" {
		require.NotEqual(t, first.name, second.name, "round-robin sent the reconnection to the other instance")
	} else {
		require.Equal(t, first.name, second.name, "source stickiness kept the miner on its instance")
	}

	// A miner that takes extranonce updates, from another address.
	xs := &farmMiner{t: t, f: f, src: "127.0.0.3", xsub: true}
	xs.dial()
	xs.subscribe()
	xs.authorize(reg.Name)
	xs.m.WaitJob()
	xs.submit()
	xsHost := f.hostOf(xs.addr())

	// /1/miners shows the miners' own addresses (from the PROXY header),
	// not the balancer's.
	var listed []string
	for _, in := range f.inst {
		listed = append(listed, in.minerAddrs(t)...)
	}
	require.ElementsMatch(t, []string{cpu.addr(), xs.addr()}, listed)

	// The instance serving the cpuminer-style miner dies.
	second.kill(t)
	survivor := f.other(second)
	miners := []*farmMiner{cpu, xs}
	for _, fm := range miners {
		if fm == cpu || xsHost == second {
			fm.m.ExpectClosed()
			fm.resume(reg.Name)
			require.Equal(t, survivor.name, f.hostOf(fm.addr()).name)
		}
		fm.submit() // the next share is accepted
		fm.submit()
	}
	require.Equal(t, 1, cpu.reconnects, "one client.reconnect in all")
	require.Zero(t, xs.reconnects)

	st := f.pool.Stats()
	require.Zero(t, st.Duplicates, "no share accepted twice")
	require.Zero(t, st.Overlaps, "no two miners on one extranonce: %v", f.pool.Overlaps())
	require.Zero(t, st.LowDiff)
	require.Equal(t, int64(cpu.accepted+xs.accepted), st.Accepted, "every share the miners saw accepted, once")
}

// An upgrade, one instance at a time: the instance is set to drain in
// HAProxy (no new miners), then SIGUSR1 makes go-proxy release its miners
// gradually: a miner that takes extranonce updates is asked to reconnect,
// a cpuminer-style one that already had its reconnect is closed without a
// second one; both come back through the balancer on the other instance,
// resume their sessions and mine. The drained instance logs that it can be
// stopped, stops cleanly, starts again and is put back in service.
func TestFarm_Drain_Good(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go-proxy processes, PostgreSQL and HAProxy")
	}
	f := startFarm(t, "source")
	code, body := f.inst[0].call(t, "POST", "/api/v1/pools", `{"address":"`+f.pool.Addr()+`","algorithm":"sha256d"}`)
	require.Equal(t, http.StatusCreated, code, body)
	code, body = f.inst[0].call(t, "POST", "/api/v1/users", `{"pool":"`+f.pool.Addr()+`","user":"farm.rig1","password":"pool-pass"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var reg struct{ Name string }
	require.NoError(t, json.Unmarshal([]byte(body), &reg))

	xs := &farmMiner{t: t, f: f, src: "127.0.0.2", xsub: true}
	xs.dial()
	xs.subscribe()
	xs.authorize(reg.Name)
	xs.m.WaitJob()
	xs.submit()
	drained := f.hostOf(xs.addr())
	survivor := f.other(drained)
	// A cpuminer-style miner on the same instance: source addresses are
	// tried until the balancer's hash puts one there.
	var cpu *farmMiner
	for i := 3; cpu == nil; i++ {
		require.Less(t, i, 64, "no source address lands on "+drained.name)
		fm := &farmMiner{t: t, f: f, src: fmt.Sprintf("127.0.0.%d", i)}
		fm.dial()
		fm.subscribe()
		if f.hostOf(fm.addr()) == drained {
			cpu = fm
			break
		}
		fm.m.Conn.Close()
	}
	cpu.authorize(reg.Name)
	for cpu.read().Method != "client.reconnect" {
	}
	cpu.m.ExpectClosed()
	cpu.dial()
	cpu.subscribe()
	cpu.authorize(reg.Name)
	cpu.startsClean()
	cpu.submit()

	require.Equal(t, drained.name, f.hostOf(cpu.addr()).name)
	out, err := f.h.Command("set server go-proxy/" + drained.name + " state drain")
	require.NoError(t, err)
	require.Empty(t, out)
	require.NoError(t, drained.proc.cmd.Process.Signal(syscall.SIGUSR1))

	for _, fm := range []*farmMiner{xs, cpu} {
		for {
			line, err := fm.m.ReadLineBy(time.Now().Add(testutil.WaitTimeout))
			if err != nil {
				var ne net.Error
				require.False(t, errors.As(err, &ne) && ne.Timeout(), "released by the drain")
				break
			}
			if strings.Contains(line, `"client.reconnect"`) {
				fm.reconnects++
			}
		}
		fm.resume(reg.Name)
		require.Equal(t, survivor.name, f.hostOf(fm.addr()).name, "the balancer sends it to the other instance")
		fm.submit()
	}
	require.Equal(t, 1, xs.reconnects, "asked to reconnect by the drain")
	require.Equal(t, 1, cpu.reconnects, "its login's reconnect; none from the drain within the window")
	testutil.Eventually(t, func() bool {
		return strings.Contains(drained.proc.stderr.String(), "drained: no miner connected")
	}, "the drained instance says it can be stopped")
	require.Empty(t, drained.minerAddrs(t))

	require.Equal(t, exitOK, drained.proc.stop(t))
	drained.run(t) // the new version
	out, err = f.h.Command("set server go-proxy/" + drained.name + " state ready")
	require.NoError(t, err)
	require.Empty(t, out)
	testutil.Eventually(t, func() bool {
		s, err := f.h.ServerStatus("go-proxy", drained.name)
		return err == nil && s == "UP"
	}, "back in service")
	st := f.pool.Stats()
	require.Zero(t, st.Duplicates)
	require.Equal(t, int64(xs.accepted+cpu.accepted), st.Accepted)
}
