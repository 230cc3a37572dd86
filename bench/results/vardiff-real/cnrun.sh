#!/bin/sh
# vardiff with a real XMRig (rx/0 light, 1 thread, ~30 H/s): pool ~100x its per-minute work.
cd /work/ext/vdrun
./vdrun -family cn -addr 127.0.0.1:14445 -diff 180000 -jobs 60s > run/cn-pool.log 2>&1 & echo $! > run/cnpool.pid
sleep 1
./go-proxy -c run/cn.json > run/cn-proxy.log 2>&1 & echo $! > run/cnproxy.pid
sleep 2
/work/ext/xmrig/build/xmrig -o 127.0.0.1:13334 -u WALLET -p x --rig-id xmr1 -a rx/0 --randomx-mode=light -t 1 --no-huge-pages --print-time=10 --no-color --donate-level=1 -l run/cn-xmrig.log > /dev/null 2>&1 & echo $! > run/cnxmrig.pid
for i in $(seq 1 ${1:-36}); do
  sleep 10
  echo "$(date +%H:%M:%S) $(curl -s -H 'Authorization: Bearer T' http://127.0.0.1:18081/1/workers)" >> run/cn-workers.log
  echo "$(date +%H:%M:%S) $(curl -s -H 'Authorization: Bearer T' http://127.0.0.1:18081/1/miners)" >> run/cn-miners.log
done
kill $(cat run/cnxmrig.pid) $(cat run/cnproxy.pid) $(cat run/cnpool.pid)
