package reactor

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func testLimiter(max, ban int) (*RateLimiter, *time.Time) {
	now := time.Unix(1_700_000_000, 0)
	rl := NewRateLimiter(RateLimit{MaxConnectionsPerMinute: max, BanDuration: ban})
	rl.now = func() time.Time { return now }
	return rl, &now
}

var ip1 = netip.MustParseAddr("1.2.3.4")

func TestRateLimiter_Allow_Good(t *testing.T) {
	rl, _ := testLimiter(10, 0)
	for i := 0; i < 10; i++ {
		require.Equal(t, Allowed, rl.Allow(ip1), "call %d", i)
	}
}

func TestRateLimiter_Allow_Bad(t *testing.T) {
	rl, now := testLimiter(10, 0)
	for i := 0; i < 10; i++ {
		rl.Allow(ip1)
	}
	require.Equal(t, Limited, rl.Allow(ip1), "11th call: bucket exhausted")
	require.Equal(t, Allowed, rl.Allow(netip.MustParseAddr("5.6.7.8")), "other IPs unaffected")
	*now = now.Add(6 * time.Second) // one token refills every 60/10 s
	require.Equal(t, Allowed, rl.Allow(ip1))
	require.Equal(t, Limited, rl.Allow(ip1))
}

func TestRateLimiter_Allow_Ugly(t *testing.T) {
	rl, now := testLimiter(2, 300)
	rl.Allow(ip1)
	rl.Allow(ip1)
	require.Equal(t, Banned, rl.Allow(ip1))
	*now = now.Add(2 * time.Minute) // the bucket would be full again...
	require.Equal(t, Banned, rl.Allow(ip1), "...but the ban lasts ban-duration")
	*now = now.Add(3*time.Minute + time.Second)
	require.Equal(t, Allowed, rl.Allow(ip1), "ban over: a fresh bucket")
	// IPv4-mapped IPv6 is the same client.
	require.Equal(t, Allowed, rl.Allow(netip.MustParseAddr("::ffff:1.2.3.4")))
	require.Equal(t, Banned, rl.Allow(ip1))
}

func TestRateLimiter_Tick_Good(t *testing.T) {
	rl, now := testLimiter(5, 0)
	rl.Allow(ip1)
	require.Equal(t, 1, rl.Tracked())
	rl.Tick(now.Add(time.Minute))
	require.Zero(t, rl.Tracked(), "a refilled bucket is forgotten")
	off := NewRateLimiter(RateLimit{})
	require.Equal(t, Allowed, off.Allow(ip1))
	require.Zero(t, off.Tracked(), "disabled limiter tracks nothing")
}

func TestRateLimiter_Allow_Race(t *testing.T) {
	rl := NewRateLimiter(RateLimit{MaxConnectionsPerMinute: 1000, BanDuration: 1})
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(g % 4)})
			for i := 0; i < 500; i++ {
				rl.Allow(ip)
				if i%100 == 0 {
					rl.Tick(time.Now())
				}
			}
		}(g)
	}
	wg.Wait()
}
