#!/usr/bin/env bash
# Start, stop or check Pushgateway, Alertmanager, Prometheus and node_exporter on loopback with
# the configs in deployments/, each with its own data directory under DIR, for local runs of the
# alerting chain:
#
#   scripts/start-monitoring-stack.sh start  [DIR]   # default DIR: $MLOPS_GUARD_WORKDIR/monitoring
#   scripts/start-monitoring-stack.sh status [DIR]   # exit 0 when everything started is up, 3 if not
#   scripts/start-monitoring-stack.sh stop   [DIR]
#
# Every address below is written into all the generated configs that name it (DIR/prometheus.yml,
# DIR/alertmanager.yml) and into the command lines, so they cannot disagree:
#   PUSHGATEWAY_PORT (9091), ALERTMANAGER_PORT (9093), PROMETHEUS_PORT (9090),
#   NODE_EXPORTER_PORT (9100): node_exporter serves <workdir>/metrics/*.prom (the textfile sink);
#     without its binary the node job is dropped from the config instead of left always down.
#   RECEIVER_URL (http://127.0.0.1:9095): where Alertmanager posts (RECEIVER_URL/alertmanager)
#     and what Prometheus scrapes (RECEIVER_URL/metrics); the receiver is not started here.
#   GUARDED_TARGETS (the file's 127.0.0.1:9108): host:port list, comma or space separated, of
#     long-running guarded processes serving /metrics; empty drops that job.
#   SERVING_TARGETS (empty): host:port list of scoring servers (`mlops-guard serve`); empty
#     drops the serving job, so no ServingDown pages about a server that was never started.
#   SCRAPE_INTERVAL, EVALUATION_INTERVAL (the file's 15s; EVALUATION_INTERVAL defaults to
#     SCRAPE_INTERVAL when only that is set): 1s makes a local demo react at once.
#   MLOPS_GUARD_WORKDIR (.mlops-guard): the workdir whose metrics/ node_exporter reads.
#   MLOPS_GUARD_WEBHOOK_TOKEN: the receiver's token, written to DIR/webhook-token (mode 600).
# Relative paths are taken from the directory the script is called from. On success, stdout holds
# only `export` lines and comments, so `eval "$(scripts/start-monitoring-stack.sh start)"` works.
# Everything listens on 127.0.0.1 only. Stops only the processes whose pids it wrote to DIR.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
action="${1:-start}"

absolute() {  # path -> the same path from / (it need not exist yet)
  case "$1" in
    /*) printf '%s' "$1" ;;
    *) printf '%s/%s' "$PWD" "$1" ;;
  esac
}

workdir="$(absolute "${MLOPS_GUARD_WORKDIR:-.mlops-guard}")"
dir="$(absolute "${2:-$workdir/monitoring}")"
pg_port="${PUSHGATEWAY_PORT:-9091}"
am_port="${ALERTMANAGER_PORT:-9093}"
prom_port="${PROMETHEUS_PORT:-9090}"
node_port="${NODE_EXPORTER_PORT:-9100}"
receiver="${RECEIVER_URL:-http://127.0.0.1:9095}"
receiver="${receiver%/}"
scrape_interval="${SCRAPE_INTERVAL:-}"
evaluation_interval="${EVALUATION_INTERVAL:-$scrape_interval}"
# Prometheus first, so that it never scrapes a target this script has already stopped.
names=(prometheus alertmanager pushgateway node-exporter)

running_pid() {  # name -> the pid in DIR/name.pid, when that process is alive and is that server
  local file="$dir/$1.pid" pid comm state
  [ -f "$file" ] || return 1
  pid="$(cat "$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  # A pid file outlives a reboot and its pid may since belong to another program: check the name
  # (ps truncates it to 15 characters).
  comm="$(ps -p "$pid" -o comm= 2>/dev/null)" || return 1
  case "$1:$comm" in
    prometheus:prometheus | alertmanager:prometheus-aler* | pushgateway:prometheus-push*) ;;
    node-exporter:prometheus-node* | node-exporter:node_exporter) ;;
    *) return 1 ;;
  esac
  # Our servers outlive this script and are reparented; a parent that does not reap leaves a
  # stopped server as a zombie, which is gone for every purpose here.
  state="$(ps -p "$pid" -o stat= 2>/dev/null)" || return 1
  [[ "$state" != Z* ]] || return 1
  printf '%s' "$pid"
}

stop_all() {
  local name pid
  for name in "${names[@]}"; do
    if pid="$(running_pid "$name")"; then
      kill "$pid" 2>/dev/null || true
      # Prometheus flushes its head block on SIGTERM: give it time before SIGKILL.
      for _ in $(seq 1 200); do
        running_pid "$name" >/dev/null || break
        sleep 0.1
      done
      if running_pid "$name" >/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
      echo "stopped $name (pid $pid)" >&2
    fi
    rm -f "$dir/$name.pid"
  done
}

find_python() {  # a Python that has PyYAML: the project's venv (made by make), else python3
  local candidate path
  for candidate in "$root/.venv/bin/python" python3; do
    path="$(command -v "$candidate" 2>/dev/null)" || continue
    if "$path" -c 'import yaml' 2>/dev/null; then
      printf '%s' "$path"
      return 0
    fi
  done
  echo "error: writing the configs needs Python with PyYAML: run make (it creates .venv)," \
    "or apt-get install python3-yaml" >&2
  return 1
}

probe() {  # url -> 0 when it answers 200 within a second
  "$py" -c '
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=1) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError:
    sys.exit(1)
' "$1"
}

status() {
  local name pid url all_up=0
  for name in "${names[@]}"; do
    if [ ! -f "$dir/$name.url" ]; then
      printf '%-14s %s\n' "$name" "not started"
      continue
    fi
    url="$(cat "$dir/$name.url")"
    if ! pid="$(running_pid "$name")"; then
      printf '%-14s %-5s %s\n' "$name" "down" "$url"
      all_up=3
    elif probe "$url"; then
      printf '%-14s %-5s %s (pid %s)\n' "$name" "up" "$url" "$pid"
    else
      printf '%-14s %-5s %s (pid %s runs but does not answer; see %s)\n' \
        "$name" "down" "$url" "$pid" "$dir/$name.log"
      all_up=3
    fi
  done
  # Not started here, so it does not count towards the exit status, but a receiver that is down
  # is the first thing to know about when no rollback happens.
  if [ -f "$dir/receiver.url" ]; then
    url="$(cat "$dir/receiver.url")"
    if probe "$url/healthz"; then
      printf '%-14s %-5s %s (mlops-guard alerts serve; not started by this script)\n' \
        receiver up "$url"
    else
      printf '%-14s %-5s %s (mlops-guard alerts serve; not started by this script)\n' \
        receiver down "$url"
    fi
  fi
  return "$all_up"
}

case "$action" in
  stop)
    stop_all
    exit 0
    ;;
  status)
    [ -d "$dir" ] || { echo "nothing was started in $dir" >&2; exit 3; }
    py="$(find_python)" || exit 2
    status
    exit $?
    ;;
  start) ;;
  *)
    echo "usage: $0 start|stop|status [DIR]" >&2
    exit 2
    ;;
esac

for name in "${names[@]}"; do
  if pid="$(running_pid "$name")"; then
    echo "error: $name already runs from $dir (pid $pid); run: $0 stop $dir" >&2
    exit 1
  fi
done
for binary in prometheus prometheus-alertmanager prometheus-pushgateway; do
  command -v "$binary" >/dev/null 2>&1 || {
    echo "error: $binary is missing; run scripts/ensure-servers.sh" >&2
    exit 2
  }
done
node_bin="$(command -v prometheus-node-exporter 2>/dev/null || command -v node_exporter 2>/dev/null)" \
  || node_bin=""
if [ -z "$node_bin" ]; then
  echo "note: prometheus-node-exporter is missing (scripts/ensure-servers.sh installs it):" \
    "the node job is left out of $dir/prometheus.yml and textfile metrics" \
    "($workdir/metrics/*.prom) do not reach Prometheus; push to the Pushgateway instead" >&2
  node_port=""
fi
py="$(find_python)" || exit 2

ports=("$pg_port" "$am_port" "$prom_port")
[ -z "$node_port" ] || ports+=("$node_port")
for port in "${ports[@]}"; do
  if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    echo "error: port '$port' is not a number from 1 to 65535" >&2
    exit 2
  fi
done

mkdir -p "$dir" "$workdir/metrics"
rm -f "$dir"/*.url
umask 077
printf '%s' "${MLOPS_GUARD_WEBHOOK_TOKEN:-}" > "$dir/webhook-token"
umask 022

# Alertmanager's config keeps its comments and whatever routes it has; only the receiver URL and
# the token file change. Escape what sed's replacement would read as special.
sed_escape() { printf '%s' "$1" | sed -e 's/[\\#&]/\\&/g'; }
sed -e "s#http://127.0.0.1:9095/alertmanager#$(sed_escape "$receiver")/alertmanager#" \
  -e "s#/etc/mlops-guard/webhook-token#$(sed_escape "$dir")/webhook-token#" \
  "$root/deployments/alertmanager/alertmanager.yml" > "$dir/alertmanager.yml"
if ! grep -qF "url: $receiver/alertmanager" "$dir/alertmanager.yml" \
  || ! grep -qF "credentials_file: $dir/webhook-token" "$dir/alertmanager.yml"; then
  echo "error: deployments/alertmanager/alertmanager.yml no longer has the receiver URL" \
    "http://127.0.0.1:9095/alertmanager and the token file /etc/mlops-guard/webhook-token" \
    "that this script rewrites; update the script" >&2
  exit 2
fi

# Prometheus's config is rewritten by job name, so a target cannot be missed because its line
# changed; a job this script does not know passes through as it is. Prints the receiver's
# "host port" for the checks and messages below.
receiver_address="$(
  STACK_SOURCE="$root/deployments/prometheus/prometheus.yml" STACK_TARGET="$dir/prometheus.yml" \
    STACK_PUSHGATEWAY="127.0.0.1:$pg_port" STACK_ALERTMANAGER="127.0.0.1:$am_port" \
    STACK_NODE="${node_port:+127.0.0.1:$node_port}" STACK_RECEIVER="$receiver" \
    STACK_GUARDED="${GUARDED_TARGETS-keep}" STACK_SERVING="${SERVING_TARGETS:-}" \
    STACK_SCRAPE="$scrape_interval" \
    STACK_EVALUATION="$evaluation_interval" "$py" - <<'PY'
import os
import re
import sys
import urllib.parse

import yaml

env = os.environ
source = env["STACK_SOURCE"]
with open(source, encoding="utf-8") as stream:
    config = yaml.safe_load(stream)


def fail(message):
    sys.exit(f"error: {message} (in {source}); update scripts/start-monitoring-stack.sh")


settings = config.setdefault("global", {})
if env["STACK_SCRAPE"]:
    settings["scrape_interval"] = env["STACK_SCRAPE"]
if env["STACK_EVALUATION"]:
    settings["evaluation_interval"] = env["STACK_EVALUATION"]

# Rule globs are relative to the source config, which the generated one no longer sits beside.
base = os.path.dirname(os.path.abspath(source))
config["rule_files"] = [os.path.join(base, path) for path in config.get("rule_files") or []]

alertmanagers = (config.get("alerting") or {}).get("alertmanagers") or []
if len(alertmanagers) != 1:
    fail("expected one alerting.alertmanagers entry")
alertmanagers[0]["static_configs"] = [{"targets": [env["STACK_ALERTMANAGER"]]}]

jobs = {job["job_name"]: job for job in config.get("scrape_configs") or []}
for name in ("pushgateway", "mlops_guard_receiver", "mlops_guard_serving", "mlops_guard", "node"):
    if name not in jobs:
        fail(f"no scrape job {name}")
dropped = set()


def targets(name, addresses):
    if addresses:
        jobs[name]["static_configs"] = [{"targets": addresses}]
    else:
        dropped.add(name)


targets("pushgateway", [env["STACK_PUSHGATEWAY"]])
targets("node", [env["STACK_NODE"]] if env["STACK_NODE"] else [])
targets("mlops_guard_serving", [t for t in re.split(r"[\s,]+", env["STACK_SERVING"]) if t])
if env["STACK_GUARDED"] != "keep":
    targets("mlops_guard", [t for t in re.split(r"[\s,]+", env["STACK_GUARDED"]) if t])

url = urllib.parse.urlsplit(env["STACK_RECEIVER"])
try:
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
except ValueError:
    port = None
if url.scheme not in ("http", "https") or not url.hostname or port is None:
    sys.exit(f"error: RECEIVER_URL={env['STACK_RECEIVER']!r} is not an http(s)://host:port URL")
host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
receiver = jobs["mlops_guard_receiver"]
receiver["scheme"] = url.scheme
receiver["metrics_path"] = url.path.rstrip("/") + "/metrics"
targets("mlops_guard_receiver", [f"{host}:{port}"])

config["scrape_configs"] = [job for job in config["scrape_configs"] if job["job_name"] not in dropped]
with open(env["STACK_TARGET"], "w", encoding="utf-8") as stream:
    stream.write(f"# Written by scripts/start-monitoring-stack.sh from {source}.\n")
    yaml.safe_dump(config, stream, sort_keys=False)
print(url.hostname, port)
PY
)" || exit 2
read -r receiver_host receiver_port <<< "$receiver_address"
echo "$receiver" > "$dir/receiver.url"

case "$receiver_host" in
  127.* | localhost | ::1) ports+=("$receiver_port") ;;
esac
if [ "$(printf '%s\n' "${ports[@]}" | sort | uniq -d)" ]; then
  echo "error: two of the stack's ports are the same (${ports[*]}, the last one the receiver's)" >&2
  exit 2
fi
for port in "$pg_port" "$am_port" "$prom_port" ${node_port:+"$node_port"}; do
  # Connecting is the check: another Prometheus (such as Debian's service) already on the port
  # would answer the readiness checks below in place of ours.
  if (: <> "/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "error: 127.0.0.1:$port is already in use; choose other ports (see the top of $0)" >&2
    exit 1
  fi
done

promtool="$(dirname "$(command -v prometheus)")/promtool"
if [ -x "$promtool" ] && ! "$promtool" check config "$dir/prometheus.yml" > "$dir/promtool.log" 2>&1; then
  echo "error: the generated $dir/prometheus.yml is invalid:" >&2
  cat "$dir/promtool.log" >&2
  exit 2
fi

start() {  # name url-to-wait-for command...
  local name="$1" url="$2"
  shift 2
  "$@" < /dev/null > "$dir/$name.log" 2>&1 &
  echo $! > "$dir/$name.pid"
  echo "$url" > "$dir/$name.url"
  waits+=("$name=$!=$dir/$name.log=$url")
}
waits=()
start pushgateway "http://127.0.0.1:$pg_port/-/ready" \
  prometheus-pushgateway --web.listen-address="127.0.0.1:$pg_port" \
  --persistence.file="$dir/pushgateway.data"
start alertmanager "http://127.0.0.1:$am_port/-/ready" \
  prometheus-alertmanager --config.file="$dir/alertmanager.yml" \
  --storage.path="$dir/alertmanager-data" --web.listen-address="127.0.0.1:$am_port" \
  --cluster.listen-address=
if [ -n "$node_port" ]; then
  # Only the textfile collector: the host's own metrics are not this stack's business, and the
  # default collectors would make every scrape slower.
  start node-exporter "http://127.0.0.1:$node_port/metrics" \
    "$node_bin" --web.listen-address="127.0.0.1:$node_port" --collector.disable-defaults \
    --collector.textfile --collector.textfile.directory="$workdir/metrics"
fi
start prometheus "http://127.0.0.1:$prom_port/-/ready" \
  prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prometheus-data" \
  --web.listen-address="127.0.0.1:$prom_port"

if ! "$py" - "${waits[@]}" <<'PY'; then
import os
import sys
import time
import urllib.request

pending = [argument.split("=", 3) for argument in sys.argv[1:]]
deadline = time.monotonic() + 60


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def ready(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


while pending:
    for item in list(pending):
        name, pid, log, url = item
        if ready(url):
            pending.remove(item)
        elif not alive(pid) or time.monotonic() > deadline:
            with open(log, encoding="utf-8", errors="replace") as stream:
                tail = "".join(stream.readlines()[-15:])
            how = "exited" if not alive(pid) else "did not answer within 60 s"
            sys.exit(f"error: {name} {how} ({url}); last lines of {log}:\n{tail}")
    if pending:
        time.sleep(0.1)  # polling interval of the deadline loop
PY
  stop_all
  exit 1
fi

printf 'export MLOPS_GUARD_WORKDIR=%q\n' "$workdir"
printf 'export MLOPS_GUARD_PUSHGATEWAY_URL=%q\n' "http://127.0.0.1:$pg_port"
case "$receiver_host" in
  127.* | localhost | ::1)
    printf 'export MLOPS_GUARD_ALERTS_PORT=%q\n' "$receiver_port"
    [ "$receiver_host" = 127.0.0.1 ] || printf 'export MLOPS_GUARD_ALERTS_HOST=%q\n' "$receiver_host"
    ;;
esac
echo "# Prometheus    http://127.0.0.1:$prom_port"
echo "# Alertmanager  http://127.0.0.1:$am_port"
echo "# Pushgateway   http://127.0.0.1:$pg_port"
if [ -n "$node_port" ]; then
  echo "# node_exporter http://127.0.0.1:$node_port/metrics serves $workdir/metrics/*.prom," \
    "which flows write when MLOPS_GUARD_PUSHGATEWAY_URL is unset"
fi
echo "# receiver      $receiver (not started here: MLOPS_GUARD_WEBHOOK_TOKEN=... mlops-guard alerts serve)"
echo "# status: $0 status $dir    stop: $0 stop $dir"
