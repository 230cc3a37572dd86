package stratum

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"
)

// Real blocks presented the way a pool's stratum v1 messages carry them
// (vectors and sources in sha256d_test.go). The stratum forms are derived
// from the real data by the rules each test re-checks:
//   - prevhash: the header's 32 bytes as eight 32-bit words, each
//     byte-swapped (pooler/cpuminer stratum_gen_work: data[1+i] =
//     le32dec(prevhash+4i), hashed as big-endian words);
//   - version, nbits, ntime, nonce: big-endian hex of the integer;
//   - coinb1 || extranonce1 || extranonce2 || coinb2 is the real coinbase
//     transaction, cut inside its scriptSig;
//   - merkle branch: the coinbase's siblings, internal byte order.

const (
	// Block 100000 as mining.notify. Its coinbase scriptSig is
	// 04 4c86041b 02 0602: coinb1 ends with the first push opcode,
	// extranonce1 = 4c86041b, extranonce2 = 0206 (2 bytes).
	b100kStratumPrev = "1901125004612a1701c3a621d930d31d36b607df1fccc2160002d01c00000000"
	b100kCoinb1      = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff0804"
	b100kE1          = "4c86041b"
	b100kE2          = "0206"
	b100kCoinb2      = "02ffffffff0100f2052a010000004341041b0e8c2567c12536aa13357b79a073dc4444acb83c4ec7a0e2f99dd74575" +
		"16c5817242da796924ca4e99947d087fedf9ce467cb9f7c6287078f801df276fdf84ac00000000"
	b100kBranch0 = "c40297f730dd7b5a99567eb8d27b78758f607507c52292d02d4031895b52f2ff" // tx 1
	b100kBranch1 = "49aef42d78e3e9999c9e6ec9e1dddd6cb880bf3b076a03be1318ca789089308e" // H(tx2 || tx3)

	b100kNotify = `{"params": ["186a0", "` + b100kStratumPrev + `", "` + b100kCoinb1 + `", "` + b100kCoinb2 +
		`", ["` + b100kBranch0 + `", "` + b100kBranch1 + `"], "00000001", "1b04864c", "4d1b2237", true], "id": null, "method": "mining.notify"}`
	b100kSubscribeResult = `{"id": 1, "result": [[["mining.set_difficulty", "deadbeefcafebabe"], ["mining.notify", "deadbeefcafebabe"]], "` + b100kE1 + `", 2], "error": null}`
	b100kSubmit          = `{"params": ["slush.miner1", "186a0", "` + b100kE2 + `", "4d1b2237", "10572b0f"], "id": 4, "method": "mining.submit"}`
)

// sv1Flow runs a pool subscribe result, a notify and a miner submit through
// the parsers and the share check, as the reactor does, and returns the
// share's header hash.
func sv1Flow(t *testing.T, subscribe, notify, submit string, versionMask uint32) ([32]byte, *SV1JobBinary) {
	t.Helper()
	var p fastjson.Parser
	var m SV1PoolMessage
	require.NoError(t, ParseSV1PoolMessage(&p, []byte(subscribe), &m))
	require.Equal(t, SV1ResultSubscribe, m.Result)
	e1, ok := DecodeHex(nil, m.Extranonce1)
	require.True(t, ok)
	e2Size := m.Extranonce2Size

	require.NoError(t, ParseSV1PoolMessage(&p, []byte(notify), &m))
	require.Equal(t, SV1PoolNotify, m.Kind)
	require.True(t, m.HasJob)
	job, err := m.Job.Binary()
	require.NoError(t, err)

	var req SV1Request
	require.NoError(t, ParseSV1Request(&p, []byte(submit), &req))
	require.Equal(t, SV1MethodSubmit, req.Method)
	require.NoError(t, req.Submit.Validate(e2Size, versionMask))
	var e2buf [MaxSV1ExtranonceSize]byte
	e2, ok := DecodeHex(e2buf[:0], req.Submit.Extranonce2)
	require.True(t, ok)

	var h SV1Hasher
	s := &req.Submit
	return h.ShareHash(job, e1, e2, s.NTimeValue, s.NonceValue, s.VersionBitsValue, versionMask), job
}

func TestSV1Vectors_Block100000_Good(t *testing.T) {
	// The stratum strings are the real block's data.
	require.Equal(t, b100kCoinbase, b100kCoinb1+b100kE1+b100kE2+b100kCoinb2)
	require.Equal(t, b100kStratumPrev, wordSwapHex(t, b100kPrevHash))
	tx2, tx3 := revHex(t, b100kTxIDs[2]), revHex(t, b100kTxIDs[3])
	pair := append(tx2[:], tx3[:]...)
	first := sha256.Sum256(pair)
	second := sha256.Sum256(first[:])
	require.Equal(t, b100kBranch1, hex.EncodeToString(second[:]))
	tx1 := revHex(t, b100kTxIDs[1])
	require.Equal(t, b100kBranch0, hex.EncodeToString(tx1[:]))

	hash, job := sv1Flow(t, b100kSubscribeResult, b100kNotify, b100kSubmit, 0)
	require.Equal(t, b100kHash, display(hash))

	// The share meets the block's target and its difficulty is at least the
	// block's.
	bt := SV1TargetFromBits(job.NBits)
	require.True(t, bt.Meets(&hash))
	require.GreaterOrEqual(t, SV1HashDifficulty(&hash), b100kDifficulty)
	st, _ := SV1TargetFromDifficulty(b100kDifficulty)
	require.True(t, st.Meets(&hash))

	// Any other nonce makes a different, (almost surely) failing share.
	var hs SV1Hasher
	e1 := mustHex(t, b100kE1)
	e2 := mustHex(t, b100kE2)
	other := hs.ShareHash(job, e1, e2, b100kTime, b100kNonce+1, 0, 0)
	require.NotEqual(t, hash, other)
	require.False(t, bt.Meets(&other))
	// The test-miner path builds the same header.
	hdr := hs.Header(job, e1, e2, job.Version, b100kTime, b100kNonce)
	require.Equal(t, hash, hdr.Hash())
}

func TestSV1Vectors_Block100000VersionBits_Good(t *testing.T) {
	// A sixth param of zero bits under the BIP320 mask leaves version 1.
	submit := strings.Replace(b100kSubmit, `"10572b0f"]`, `"10572b0f", "00000000"]`, 1)
	hash, _ := sv1Flow(t, b100kSubscribeResult, b100kNotify, submit, SV1DefaultVersionMask)
	require.Equal(t, b100kHash, display(hash))

	// Rolled bits change nVersion as BIP310 says, and nothing else.
	submit = strings.Replace(b100kSubmit, `"10572b0f"]`, `"10572b0f", "1fffe000"]`, 1)
	hash, job := sv1Flow(t, b100kSubscribeResult, b100kNotify, submit, SV1DefaultVersionMask)
	var hs SV1Hasher
	hdr := hs.Header(job, mustHex(t, b100kE1), mustHex(t, b100kE2), 0x1fffe001, b100kTime, b100kNonce)
	require.Equal(t, hdr.Hash(), hash)
	require.NotEqual(t, b100kHash, display(hash))
}

func TestSV1Vectors_Block100000Aggregate_Good(t *testing.T) {
	// Extranonce splitting (anchors §3.2): the pool gives E1 = 4c86 and
	// N = 4; the proxy gives this miner prefix P = 041b (k = 2), so the
	// miner sees extranonce1 4c86041b and extranonce2_size 2. Its share,
	// forwarded with extranonce2 = P || e2, is the same block for the pool.
	poolSubscribe := `{"error":null,"id":2,"result":[[["mining.notify","e26e1928"]],"4c86",4]}`
	var p fastjson.Parser
	var m SV1PoolMessage
	require.NoError(t, ParseSV1PoolMessage(&p, []byte(poolSubscribe), &m))
	require.Equal(t, "e26e1928", string(m.SessionID))
	poolE1, _ := DecodeHex(nil, m.Extranonce1)
	prefix := []byte{0x04, 0x1b}
	minerE1 := append(append([]byte(nil), poolE1...), prefix...)
	id := NumericID(1)
	reply := AppendSV1SubscribeReply(nil, &id, []byte("s1"), minerE1, m.Extranonce2Size-len(prefix))

	// The miner's view: our subscribe reply, the forwarded notify, its submit.
	hash, _ := sv1Flow(t, string(reply), b100kNotify, b100kSubmit, 0)
	require.Equal(t, b100kHash, display(hash))

	// The pool's view: its own E1 and the forwarded submit line.
	var req SV1Request
	require.NoError(t, ParseSV1Request(&p, []byte(b100kSubmit), &req))
	require.NoError(t, req.Submit.Validate(2, 0))
	up := AppendSV1PoolSubmit(nil, 77, "pool.account", prefix, &req.Submit)
	require.Equal(t, `{"id":77,"method":"mining.submit","params":["pool.account","186a0","041b0206","4d1b2237","10572b0f"]}`+"\n", string(up))
	hash, _ = sv1Flow(t, poolSubscribe, b100kNotify, string(up[:len(up)-1]), 0)
	require.Equal(t, b100kHash, display(hash))
}

func TestSV1Vectors_Genesis_Good(t *testing.T) {
	// The genesis block as a job with an empty merkle branch: its coinbase,
	// cut inside the scriptSig's text, is the whole block.
	const (
		coinb1 = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104"
		e1     = "45546865" // push-69 opcode, "The"
		e2     = "2054696d" // " Tim"
	)
	coinb2 := strings.TrimPrefix(genesisCoinbaseHex, coinb1+e1+e2)
	require.Equal(t, genesisCoinbaseHex, coinb1+e1+e2+coinb2)
	notify := `{"id":null,"method":"mining.notify","params":["0","` + zeros(64) + `","` + coinb1 + `","` + coinb2 +
		`",[],"00000001","1d00ffff","495fab29",false]}`
	subscribe := `{"id":1,"result":[["mining.notify","x"],"` + e1 + `",4],"error":null}`
	submit := `{"id":2,"method":"mining.submit","params":["w","0","` + e2 + `","495fab29","7c2bac1d"]}`
	hash, job := sv1Flow(t, subscribe, notify, submit, 0)
	require.Equal(t, genesisHash, display(hash))
	require.Equal(t, 0, len(job.Branch))
	var hs SV1Hasher
	require.Equal(t, genesisTxID, display(hs.MerkleRoot(job, mustHex(t, e1), mustHex(t, e2))))
}

func TestSV1Vectors_JobRoundTrip_Good(t *testing.T) {
	// A job survives parse -> Binary -> Job -> AppendSV1Notify -> parse, and
	// the binary form's prevhash is the real header's.
	var p fastjson.Parser
	var m SV1PoolMessage
	require.NoError(t, ParseSV1PoolMessage(&p, []byte(b100kNotify), &m))
	b, err := m.Job.Binary()
	require.NoError(t, err)
	require.Equal(t, revHex(t, b100kPrevHash), b.PrevHash)
	require.Equal(t, uint32(1), b.Version)
	require.Equal(t, uint32(b100kBits), b.NBits)
	require.Equal(t, uint32(b100kTime), b.NTime)
	j := b.Job("186a0", true)
	require.Equal(t, m.Job, j)
	line := AppendSV1Notify(nil, &j, true)
	var m2 SV1PoolMessage
	require.NoError(t, ParseSV1PoolMessage(&p, line, &m2))
	require.Equal(t, j, m2.Job)
	// CoinbaseMerkleBranch builds the same branch a pool sends.
	var txs [][32]byte
	for _, id := range b100kTxIDs[1:] {
		txs = append(txs, revHex(t, id))
	}
	require.Equal(t, b.Branch, CoinbaseMerkleBranch(txs))
}

// wordSwapHex turns a displayed block hash into the stratum prevhash by the
// rule itself: reverse to header order, then byte-swap each 32-bit word.
func wordSwapHex(t *testing.T, displayed string) string {
	h := revHex(t, displayed)
	for w := 0; w < 32; w += 4 {
		h[w], h[w+1], h[w+2], h[w+3] = h[w+3], h[w+2], h[w+1], h[w]
	}
	return hex.EncodeToString(h[:])
}

func TestSV1Vectors_TestMiner_Good(t *testing.T) {
	// What the bench swarm does: take the job it was sent, search nonces at
	// difficulty 1/65536 with rolled version bits, format a submit; the
	// proxy's parse, validation and share check accept it.
	job, e1, _ := sv1BenchJob(t)
	e2 := []byte{0xbe, 0xef}
	target, ok := SV1TargetFromDifficulty(1.0 / 65536)
	require.True(t, ok)
	const bits = 0x00a04000
	var miner SV1Hasher
	hdr := miner.Header(job, e1, e2, SV1RollVersion(job.Version, bits, SV1DefaultVersionMask), job.NTime+7, 0)
	nonce, found, ok := hdr.Search(&target, 0, 1<<24)
	require.True(t, ok)

	var e2hex, nt, nn, vb [16]byte
	s := SV1Submit{
		Worker: []byte("bench.0001"), JobID: []byte("186a0"),
		Extranonce2: AppendHex(e2hex[:0], e2),
		NTime:       AppendHex32(nt[:0], job.NTime+7),
		Nonce:       AppendHex32(nn[:0], nonce),
		VersionBits: AppendHex32(vb[:0], bits),
	}
	line := AppendSV1PoolSubmit(nil, 3, "bench.0001", nil, &s)
	require.Equal(t, "4d1b223e", string(s.NTime))

	var p fastjson.Parser
	var req SV1Request
	require.NoError(t, ParseSV1Request(&p, line[:len(line)-1], &req))
	require.NoError(t, req.Submit.Validate(2, SV1DefaultVersionMask))
	var proxy SV1Hasher
	rs := &req.Submit
	hash := proxy.ShareHash(job, e1, e2, rs.NTimeValue, rs.NonceValue, rs.VersionBitsValue, SV1DefaultVersionMask)
	require.Equal(t, found, hash)
	require.True(t, target.Meets(&hash))
	require.GreaterOrEqual(t, SV1HashDifficulty(&hash), 1.0/65536)
	// Without the version bits the same nonce is a different header.
	require.NotEqual(t, found, proxy.ShareHash(job, e1, e2, rs.NTimeValue, rs.NonceValue, 0, 0))
}
