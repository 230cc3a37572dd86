package reactor

import (
	"context"
	"time"
)

// drainTick is how often Drain releases its next batch of miners.
const drainTick = 100 * time.Millisecond

// Drain empties the proxy gradually, for an upgrade behind a balancer: it
// releases the miners connected now evenly over the period over (at least
// a second) and returns once no miner is connected, or with ctx's error.
// A stratum v1 miner is asked to reconnect (client.reconnect with no host:
// to the same address, so the balancer picks an instance for it) and
// closed; a passthrough one only if the reconnect bound allows (see
// KeptSessions.Reconnect), else it is closed without the request — its
// session is recorded, so it resumes wherever it lands. A CryptoNote
// miner (the protocol has no reconnect request) or one still logging in
// is closed; miners reconnect by themselves. The proxy keeps accepting
// connections: take the instance out of the balancer first (HAProxy:
// "set server <backend>/<server> state drain"), or miners that reconnect
// land here again and are released again, until ctx ends. Safe to call
// from any goroutine; the loops are never blocked.
func (p *Proxy) Drain(ctx context.Context, over time.Duration) error {
	over = max(over, time.Second)
	total := p.conns.Load()
	ticks := int64(over / drainTick)
	batch := max(1, int((total+ticks-1)/ticks)) // per tick, whole proxy
	t := time.NewTicker(drainTick)
	defer t.Stop()
	for {
		shards := p.shardList()
		per := max(1, (batch+len(shards)-1)/max(1, len(shards)))
		left := 0
		for _, s := range shards {
			n, err := onLoop(ctx, s, func() int { return s.drainSome(per) })
			if err != nil {
				return err
			}
			left += n
		}
		if left == 0 && p.conns.Load() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return nil
		case <-t.C:
		}
	}
}

// drainSome releases up to n of the shard's miners and returns how many
// are still connected and not yet released (loop-only).
func (s *shard) drainSome(n int) (left int) {
	for _, m := range s.miners {
		if m == nil || m.state >= stateClosing || (m.sv != nil && m.sv.realign) {
			continue
		}
		if n == 0 {
			left++
			continue
		}
		n--
		switch {
		case m.family == FamilySV1 && m.sv != nil && m.sv.subscribed && m.mp != nil && m.mp.kind == kindSV1Pass:
			m.sv1AskReconnect()
		case m.family == FamilySV1 && m.sv != nil && m.sv.subscribed:
			m.sv1Reconnect()
		default:
			m.close()
		}
	}
	return left
}
