# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv on first use;
# `make test` also creates .venv-airflow (Airflow 3.3 cannot share an environment with Prefect).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
# Exact versions of everything CI tested (pip constraints); `make lock` regenerates it.
LOCK := constraints.txt
TEST_EXTRAS := prefect,dask,plot,postgres,test,torch

export DO_NOT_TRACK = 1
export EVIDENTLY_DISABLE_TELEMETRY = 1
export GX_ANALYTICS_ENABLED = false
export PREFECT_SERVER_ANALYTICS_ENABLED = false
# Prefect's local server migrates a new SQLite database at its first start: 20 s (Prefect's
# default wait) is not enough on a busy 2-core machine.
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

AIRFLOW_VENV ?= .venv-airflow

.PHONY: demo test lint pytest pytest-airflow bench clean lock

# The demo needs only the core and Prefect: no test tools, no PyTorch. uv installs the locked
# set with parallel downloads, several times faster than pip; everything it needs is on PyPI
# (uv does not read pip's configuration, which the test install below relies on for torch).
# No bytecode compiled at install: compiling all ~400 packages took 53 s of a 65 s install
# here, for modules the demo never imports; Python compiles the ones it imports on first use,
# and the start-up timeout above leaves Prefect's local server time for its share.
$(DEMO_STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c $(LOCK) -e ".[prefect]"
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip -c $(LOCK)
	# torch 2.13.0 (CPU) comes from the local wheel on these machines; it is only for the
	# PyTorch example test of the checkpoint monitor.
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[$(TEST_EXTRAS)]"
	touch $(DEMO_STAMP) $(STAMP)

## Re-resolve every dependency (all extras the tests use) in a scratch venv and write the lock.
lock:
	rm -rf $(VENV)-lock
	$(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/python -m pip install --quiet --upgrade pip
	$(VENV)-lock/bin/python -m pip install --quiet uv ".[$(TEST_EXTRAS)]"
	{ echo "# Exact versions CI tests with: pip install -c $(LOCK) ... (regenerate: make lock)."; \
	  $(VENV)-lock/bin/python -m pip freeze --all | grep -v '^mlops-guard\b'; } > $(LOCK)
	rm -rf $(VENV)-lock

## Run the whole guarded-pipeline story on embedded defaults (SQLite MLflow, local Prefect).
demo: $(DEMO_STAMP)
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
	$(BIN)/python benchmarks/dask_profile.py

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) .mlops-guard .pytest_cache .mypy_cache .ruff_cache
