package stratum

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// Golden lines: every encoder's exact bytes, each a valid JSON line.

func requireLine(t *testing.T, want string, got []byte) {
	t.Helper()
	require.Equal(t, want+"\n", string(got))
	require.True(t, json.Valid(got), "%s", got)
}

func TestAppendSV1SubscribeReply_Good(t *testing.T) {
	id := NumericID(1)
	requireLine(t, `{"id":1,"result":[[["mining.set_difficulty","b4b6693b"],["mining.notify","b4b6693b"]],"08000002",4],"error":null}`,
		AppendSV1SubscribeReply(nil, &id, []byte("b4b6693b"), []byte{0x08, 0x00, 0x00, 0x02}, 4))
	// String ids are echoed; an empty extranonce1 is an empty string.
	var zero RequestID // reads as null
	id2, err := parseSV1(t, `{"id":"a1","method":"mining.subscribe"}`)
	require.NoError(t, err)
	requireLine(t, `{"id":"a1","result":[[["mining.set_difficulty","s"],["mining.notify","s"]],"",8],"error":null}`,
		AppendSV1SubscribeReply(nil, &id2.ID, []byte("s"), nil, 8))
	requireLine(t, `{"id":null,"result":[[["mining.set_difficulty","s"],["mining.notify","s"]],"ff",0],"error":null}`,
		AppendSV1SubscribeReply(nil, &zero, []byte("s"), []byte{0xff}, -3))
}

func TestAppendSV1BoolReply_Good(t *testing.T) {
	id := NumericID(2)
	requireLine(t, `{"id":2,"result":true,"error":null}`, AppendSV1BoolReply(nil, &id, true))
	requireLine(t, `{"id":2,"result":false,"error":null}`, AppendSV1BoolReply(nil, &id, false))
}

func TestAppendSV1ErrorReply_Good(t *testing.T) {
	id := NumericID(4)
	for e, want := range map[*SV1Error]string{
		ErrSV1Other:         `{"id":4,"result":null,"error":[20,"Other/Unknown",null]}`,
		ErrSV1JobNotFound:   `{"id":4,"result":null,"error":[21,"Job not found",null]}`,
		ErrSV1Duplicate:     `{"id":4,"result":null,"error":[22,"Duplicate share",null]}`,
		ErrSV1LowDifficulty: `{"id":4,"result":null,"error":[23,"Low difficulty share",null]}`,
		ErrSV1Unauthorized:  `{"id":4,"result":null,"error":[24,"Unauthorized worker",null]}`,
		ErrSV1NotSubscribed: `{"id":4,"result":null,"error":[25,"Not subscribed",null]}`,
		ErrSV1BadNonce:      `{"id":4,"result":null,"error":[20,"Incorrect size of nonce",null]}`,
	} {
		requireLine(t, want, AppendSV1ErrorReply(nil, &id, e))
	}
	// Messages are escaped.
	requireLine(t, `{"id":null,"result":null,"error":[-3,"a\"b\n",null]}`, AppendSV1ErrorReply(nil, &NullID, &SV1Error{-3, "a\"b\n"}))
	require.EqualError(t, ErrSV1LowDifficulty, "Low difficulty share")
}

func TestAppendSV1ConfigureReply_Good(t *testing.T) {
	id := NumericID(1)
	requireLine(t, `{"id":1,"result":{"version-rolling":true,"version-rolling.mask":"1fffe000"},"error":null}`,
		AppendSV1ConfigureReply(nil, &id, &SV1ConfigureResult{Requested: SV1ExtVersionRolling, VersionRolling: true, VersionMask: SV1DefaultVersionMask}))
	requireLine(t, `{"id":1,"result":{"version-rolling":true,"version-rolling.mask":"18000000","minimum-difficulty":true},"error":null}`,
		AppendSV1ConfigureReply(nil, &id, &SV1ConfigureResult{Requested: SV1ExtVersionRolling | SV1ExtMinimumDifficulty, VersionRolling: true, VersionMask: 0x18000000, MinimumDifficulty: true}))
	requireLine(t, `{"id":1,"result":{"version-rolling":false,"minimum-difficulty":false,"subscribe-extranonce":true,"info":false},"error":null}`,
		AppendSV1ConfigureReply(nil, &id, &SV1ConfigureResult{Requested: SV1ExtVersionRolling | SV1ExtMinimumDifficulty | SV1ExtSubscribeExtranonce | SV1ExtInfo, VersionMask: 0xffffffff, SubscribeExtranonce: true}))
	requireLine(t, `{"id":1,"result":{"minimum-difficulty":true},"error":null}`,
		AppendSV1ConfigureReply(nil, &id, &SV1ConfigureResult{Requested: SV1ExtMinimumDifficulty, VersionRolling: true, MinimumDifficulty: true}))
	requireLine(t, `{"id":1,"result":{},"error":null}`, AppendSV1ConfigureReply(nil, &id, &SV1ConfigureResult{}))
}

func TestAppendSV1SetDifficulty_Good(t *testing.T) {
	for diff, want := range map[float64]string{
		1:                "1",
		512:              "512",
		65536:            "65536",
		1048576:          "1048576",
		1e6:              "1000000",
		4096.5:           "4096.5",
		0.5:              "0.5",
		1.0 / 65536:      "1.52587890625e-05",
		MaxSV1Difficulty: "18446744073709552000", // shortest digits that round-trip
		b100kDifficulty:  "14484.1623612254",
	} {
		got := AppendSV1SetDifficulty(nil, diff)
		requireLine(t, `{"id":null,"method":"mining.set_difficulty","params":[`+want+`]}`, got)
		// The number round-trips through the pool-side parser.
		m, err := parseSV1Pool(t, string(got))
		require.NoError(t, err)
		require.Equal(t, SV1PoolSetDifficulty, m.Kind)
		require.Equal(t, diff, m.Difficulty, want)
	}
}

func TestAppendSV1SetDifficulty_Ugly(t *testing.T) {
	// Beyond 1e21 integers take the exponent form (and exceed what the
	// parsers accept, MaxSV1Difficulty).
	requireLine(t, `{"id":null,"method":"mining.set_difficulty","params":[1e+21]}`, AppendSV1SetDifficulty(nil, 1e21))
	for _, d := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		requireLine(t, `{"id":null,"method":"mining.set_difficulty","params":[0]}`, AppendSV1SetDifficulty(nil, d))
	}
}

func sv1TestJob() SV1Job {
	return SV1Job{
		JobID: "bf", PrevHash: "4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000",
		Coinb1:       "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20020862062f503253482f04b8864e5008",
		Coinb2:       "072f736c7573682f000000000100f2052a010000001976a914d23fcdf86f7e756a64a7a9688ef9903327048ed988ac00000000",
		MerkleBranch: []string{b100kBranch0, b100kBranch1},
		Version:      "00000002", NBits: "1c2ac4af", NTime: "504e86b9",
	}
}

func TestAppendSV1Notify_Good(t *testing.T) {
	j := sv1TestJob()
	want := `{"id":null,"method":"mining.notify","params":["bf","` + j.PrevHash + `","` + j.Coinb1 + `","` + j.Coinb2 +
		`",["` + b100kBranch0 + `","` + b100kBranch1 + `"],"00000002","1c2ac4af","504e86b9",`
	requireLine(t, want+`false]}`, AppendSV1Notify(nil, &j, false))
	// clean_jobs override: a joining miner gets the current job as clean.
	requireLine(t, want+`true]}`, AppendSV1Notify(nil, &j, true))
	j.MerkleBranch = nil
	requireLine(t, `{"id":null,"method":"mining.notify","params":["bf","`+j.PrevHash+`","`+j.Coinb1+`","`+j.Coinb2+`",[],"00000002","1c2ac4af","504e86b9",true]}`,
		AppendSV1Notify(nil, &j, true))
}

func TestAppendSV1SetExtranonce_Good(t *testing.T) {
	requireLine(t, `{"id":null,"method":"mining.set_extranonce","params":["aabbccdd01",3]}`,
		AppendSV1SetExtranonce(nil, []byte{0xaa, 0xbb, 0xcc, 0xdd, 0x01}, 3))
}

func TestAppendSV1SetVersionMask_Good(t *testing.T) {
	requireLine(t, `{"id":null,"method":"mining.set_version_mask","params":["1fffe000"]}`, AppendSV1SetVersionMask(nil, SV1DefaultVersionMask))
	requireLine(t, `{"id":null,"method":"mining.set_version_mask","params":["00003000"]}`, AppendSV1SetVersionMask(nil, 0x3000))
}

func TestAppendSV1Reconnect_Good(t *testing.T) {
	requireLine(t, `{"id":null,"method":"client.reconnect","params":["stratum.example.org",3333,10]}`,
		AppendSV1Reconnect(nil, "stratum.example.org", 3333, 10))
	requireLine(t, `{"id":null,"method":"client.reconnect","params":["a\"b",0,0]}`, AppendSV1Reconnect(nil, `a"b`, -1, -5))
}

func TestAppendSV1_Append_Good(t *testing.T) {
	// Encoders append: earlier bytes are kept.
	id := NumericID(3)
	out := AppendSV1BoolReply([]byte("x"), &id, true)
	require.Equal(t, `x{"id":3,"result":true,"error":null}`+"\n", string(out))
}
