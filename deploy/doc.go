// Package deploy holds no code: the directory carries go-proxy's
// deployment files (Dockerfile, docker-compose stack, systemd unit, HAProxy
// configuration, Prometheus scrape config and alert rules, Grafana
// dashboard), and this package's tests check them against the real tools
// and a running proxy. See README "Deploying".
package deploy
