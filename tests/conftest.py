"""Fixtures shared by the whole suite: telemetry off, a real Prefect server, a fresh workdir."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Telemetry off before anything imports Prefect, Evidently or Great Expectations (no network here,
# and users expect none from tests).
for _name, _value in {
    "DO_NOT_TRACK": "1",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}.items():
    os.environ.setdefault(_name, _value)
# Keep Prefect's profile and any stray database out of the user's home.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="mlops-guard-prefect-home-"))

from mlops_guard.metrics import GuardMetrics, reset_metrics  # noqa: E402
from mlops_guard.settings import GuardSettings  # noqa: E402


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """A real Prefect server (subprocess, temporary SQLite) for the whole session.

    One harness for the session: its cold start takes tens of seconds on a 2-core machine.
    Yields the API URL.
    """
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield str(PREFECT_API_URL.value())


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL server (Debian's package, throwaway cluster on loopback) for the
    session; tests create their own databases in it (``postgres.create_database``)."""
    from tests._postgres import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def prefect_on_postgres(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``prefect server start`` on its own database in ``postgres``; yields the API URL."""
    from tests._postgres import prefect_server_on

    with prefect_server_on(postgres, tmp_path_factory.mktemp("prefect-pg")) as url:
        yield url


@pytest.fixture(scope="session")
def team_demo(
    postgres: Any, prefect_on_postgres: str, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """One run of the demo on PostgreSQL-backed MLflow and Prefect for the session: the story's
    test checks it, the dashboards' test feeds its exported metrics to Prometheus."""
    from tests._postgres import run_demo_on

    return run_demo_on(postgres, prefect_on_postgres, tmp_path_factory.mktemp("team") / "demo")


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store with its schema migrated once for the session.

    Creating the schema takes several seconds; every test copies this file instead, and still
    talks to a real MLflow store of its own.
    """
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


_MLFLOW_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def _forget_mlflow_uri() -> None:
    for name in _MLFLOW_URI_VARIABLES:
        os.environ.pop(name, None)


# A user script or fixture under test may call mlflow.set_tracking_uri, which exports
# MLFLOW_TRACKING_URI; mlops-guard honours that variable, so a later test (or a session fixture
# built later) would find the store of the one before it. Cleared after every fixture's set-up
# and before every test body; a test that wants the variable sets it in its body.
@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Iterator[None]:
    yield
    _forget_mlflow_uri()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    _forget_mlflow_uri()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_template: Path) -> Path:
    """A fresh working directory (with an empty, migrated MLflow store), set as
    MLOPS_GUARD_WORKDIR for the test."""
    path = tmp_path / "guard"
    path.mkdir()
    shutil.copyfile(mlflow_template, path / "mlflow.db")
    monkeypatch.setenv("MLOPS_GUARD_WORKDIR", str(path))
    # MLflow's set_tracking_uri also exports MLFLOW_TRACKING_URI, which mlops-guard honours:
    # without this, a test would find the store of the test before it.
    for name in ("MLOPS_GUARD_TRACKING_URI", "MLOPS_GUARD_PUSHGATEWAY_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def settings(workdir: Path) -> GuardSettings:
    return GuardSettings(workdir=workdir)


@pytest.fixture
def metrics() -> GuardMetrics:
    """Fresh process-wide metrics, so counters start at zero in every test."""
    return reset_metrics()
