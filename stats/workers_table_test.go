package stats

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// checkTable compares the table with the reference: same workers, each
// found by Get under its name, Len right.
func checkTable(t *testing.T, w *Workers, ref map[string]*Worker) {
	t.Helper()
	require.Equal(t, len(ref), w.Len())
	seen := map[string]bool{}
	w.Each(func(wk *Worker) {
		require.False(t, seen[wk.Name], "listed twice: %s", wk.Name)
		seen[wk.Name] = true
		require.Same(t, ref[wk.Name], wk)
	})
	require.Len(t, seen, len(ref))
	for name, wk := range ref {
		i, ok := w.find(name)
		require.True(t, ok, name)
		require.Same(t, wk, w.slots[i])
	}
}

// Random logins, disconnections and evictions keep the table equal to a
// map: records found by name after every backward shift, grow and shrink.
func TestWorkers_Table_Good(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := NewWorkers(1 << 20)
	ref := map[string]*Worker{}
	now := int64(1_000_000)
	for round := range 40 {
		for range rng.IntN(3000) {
			name := "rig-" + strconv.Itoa(rng.IntN(5000))
			wk := w.Get(name, now)
			if old, ok := ref[name]; ok {
				require.Same(t, old, wk)
			}
			ref[name] = wk
			wk.LastSeen = uint32(now)
			wk.Connections = int32(rng.IntN(2))
		}
		checkTable(t, w, ref)
		now += 10
		var gone []string
		idle := int64(rng.IntN(30))
		n := w.Evict(now, idle, func(wk *Worker) { gone = append(gone, wk.Name) })
		require.Len(t, gone, n)
		for _, name := range gone {
			wk := ref[name]
			require.NotNil(t, wk, "evicted twice or unknown: %s", name)
			require.Zero(t, wk.Connections)
			delete(ref, name)
		}
		for _, wk := range ref { // nothing evictable stayed
			require.True(t, wk.Connections != 0 || now-int64(wk.LastSeen) < idle, wk.Name)
		}
		checkTable(t, w, ref)
		if round%10 == 9 { // everyone leaves
			w.Each(func(wk *Worker) { wk.Connections = 0 })
			w.Evict(now+1000, 1, nil)
			clear(ref)
			checkTable(t, w, ref)
		}
	}
}

// Evict leaves exactly the connected and the recently seen.
func TestWorkers_EvictExact_Ugly(t *testing.T) {
	w := NewWorkers(1 << 20)
	for i := range 2000 {
		wk := w.Get("w"+strconv.Itoa(i), 100)
		switch i % 3 {
		case 0:
			wk.Connections = 1
		case 1:
			wk.LastSeen = 195
		}
	}
	n := w.Evict(200, 10, nil)
	require.Equal(t, 666, n) // i%3 == 2: idle 100 s, no connection
	require.Equal(t, 1334, w.Len())
	w.Each(func(wk *Worker) { require.True(t, wk.Connections == 1 || wk.LastSeen == 195) })
}

// The table costs about 8 bytes per slot, at most 3/4 full.
func TestWorkers_TableSize_Good(t *testing.T) {
	w := NewWorkers(1 << 20)
	for i := range 7500 {
		w.Get("rig-"+strconv.Itoa(i), 1)
	}
	require.Equal(t, 16384, len(w.slots)) // 7500 / 16384 = 0.46 full: 17.5 B per worker
	require.Nil(t, w.Get("x", 1).Where)
	w2 := NewWorkers(3)
	for i := range 5 {
		w2.Get(strconv.Itoa(i), 1)
	}
	require.Equal(t, 3, w2.Len())
	require.Equal(t, uint64(2), w2.Dropped)
}

// A worker record fits the 160-byte size class (it was 176 bytes with
// 64-bit seconds): one per rig in a farm where every rig has its own id.
func TestWorker_Size_Good(t *testing.T) {
	require.LessOrEqual(t, unsafe.Sizeof(Worker{}), uintptr(160))
	require.LessOrEqual(t, unsafe.Sizeof(Rates{}), uintptr(28))
}
