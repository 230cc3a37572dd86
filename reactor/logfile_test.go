package reactor

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/bench/testminer"
	"forge.lthn.ai/core/go-proxy/internal/testutil"
)

// The line formats, exactly: the RFC's fields (UTC RFC 3339 seconds, one
// space between fields), then the rig id and the miner's address.
var (
	reConnect = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ CONNECT (\S+) (\S+) rig=(\S+) addr=(\S+) agent="([^"]*)"$`)
	reClose   = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ CLOSE (\S+) (\S+) rig=(\S+) addr=(\S+) rx=(\d+) tx=(\d+)$`)
	reAccept  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ACCEPT (\S+) rig=(\S+) addr=(\S+) diff=(\d+) latency=(\d+)ms$`)
	reReject  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ REJECT (\S+) rig=(\S+) addr=(\S+) reason="([^"]*)"$`)
)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func minerEvent() MinerEvent {
	return MinerEvent{ID: 7, Addr: netip.MustParseAddrPort("10.1.2.3:40000"), Family: FamilyCryptoNote,
		User: "WALLET", Worker: "rig-1", RigID: "rig-1", Agent: "XMRig/6.22.2 (Linux x86_64) libuv/1.48.0", Rx: 512, Tx: 4096}
}

func TestAccessLog_OnLogin_Good(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	l, err := NewAccessLog(path)
	require.NoError(t, err)
	e := minerEvent()
	l.OnLogin(e)
	l.OnClose(e)
	require.NoError(t, l.Close())

	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Zero(t, fi.Mode().Perm()&^0o640, "created rw-r----- (at most)")
	lines := readLines(t, path)
	require.Len(t, lines, 2)
	m := reConnect.FindStringSubmatch(lines[0])
	require.NotNil(t, m, lines[0])
	require.Equal(t, []string{"10.1.2.3", "WALLET", "rig-1", "10.1.2.3:40000", `XMRig/6.22.2 \x28Linux x86_64\x29 libuv/1.48.0`}, m[1:],
		"parentheses are shell syntax (a subshell; zsh glob qualifiers run code): escaped like the rest")
	m = reClose.FindStringSubmatch(lines[1])
	require.NotNil(t, m, lines[1])
	require.Equal(t, []string{"10.1.2.3", "WALLET", "rig-1", "10.1.2.3:40000", "512", "4096"}, m[1:])
	ts, err := time.Parse(time.RFC3339, lines[0][:20])
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), ts, time.Minute)
}

// A passthrough account name is a credential: both logs write a short
// hash of it instead.
func TestLogs_AccountName_Ugly(t *testing.T) {
	dir := t.TempDir()
	access, err := NewAccessLog(filepath.Join(dir, "access.log"))
	require.NoError(t, err)
	shares, err := NewShareLog(filepath.Join(dir, "shares.log"))
	require.NoError(t, err)
	const name = "o2bz6vqcvjbvdfdysj5hc76u3i"
	access.OnLogin(MinerEvent{User: name, Account: true, Family: FamilySV1})
	shares.OnAccept(ShareEvent{User: name, Account: true, Family: FamilySV1, Diff: 1})
	shares.OnReject(ShareEvent{User: name, Account: true, Family: FamilySV1, Reason: "Low difficulty share"})
	require.NoError(t, access.Close())
	require.NoError(t, shares.Close())
	sum := sha256.Sum256([]byte(name))
	tag := "account:" + hex.EncodeToString(sum[:6])
	lines := append(readLines(t, access.Path()), readLines(t, shares.Path())...)
	require.Len(t, lines, 3)
	for _, l := range lines {
		require.NotContains(t, l, name)
		require.Contains(t, l, " "+tag+" ", l)
	}
}

func TestAccessLog_OnLogin_Bad(t *testing.T) {
	// Hostile or missing fields cannot break the line format, and the
	// password never appears (the event does not carry it).
	path := filepath.Join(t.TempDir(), "access.log")
	l, err := NewAccessLog(path)
	require.NoError(t, err)
	l.OnLogin(MinerEvent{User: "evil\nFAKE LINE\"", Agent: strings.Repeat("a", 5000)})
	l.OnClose(MinerEvent{})
	require.NoError(t, l.Close())
	lines := readLines(t, path)
	require.Len(t, lines, 2)
	m := reConnect.FindStringSubmatch(lines[0])
	require.NotNil(t, m, lines[0])
	require.Equal(t, "-", m[1])
	require.Equal(t, `evil\nFAKE_LINE\x22`, m[2], "a user is one field")
	require.Equal(t, []string{"-", "-"}, m[3:5], "no rig id, no address")
	require.LessOrEqual(t, len(lines[0]), logLineMax)
	require.NotNil(t, reClose.FindStringSubmatch(lines[1]), lines[1])
	// Closed: later events are dropped, not written, not panicking.
	l.OnLogin(minerEvent())
	require.Equal(t, uint64(1), l.Dropped())
	require.ErrorIs(t, l.Reopen(), errLogClosed)
	require.NoError(t, l.Close(), "Close is idempotent")
}

func TestAccessLog_Reopen_Ugly(t *testing.T) {
	// Log rotation: the file is renamed away, Reopen (SIGHUP) creates a
	// new one at the path; nothing is lost or written twice.
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	l, err := NewAccessLog(path)
	require.NoError(t, err)
	defer l.Close()
	e := minerEvent()
	l.OnLogin(e)
	require.NoError(t, l.Flush())
	require.NoError(t, os.Rename(path, path+".1"))
	l.OnClose(e) // buffered: still goes to the renamed file on Reopen's flush
	require.NoError(t, l.Reopen())
	l.OnLogin(e)
	require.NoError(t, l.Flush())

	old := readLines(t, path+".1")
	require.Len(t, old, 2)
	require.Regexp(t, reConnect, old[0])
	require.Regexp(t, reClose, old[1])
	cur := readLines(t, path)
	require.Len(t, cur, 1)
	require.Regexp(t, reConnect, cur[0])

	// A path that cannot be reopened keeps the lines in memory until a
	// later Reopen succeeds.
	require.NoError(t, os.Rename(path, path+".2"))
	require.NoError(t, os.Mkdir(path, 0o700))
	require.Error(t, l.Reopen())
	l.OnClose(e)
	require.Error(t, l.Flush())
	require.NoError(t, os.Remove(path))
	require.NoError(t, l.Reopen())
	require.NoError(t, l.Flush())
	cur = readLines(t, path)
	require.Len(t, cur, 1)
	require.Regexp(t, reClose, cur[0])
}

func TestShareLog_OnAccept_Good(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shares.log")
	l, err := NewShareLog(path)
	require.NoError(t, err)
	addr := netip.MustParseAddrPort("[2001:db8::7]:40000")
	l.OnAccept(ShareEvent{User: "WALLET", RigID: "rig 7", Addr: addr, Diff: 100000, Actual: 250000, Latency: 82*time.Millisecond + 700*time.Microsecond})
	l.OnAccept(ShareEvent{User: "WALLET", Diff: 5000, Local: true})
	l.OnReject(ShareEvent{User: "WALLET", RigID: "rig-8", Addr: addr, Reason: "Low difficulty share"})
	l.OnReject(ShareEvent{User: "", Reason: `say "hi"`})
	require.NoError(t, l.Close())
	lines := readLines(t, path)
	require.Len(t, lines, 4)
	require.Equal(t, []string{"WALLET", "rig_7", "[2001:db8::7]:40000", "100000", "82"}, reAccept.FindStringSubmatch(lines[0])[1:])
	require.Equal(t, []string{"WALLET", "-", "-", "5000", "0"}, reAccept.FindStringSubmatch(lines[1])[1:])
	require.Equal(t, []string{"WALLET", "rig-8", "[2001:db8::7]:40000", "Low difficulty share"}, reReject.FindStringSubmatch(lines[2])[1:])
	require.Equal(t, []string{"-", "-", "-", `say \x22hi\x22`}, reReject.FindStringSubmatch(lines[3])[1:])
}

func TestShareLog_OnAccept_Bad(t *testing.T) {
	// Many event loops write at once; the flusher and Reopen run
	// meanwhile. Every line arrives whole (run with -race).
	path := filepath.Join(t.TempDir(), "shares.log")
	l, err := NewShareLog(path)
	require.NoError(t, err)
	const loops, each = 8, 500
	var wg sync.WaitGroup
	for i := 0; i < loops; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				l.OnAccept(ShareEvent{User: "W", Diff: uint64(j), Latency: time.Millisecond})
			}
		}()
	}
	for i := 0; i < 5; i++ {
		require.NoError(t, l.Flush())
		require.NoError(t, l.Reopen())
	}
	wg.Wait()
	require.NoError(t, l.Close())
	lines := readLines(t, path)
	require.Len(t, lines, loops*each)
	for _, line := range lines {
		require.Regexp(t, reAccept, line)
	}
	require.Zero(t, l.Dropped())
}

func TestShareLog_OnAccept_Ugly(t *testing.T) {
	// A disk that cannot keep up: the buffer is bounded, extra lines are
	// dropped and counted, never blocking the caller.
	path := filepath.Join(t.TempDir(), "shares.log")
	l, err := NewShareLog(path)
	require.NoError(t, err)
	l.f.ioMu.Lock() // the flusher is stuck writing
	n := 2 * logBufferSize / 40
	for i := 0; i < n; i++ {
		l.OnAccept(ShareEvent{User: "W", Diff: 1})
	}
	require.NotZero(t, l.Dropped())
	l.f.ioMu.Unlock()
	require.NoError(t, l.Close())
	lines := readLines(t, path)
	require.Equal(t, uint64(n), uint64(len(lines))+l.Dropped())
	_, err = NewShareLog(filepath.Join(t.TempDir(), "missing-dir", "x.log"))
	require.Error(t, err)
	_, err = NewAccessLog("")
	require.Error(t, err)
}

func TestCombineHooks_Good(t *testing.T) {
	var got []string
	h := CombineHooks(
		Hooks{OnLogin: func(MinerEvent) { got = append(got, "a-login") }, OnAccept: func(ShareEvent) { got = append(got, "a-accept") }},
		Hooks{},
		Hooks{OnLogin: func(MinerEvent) { got = append(got, "b-login") }, OnClose: func(MinerEvent) { got = append(got, "b-close") }},
	)
	require.Nil(t, h.OnReject)
	h.OnLogin(MinerEvent{})
	h.OnAccept(ShareEvent{})
	h.OnClose(MinerEvent{})
	require.Equal(t, []string{"a-login", "b-login", "a-accept", "b-close"}, got)
	require.Equal(t, Hooks{}, CombineHooks())
}

// The logs installed as hooks on a real proxy see a miner's login, its
// shares and its close, in the RFC formats.
func TestLogs_Proxy_Good(t *testing.T) {
	dir := t.TempDir()
	access, err := NewAccessLog(filepath.Join(dir, "access.log"))
	require.NoError(t, err)
	shares, err := NewShareLog(filepath.Join(dir, "shares.log"))
	require.NoError(t, err)
	pool := startPool(t, mockpool.Config{})
	_, addr := startProxyDirect(t, baseConfig(pool.Addr()), WithHooks(CombineHooks(access.Hooks(), shares.Hooks()))) // the log names the miner's own address

	m := testminer.DialCN(t, addr)
	m.RigID = "rig-alpha"
	require.Nil(t, m.Login("WALLET").Error)
	require.Nil(t, m.Submit().Error)
	r := m.SubmitRaw(m.Session, "no-such-job", "00000000", strings.Repeat("0", 64))
	require.NotNil(t, r.Error)
	m.Conn.Close()

	testutil.Eventually(t, func() bool {
		require.NoError(t, access.Flush())
		return len(readLines(t, access.Path())) == 2
	}, "CONNECT and CLOSE written")
	require.NoError(t, shares.Close())
	require.NoError(t, access.Close())
	al := readLines(t, access.Path())
	con := reConnect.FindStringSubmatch(al[0])
	require.NotNil(t, con, al[0])
	require.Equal(t, []string{"127.0.0.1", "WALLET", "rig-alpha", "XMRig/6.22.2"}, []string{con[1], con[2], con[3], con[5]})
	minerAddr := con[4]
	require.Equal(t, m.Conn.LocalAddr().String(), minerAddr, "the miner's own address")
	require.Equal(t, "WALLET", reClose.FindStringSubmatch(al[1])[2])
	sl := readLines(t, shares.Path())
	require.Len(t, sl, 2)
	acc := reAccept.FindStringSubmatch(sl[0])
	require.NotNil(t, acc, sl[0])
	require.Equal(t, []string{"WALLET", con[3], minerAddr, "1000"}, acc[1:5], "the share names the rig and the address")
	rej := reReject.FindStringSubmatch(sl[1])
	require.Equal(t, []string{"WALLET", con[3], minerAddr}, rej[1:4])
}

// Every string a miner or a pool chose is escaped in the log files:
// controls, bad UTF-8, bidi and separator characters, quotes and shell
// syntax, so a line can be neither split, reordered on a terminal, nor
// run as a command by a shell that reads the file. Fields are cut at
// logFieldMax bytes of output, never inside an escape.
func TestLogs_HostileStrings_Ugly(t *testing.T) {
	dir := t.TempDir()
	access, err := NewAccessLog(filepath.Join(dir, "access.log"))
	require.NoError(t, err)
	shares, err := NewShareLog(filepath.Join(dir, "shares.log"))
	require.NoError(t, err)
	user := "x;id>/tmp/f;#\u202egnp.exe\u2066 $(id)`id`|sh&\x1b[2J\u0085\xff"
	agent := "XMRig\r\n2026-01-01T00:00:00Z CONNECT 1.2.3.4 admin \u2028 'q\" (x)"
	access.OnLogin(MinerEvent{User: user, Agent: agent})
	access.OnClose(MinerEvent{User: user})
	access.OnLogin(MinerEvent{User: strings.Repeat("\u202e", 100), Agent: strings.Repeat("\n", 100)})
	shares.OnAccept(ShareEvent{User: user, Diff: 1})
	shares.OnReject(ShareEvent{User: user, Reason: "Low\ndiff \"share\"\u202e\u2029$HOME"})
	require.NoError(t, access.Close())
	require.NoError(t, shares.Close())

	const wantUser = `x\x3bid\x3e/tmp/f\x3b#\u202egnp.exe\u2066_\x24\x28id\x29\x60id\x60\x7csh\x26\x1b[2J\u0085\xff`
	al := readLines(t, access.Path())
	require.Len(t, al, 3)
	m := reConnect.FindStringSubmatch(al[0])
	require.NotNil(t, m, al[0])
	require.Equal(t, wantUser, m[2])
	require.Equal(t, `XMRig\r\n2026-01-01T00:00:00Z CONNECT 1.2.3.4 admin \u2028 \x27q\x22 \x28x\x29`, m[5])
	require.Equal(t, wantUser, reClose.FindStringSubmatch(al[1])[2])
	m = reConnect.FindStringSubmatch(al[2])
	require.NotNil(t, m, al[2])
	require.Equal(t, strings.Repeat(`\u202e`, logFieldMax/6), m[2], "cut before an escape that does not fit")
	require.Equal(t, strings.Repeat(`\n`, 100), m[5])
	sl := readLines(t, shares.Path())
	require.Len(t, sl, 2)
	require.Equal(t, wantUser, reAccept.FindStringSubmatch(sl[0])[1])
	rj := reReject.FindStringSubmatch(sl[1])
	require.Equal(t, []string{wantUser, `Low\ndiff \x22share\x22\u202e\u2029\x24HOME`}, []string{rj[1], rj[4]})
	for _, l := range append(al, sl...) {
		require.True(t, utf8.ValidString(l), l)
		require.False(t, strings.ContainsAny(l, "\u202e\u2066\u2028\u2029\u0085\r;$`|&<>'"), l)
	}
}

// Through a real proxy: a miner whose login is the shell payload of
// issue 10 (with bidi controls) is written escaped to the access log.
func TestLogs_ProxyHostileLogin_Ugly(t *testing.T) {
	access, err := NewAccessLog(filepath.Join(t.TempDir(), "access.log"))
	require.NoError(t, err)
	pool := startPool(t, mockpool.Config{})
	_, addr := startProxy(t, baseConfig(pool.Addr()), WithHooks(access.Hooks()))
	m := testminer.DialCN(t, addr)
	m.Agent = "XMRig\u202e/6.22.2 $(reboot)"
	require.Nil(t, m.Login("x;id>/tmp/f;#\u202ecod.sh").Error)
	m.Conn.Close()
	testutil.Eventually(t, func() bool {
		require.NoError(t, access.Flush())
		return len(readLines(t, access.Path())) == 2
	}, "CONNECT and CLOSE written")
	require.NoError(t, access.Close())
	al := readLines(t, access.Path())
	c := reConnect.FindStringSubmatch(al[0])
	require.NotNil(t, c, al[0])
	require.Equal(t, `x\x3bid\x3e/tmp/f\x3b#\u202ecod.sh`, c[2])
	require.Equal(t, `XMRig\u202e/6.22.2 \x24\x28reboot\x29`, c[5])
	require.Equal(t, c[2], reClose.FindStringSubmatch(al[1])[2])
}
