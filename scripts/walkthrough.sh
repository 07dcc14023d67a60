#!/usr/bin/env bash
# The README's deploy walkthrough, step by step, on loopback: from nothing to an alert that rolls
# a bad champion back, with nothing pushed by hand. Run from a checkout after `make demo` or
# `make test` created .venv:
#
#   scripts/walkthrough.sh            # runs every step, prints the timing, stops what it started
#   KEEP=1 scripts/walkthrough.sh     # leaves the servers running to look around (stop: see end)
#
# Ports (defaults are the upstream ones): PREFECT_PORT (4200), RECEIVER_PORT (9095), and the
# monitoring stack's PUSHGATEWAY_PORT, ALERTMANAGER_PORT, PROMETHEUS_PORT, NODE_EXPORTER_PORT.
# WALKTHROUGH_DIR (default .mlops-guard/walkthrough) holds everything it writes.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export PATH="$root/.venv/bin:$PATH"
dir="${WALKTHROUGH_DIR:-$root/.mlops-guard/walkthrough}"
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
prefect_port="${PREFECT_PORT:-4200}"
receiver_port="${RECEIVER_PORT:-9095}"
mkdir -p "$dir/logs" "$dir/data"
pids=()

say() { printf '\n== %s\n' "$*" >&2; }
cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    echo "left running; stop with: kill ${pids[*]} && scripts/start-monitoring-stack.sh stop $dir/monitoring" >&2
    return
  fi
  # Newest first (worker, receiver, then the server they talk to); a process that does not
  # stop within 20 s of TERM is killed, so clean-up never hangs.
  local i pid
  for (( i=${#pids[@]}-1; i>=0; i-- )); do
    pid="${pids[$i]}"
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 40); do
      # Gone, or exited and waiting to be reaped (a zombie still answers kill -0).
      case "$(ps -o stat= -p "$pid" 2>/dev/null)" in ""|Z*) break ;; esac
      sleep 0.5
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  scripts/start-monitoring-stack.sh stop "$dir/monitoring" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# A signal ends the script through exit, so the EXIT trap stops what it started.
trap 'exit 130' INT
trap 'exit 143' TERM
wait_http() {  # url what seconds
  for _ in $(seq 1 $(( $3 * 2 ))); do
    if curl -fs -o /dev/null "$1"; then return 0; fi
    sleep 0.5
  done
  echo "error: $2 did not answer at $1 within $3 s (logs in $dir/logs)" >&2
  exit 1
}

say "1. Settings every process shares (the worker runs flows elsewhere: absolute paths)"
export PREFECT_API_URL="http://127.0.0.1:$prefect_port/api"
export PREFECT_HOME="$dir/prefect-home"
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
export MLOPS_GUARD_WORKDIR="$dir/workdir"
export MLOPS_GUARD_WEBHOOK_TOKEN="${MLOPS_GUARD_WEBHOOK_TOKEN:-$(python3 -c 'import secrets; print(secrets.token_hex(16))')}"
echo "PREFECT_API_URL=$PREFECT_API_URL MLOPS_GUARD_WORKDIR=$MLOPS_GUARD_WORKDIR" >&2

say "2. The Prefect server"
prefect server start --host 127.0.0.1 --port "$prefect_port" >"$dir/logs/prefect-server.log" 2>&1 &
pids+=($!)
wait_http "$PREFECT_API_URL/health" "the Prefect server" 180

say "3. Prometheus, Alertmanager, Pushgateway (and node_exporter) with deployments/ configs"
stack="$(RECEIVER_URL="http://127.0.0.1:$receiver_port" \
  scripts/start-monitoring-stack.sh start "$dir/monitoring")"
eval "$stack"
echo "MLOPS_GUARD_PUSHGATEWAY_URL=$MLOPS_GUARD_PUSHGATEWAY_URL" >&2

say "4. The alert receiver (rolls back in-process; Alertmanager sends it the token)"
mlops-guard alerts serve --port "$receiver_port" >"$dir/logs/receiver.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$receiver_port/healthz" "the alert receiver" 60

say "5. The deployments and a worker"
prefect work-pool create mlops-guard --type process >/dev/null 2>&1 || true
prefect --no-prompt deploy --all --prefect-file deployments/prefect.yaml >"$dir/logs/deploy.log"
prefect worker start --pool mlops-guard >"$dir/logs/worker.log" 2>&1 &
pids+=($!)

say "6. Train a champion, then a version on a month whose labels changed"
mlops-guard data make "$dir/data/train.parquet" --rows 6000 --seed 1 >/dev/null
mlops-guard data make "$dir/data/changed.parquet" --rows 6000 --seed 3 --concept-drift 1.0 >/dev/null
prefect deployment run mlops-guard-training/training --watch \
  --param data="$dir/data/train.parquet" >"$dir/logs/train-1.log"
prefect deployment run mlops-guard-training/training --watch \
  --param data="$dir/data/changed.parquet" >"$dir/logs/train-2.log"

say "7. The mistake: promote version 2 by hand"
mlops-guard promote churn 2 --reason "looked fine offline" >&2

say "8. The shipped inference deployment scores a labelled batch; the alert does the rest"
mlops-guard data make "$dir/data/batch.parquet" --rows 2000 --seed 4 >/dev/null
started=$(date +%s.%N)
prefect deployment run mlops-guard-inference/inference --watch \
  --param data="$dir/data/batch.parquet" >"$dir/logs/inference.log"
scored=$(date +%s.%N)
champion() {
  mlops-guard registry history churn --json |
    python3 -c 'import json,sys; e=[x for x in json.load(sys.stdin) if x["alias"]=="champion"]; print(e[-1]["to_version"], e[-1]["action"])'
}
for _ in $(seq 1 240); do
  read -r version action <<<"$(champion)"
  if [ "$action" = rollback ]; then break; fi
  sleep 0.5
done
moved=$(date +%s.%N)
if [ "$action" != rollback ]; then
  echo "error: the champion was not rolled back within 120 s (see $dir/logs)" >&2
  exit 1
fi
mlops-guard registry history churn >&2
python3 - "$started" "$scored" "$moved" "$version" <<'EOF'
import json, sys
started, scored, moved = map(float, sys.argv[1:4])
print(json.dumps({
    "champion": sys.argv[4],
    "batch_to_scored_seconds": round(scored - started, 1),
    "scored_to_rolled_back_seconds": round(moved - scored, 1),
    "batch_to_rolled_back_seconds": round(moved - started, 1),
}))
EOF
