#!/usr/bin/env bash
# Creates .venv-airflow: mlops-guard with Apache Airflow 3.3 and the test tools, without Prefect
# (Airflow 3.3 and Prefect 3.8 cannot share an environment: their fastapi pins do not overlap).
# Idempotent: reinstalls only when pyproject.toml is newer than the stamp.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${AIRFLOW_VENV:-.venv-airflow}"
STAMP="$VENV/.installed"
if [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ]; then
  exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[airflow,test]"
if "$VENV/bin/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('prefect') is None)"; then
  echo "error: $VENV contains Prefect; the Airflow environment must not (remove $VENV and rerun)" >&2
  exit 1
fi
touch "$STAMP"
