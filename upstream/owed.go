package upstream

// owedClock tracks how long a pool has owed an answer: since the first
// request sent after its last answer (login, handshake, submit,
// keepalived). Expiring submits locally ("Pool timeout") does not reset
// it, so a pool that keeps the connection open but stops answering is
// noticed even when no submit stays pending as long as the pool timeout.
// Loop-only, like the clients that hold it.
type owedClock struct{ since int64 }

// sent records a request sent at now.
func (o *owedClock) sent(now int64) {
	if o.since == 0 {
		o.since = now
	}
}

// answered records an answer received at now; stillOwed says whether
// other requests are still waiting (they are owed from now on).
func (o *owedClock) answered(now int64, stillOwed bool) {
	if stillOwed {
		o.since = now
	} else {
		o.since = 0
	}
}

// stalled reports whether an answer has been owed for longer than timeout.
func (o *owedClock) stalled(now, timeout int64) bool {
	return o.since != 0 && now-o.since > timeout
}
