package swarm

// loginRequestID is the JSON-RPC id of every login; submits count up from
// firstSubmitID.
const (
	loginRequestID = 1
	firstSubmitID  = 2
)

// miner is the protocol state of one simulated XMRig miner; its connection
// (socket, buffers, state, pending submits) is the slot of the same index
// in the loop's evloop.Loop. Owned by its loop goroutine; reset when the
// connection ends.
type miner struct {
	fixed    uint8  // NiceHash byte of the current job
	nicehash bool   // the job blob carries a NiceHash byte
	nonce    uint32 // next nonce counter on the current job
	diff     uint64 // difficulty of the current job's target
	session  string
	jobID    []byte // interned in the loop's job table
	algo     []byte // interned
}
