#!/bin/sh
# A go-proxy build as the bench's stratum v1 peer (README, "Against the budget").
# go-proxy's command line has no option for a pool's family, so this writes the
# configuration the harness gives go-proxy itself into the run's work directory
# (the current directory) and starts the build on it. It leaves out the
# harness's event-loops and max-connections: the build's defaults apply, so
# compare with the harness's defaults (no -loops, no -max-connections).
#
#   -peer-bin bench/peers/go-proxy-sv1.sh -peer-args 'BUILD {pool} {port} {api_port} {mode}'
set -eu
if [ "$#" -ne 5 ]; then
	echo "usage: $0 BUILD POOL BIND_PORT API_PORT SV1_MODE" >&2
	exit 2
fi
cat > ./sv1.json <<JSON
{"sv1-mode": "$5", "bind": [{"host": "127.0.0.1", "port": $3}],
 "pools": [{"url": "$2", "user": "BENCH-WALLET", "pass": "x", "family": "sv1"}],
 "retries": 5, "retry-pause": 1, "log-level": "warn",
 "http": {"enabled": true, "host": "127.0.0.1", "port": $4}}
JSON
exec "$1" -c ./sv1.json
