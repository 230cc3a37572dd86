package reactor_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"

	"forge.lthn.ai/core/go-proxy/bench/mockpool"
	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/upstream"
)

// Embedding the reactor: a proxy in front of a pool, with a hook that sees
// every login. (The pool here is go-proxy's in-process mock.)
func Example() {
	pool, _ := mockpool.Start(mockpool.Config{})
	defer pool.Close()

	logins := make(chan string, 1)
	cfg := &reactor.Config{
		Bind:  []reactor.BindConfig{{Host: "127.0.0.1", Port: 37411}},
		Pools: []upstream.PoolConfig{{URL: pool.Addr(), User: "WALLET", Pass: "x"}},
	}
	p, err := reactor.New(cfg, reactor.WithHooks(reactor.Hooks{
		OnLogin: func(e reactor.MinerEvent) { logins <- e.Worker },
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := p.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer p.Stop(context.Background())

	// A miner logs in and gets its first job in the login reply.
	c, _ := net.Dial("tcp", "127.0.0.1:37411")
	defer c.Close()
	fmt.Fprintln(c, `{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"MINER","pass":"x","agent":"XMRig/6.22.2","rigid":"rig-7"}}`)
	reply, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Println("worker:", <-logins)
	fmt.Println("has job:", strings.Contains(reply, `"job":{"blob"`))
	fmt.Println("nicehash:", strings.Contains(reply, `"nicehash"`))
	// Output:
	// worker: rig-7
	// has job: true
	// nicehash: true
}
