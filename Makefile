# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv on first use;
# `make test` also creates .venv-airflow (Airflow 3.3 cannot share an environment with Prefect).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DO_NOT_TRACK = 1
export EVIDENTLY_DISABLE_TELEMETRY = 1
export GX_ANALYTICS_ENABLED = false
export PREFECT_SERVER_ANALYTICS_ENABLED = false

AIRFLOW_VENV ?= .venv-airflow

.PHONY: demo test lint pytest pytest-airflow bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch 2.13.0 (CPU) comes from the local wheel on these machines; it is only for the
	# PyTorch example test of the checkpoint monitor.
	$(BIN)/python -m pip install --quiet -e ".[prefect,dask,test,torch]"
	touch $(STAMP)

## Run the whole guarded-pipeline story on embedded defaults (SQLite MLflow, local Prefect).
demo: $(STAMP)
	$(BIN)/mlops-guard demo

## Lint, type-check and run the test suite (installs Debian's Prometheus stack when missing).
test: lint pytest pytest-airflow

lint: $(STAMP)
	$(BIN)/ruff check mlops_guard tests benchmarks flows examples deployments
	$(BIN)/ruff format --check mlops_guard tests benchmarks flows examples deployments
	$(BIN)/mypy --strict mlops_guard

pytest: $(STAMP)
	./scripts/ensure-servers.sh
	$(BIN)/python -m pytest -q

## The Airflow integration's tests, in their own environment (no Prefect there).
pytest-airflow:
	AIRFLOW_VENV=$(AIRFLOW_VENV) PYTHON=$(PYTHON) ./scripts/airflow-env.sh
	$(AIRFLOW_VENV)/bin/python -m pytest -q tests/integrations/airflow tests/test_orchestrator_free.py

## Benchmarks (not part of the test suite): ratios against the tools users would otherwise run.
bench: $(STAMP)
	$(BIN)/python benchmarks/guard_overhead.py
	$(BIN)/python benchmarks/validate_vs_gx.py
	$(BIN)/python benchmarks/drift_vs_evidently.py
	$(BIN)/python benchmarks/rollback_latency.py
	$(BIN)/python benchmarks/receiver_latency.py
	$(BIN)/python benchmarks/monitor_step_overhead.py
	$(BIN)/python benchmarks/traces_check.py
	$(BIN)/python benchmarks/traces_zmq.py
	$(BIN)/python benchmarks/score_vs_pyfunc.py
	$(BIN)/python benchmarks/serve_vs_mlflow.py

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) .mlops-guard .pytest_cache .mypy_cache .ruff_cache
