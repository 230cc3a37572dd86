package reactor

import (
	"strings"
	"testing"
)

// FuzzMinerInput feeds arbitrary bytes, as one read, split in two and byte
// by byte, to a miner on an in-memory shard (fresh connections, then a
// logged-in one) and to its pool connection. Nothing may panic, and the
// shard must stay consistent.
func FuzzMinerInput(f *testing.F) {
	seeds := []string{
		`{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"W+5000","pass":"x","agent":"XMRig/6.22.2","algo":["rx/0"],"rigid":"r"}}` + "\n",
		`{"id":2,"method":"submit","params":{"id":"S","job_id":"job-1","nonce":"000000ff","result":"` + strings.Repeat("0", 64) + `"}}` + "\n",
		`{"id":3,"method":"keepalived","params":{"id":"S"}}` + "\r\n",
		`{"id":4,"method":"mining.subscribe","params":["cpuminer"]}` + "\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"\n\n{}\n",
		`{"id":{"a":[1,2,{"b":null}]},"method":"login"}` + "\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		ms := newMemShard(t, nil)
		fresh, _ := ms.addMinerRaw()
		feedSplit(ms.s, fresh, data, int(split))
		byByte, _ := ms.addMinerRaw()
		feedBytes(ms.s, byByte, data)

		m, _ := ms.addMiner(t, "WALLET")
		feedSplit(ms.s, m, data, int(split))
		feedSplit(ms.s, ms.mp.conn, data, int(split))
		if ms.s.count < 0 || ms.s.count > 3 {
			t.Fatalf("miner count %d", ms.s.count)
		}
		ms.s.tick()
	})
}

func feedSplit(s *shard, ep endpoint, data []byte, split int) {
	split = min(split, len(data))
	buf := append([]byte(nil), data[:split]...)
	n, ok := s.feed(ep, buf)
	if !ok {
		ep.closed()
		return
	}
	buf = append(buf[n:], data[split:]...)
	if _, ok := s.feed(ep, buf); !ok {
		ep.closed()
	}
}

// feedBytes delivers data one byte per read, as a slow peer would.
func feedBytes(s *shard, ep endpoint, data []byte) {
	var buf []byte
	for _, c := range data {
		buf = append(buf, c)
		n, ok := s.feed(ep, buf)
		if !ok {
			ep.closed()
			return
		}
		buf = buf[n:]
	}
}

// addMinerRaw connects an in-memory miner without logging in.
func (ms *memShard) addMinerRaw() (*miner, *memSink) {
	ms.s.p.conns.Add(1)
	sink := &memSink{}
	return ms.s.addMiner(connRef{x: sink}, ms.s.p.binds[0].addrPort(), ms.s.p.binds[0]), sink
}
