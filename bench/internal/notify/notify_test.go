package notify

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWaitFor_Good(t *testing.T) {
	var c Cond
	var v atomic.Int64
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- WaitFor(ctx, &c, v.Load, func(n int64) bool { return n >= 100 })
	}()
	for i := 0; i < 100; i++ {
		v.Add(1)
		c.Notify()
	}
	require.NoError(t, <-done)
}

func TestWaitFor_Bad(t *testing.T) {
	var c Cond
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := WaitFor(ctx, &c, func() int { return 0 }, func(n int) bool { return n > 0 })
	require.ErrorIs(t, err, context.Canceled)
}
