#!/usr/bin/env bash
# Start (or stop) Pushgateway, Alertmanager and Prometheus on loopback with the configs in
# deployments/, each with its own data directory, for local runs of the alerting chain:
#
#   scripts/start-monitoring-stack.sh start [DIR]   # default DIR: .mlops-guard/monitoring
#   scripts/start-monitoring-stack.sh stop  [DIR]
#
# Ports: PUSHGATEWAY_PORT (9091), ALERTMANAGER_PORT (9093), PROMETHEUS_PORT (9090); the
# receiver is expected at RECEIVER_URL (http://127.0.0.1:9095) with the token in
# MLOPS_GUARD_WEBHOOK_TOKEN (written to DIR/webhook-token, mode 600, for Alertmanager).
# Stops only the processes whose pids it wrote to DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
action="${1:-start}"
dir="${2:-.mlops-guard/monitoring}"
pg_port="${PUSHGATEWAY_PORT:-9091}"
am_port="${ALERTMANAGER_PORT:-9093}"
prom_port="${PROMETHEUS_PORT:-9090}"
receiver="${RECEIVER_URL:-http://127.0.0.1:9095}"

stop() {
  for name in prometheus alertmanager pushgateway; do
    if [ -f "$dir/$name.pid" ]; then
      kill "$(cat "$dir/$name.pid")" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
}

wait_ready() {  # url name
  for _ in $(seq 1 120); do
    if curl -fs -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  echo "error: $2 did not become ready at $1 (see $dir/$2.log)" >&2
  return 1
}

case "$action" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac

for binary in prometheus prometheus-alertmanager prometheus-pushgateway; do
  command -v "$binary" >/dev/null 2>&1 || {
    echo "error: $binary is missing; run scripts/ensure-servers.sh" >&2; exit 2; }
done
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
umask 077
printf '%s' "${MLOPS_GUARD_WEBHOOK_TOKEN:-}" > "$dir/webhook-token"
umask 022

sed -e "s#http://127.0.0.1:9095/alertmanager#$receiver/alertmanager#" \
    -e "s#/etc/mlops-guard/webhook-token#$dir/webhook-token#" \
    deployments/alertmanager/alertmanager.yml > "$dir/alertmanager.yml"
sed -e "s#127.0.0.1:9091#127.0.0.1:$pg_port#" -e "s#127.0.0.1:9093#127.0.0.1:$am_port#" \
    -e "s#rules/\*.rules.yml#$PWD/deployments/prometheus/rules/*.rules.yml#" \
    deployments/prometheus/prometheus.yml > "$dir/prometheus.yml"

prometheus-pushgateway --web.listen-address="127.0.0.1:$pg_port" \
  --persistence.file="$dir/pushgateway.data" > "$dir/pushgateway.log" 2>&1 &
echo $! > "$dir/pushgateway.pid"
prometheus-alertmanager --config.file="$dir/alertmanager.yml" \
  --storage.path="$dir/alertmanager-data" --web.listen-address="127.0.0.1:$am_port" \
  --cluster.listen-address= > "$dir/alertmanager.log" 2>&1 &
echo $! > "$dir/alertmanager.pid"
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prometheus-data" \
  --web.listen-address="127.0.0.1:$prom_port" > "$dir/prometheus.log" 2>&1 &
echo $! > "$dir/prometheus.pid"

wait_ready "http://127.0.0.1:$pg_port/-/ready" pushgateway || { stop; exit 1; }
wait_ready "http://127.0.0.1:$am_port/-/ready" alertmanager || { stop; exit 1; }
wait_ready "http://127.0.0.1:$prom_port/-/ready" prometheus || { stop; exit 1; }
echo "export MLOPS_GUARD_PUSHGATEWAY_URL=http://127.0.0.1:$pg_port"
echo "# Prometheus http://127.0.0.1:$prom_port  Alertmanager http://127.0.0.1:$am_port  (stop: $0 stop $dir)"
