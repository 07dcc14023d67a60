#!/usr/bin/env bash
# Installs the Debian packages the integration tests start on loopback (Prometheus, Alertmanager,
# Pushgateway, with promtool and amtool) when they are missing. Needs root and apt; otherwise it
# says what to install and leaves the machine alone (those tests then skip, or fail under CI=true).
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v prometheus-pushgateway >/dev/null 2>&1 || need+=(prometheus-pushgateway)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: install ${need[*]} (Debian packages) to run the alerting integration tests" >&2
  exit 0
fi
echo "installing ${need[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
