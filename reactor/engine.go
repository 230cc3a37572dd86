package reactor

import (
	"time"

	"github.com/panjf2000/gnet/v2"
)

// engine is the gnet event handler. Its callbacks run on event loops,
// except OnTick (its own goroutine) and OnBoot (the starting goroutine).
type engine struct {
	gnet.BuiltinEventEngine
	p *Proxy
}

// probe is the context of the connections used to discover the loops.
type probe struct{ p *Proxy }

func (e *engine) OnBoot(eng gnet.Engine) gnet.Action {
	e.p.eng = eng
	return gnet.None
}

// OnTick posts the 1 Hz sweep to every shard. The first tick (loops are
// running by then) starts loop discovery.
func (e *engine) OnTick() (time.Duration, gnet.Action) {
	p := e.p
	if p.discoverOnce.CompareAndSwap(false, true) {
		go p.discover()
	}
	for _, s := range p.shardList() {
		_ = s.el.Execute(p.ctx, s.tickRun)
	}
	p.afterTick()
	return time.Second, gnet.None
}

func (e *engine) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	p := e.p
	switch v := c.Context().(type) {
	case *probe:
		p.shardFor(c.EventLoop())
		return nil, gnet.Close
	case *poolConn:
		v.conn = connRef{g: c}
		v.attached()
		return nil, gnet.None
	case *fanEnd:
		v.opened(c)
		return nil, gnet.None
	case *accepted:
		// Admitted at accept (acceptor.go); reapEnrolls checks opened.
		v.opened.Store(true)
		c.SetSafeContext(nil) // gnet set both; the miner replaces the other
		dropGnetAddrs(c)      // the miner keeps its address (gnetslim.go)
		m := v.s.addMiner(connRef{g: c}, v.addr, v.bind)
		c.SetContext(m)
		return nil, gnet.None
	}
	// Only gnet's internal listener could bring a connection without a
	// context, and nothing can reach it (innerListener).
	return nil, gnet.Close
}

func (e *engine) OnTraffic(c gnet.Conn) gnet.Action {
	var s *shard
	var ep endpoint
	switch v := c.Context().(type) {
	case *miner:
		s, ep = v.s, v
	case *poolConn:
		s, ep = v.mp.s, v
	case *fanEnd:
		v.traffic(c)
		return gnet.None
	default:
		return gnet.Close
	}
	buf, _ := c.Peek(-1)
	n, ok := s.feed(ep, buf)
	if !ok {
		return gnet.Close
	}
	// Only what feed consumed goes: gnet's Discard(0) would drop the whole
	// buffer, and with it the start of a line still arriving. What stays
	// is kept by gnet for the next read (its inbound buffer grows as
	// needed, up to the line limit feed enforces).
	if n > 0 {
		_, _ = c.Discard(n)
	}
	return gnet.None
}

func (e *engine) OnClose(c gnet.Conn, _ error) gnet.Action {
	switch v := c.Context().(type) {
	case endpoint:
		v.closed()
	case *fanEnd:
		v.closed()
	}
	return gnet.None
}
