#!/bin/sh
# vardiff with a real cpuminer: pool, proxy, miner; /1/workers every 10 s.
cd /work/ext/vdrun
./vdrun -family sv1 -addr 127.0.0.1:14444 -diff 0.07 -jobs 30s > run/sv1-pool.log 2>&1 & echo $! > run/pool.pid
sleep 1
./go-proxy -c run/sv1.json > run/sv1-proxy.log 2>&1 & echo $! > run/proxy.pid
sleep 2
/work/ext/cpuminer/minerd -a sha256d -o stratum+tcp://127.0.0.1:13333 -u rig1 -p x -t 1 > run/sv1-minerd.log 2>&1 & echo $! > run/miner.pid
for i in $(seq 1 ${1:-24}); do
  sleep 10
  echo "$(date +%H:%M:%S) $(curl -s -H 'Authorization: Bearer T' http://127.0.0.1:18080/1/workers)" >> run/sv1-workers.log
  echo "$(date +%H:%M:%S) $(curl -s -H 'Authorization: Bearer T' http://127.0.0.1:18080/1/miners)" >> run/sv1-miners.log
done
kill $(cat run/miner.pid) $(cat run/proxy.pid) $(cat run/pool.pid)
