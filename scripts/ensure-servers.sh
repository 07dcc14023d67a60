#!/usr/bin/env bash
# Installs the Debian packages the integration tests and scripts/start-monitoring-stack.sh start
# on loopback (Prometheus, Alertmanager, Pushgateway, with promtool and amtool, and node_exporter
# for the textfile sink), PostgreSQL (the team backends: MLflow's store, the Prefect server, the
# registry's advisory lock) and Chromium (the report's browser test) when they are missing.
# Needs root and apt; otherwise it says what to install and leaves the machine alone (those
# tests then skip, or fail under CI=true).
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v prometheus-pushgateway >/dev/null 2>&1 || need+=(prometheus-pushgateway)
command -v prometheus-node-exporter >/dev/null 2>&1 || need+=(prometheus-node-exporter)
# Debian keeps the server binaries per major version, off the PATH; the tests and scripts/stack
# start throwaway clusters with them (no system cluster is used).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
# The report's test opens the page in a real headless browser.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: install ${need[*]} (Debian packages) to run the alerting and team-backend integration tests" >&2
  exit 0
fi
echo "installing ${need[*]} from Debian's packages" >&2
# Debian starts each package's system service on install, listening on every interface and on
# the ports the stack script uses by default. policy-rc.d is Debian's switch to keep them
# stopped; one already in place is the machine owner's and is left as it is.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
if [ -d /run/systemd/system ]; then
  echo "note: Debian enabled the services of ${need[*]} for the next boot;" \
    "systemctl disable them if only the tests and the stack script should run these servers" >&2
fi
