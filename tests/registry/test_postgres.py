"""The registry on a real PostgreSQL: MLflow's store there, alias moves serialised by an
advisory lock that processes sharing nothing but the database all see."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops_guard.errors import ConfigError
from mlops_guard.registry import RegistrySettings, history, promote
from mlops_guard.registry._lock import advisory_key, alias_lock, lock_backend, lock_database_url
from mlops_guard.settings import GuardSettings

pytestmark = pytest.mark.servers

PROCESSES = 8


@pytest.fixture(scope="module")
def tracking_uri(postgres: Any) -> str:
    """MLflow's tracking and registry store in a database of its own (schema migrated once)."""
    from mlflow import MlflowClient

    uri = postgres.sqlalchemy_url(postgres.create_database("mlflow_registry"))
    MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models()
    return uri


def _model(uri: str, name: str, versions: int, tmp_path: Path) -> list[str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(name)
    return [
        client.create_model_version(name, source=f"{tmp_path}/models/{i}").version
        for i in range(versions)
    ]


def _rollback_worker(
    uri: str, workdir: str, model: str, actor: str, barrier: Any, results: Any
) -> None:
    """One process with its own working directory: only the database is shared."""
    from mlops_guard.errors import GuardError
    from mlops_guard.registry import rollback
    from mlops_guard.registry._lock import lock_backend

    settings = GuardSettings(workdir=Path(workdir), tracking_uri=uri)
    backend = lock_backend(RegistrySettings(), settings)
    barrier.wait(timeout=120)
    try:
        event = rollback(
            model, reason="error rate", actor=actor, expected_champion="3", settings=settings
        )
        results.put((actor, backend, "moved", event.to_version))
    except GuardError as exc:
        results.put((actor, backend, type(exc).__name__, None))


def test_tracking_store_on_postgres_selects_the_advisory_lock(
    tracking_uri: str, tmp_path: Path
) -> None:
    settings = GuardSettings(workdir=tmp_path, tracking_uri=tracking_uri)
    assert lock_backend(RegistrySettings(), settings) == "postgres"
    # libpq takes no SQLAlchemy driver name.
    assert lock_database_url(RegistrySettings(), settings) == tracking_uri.replace(
        "postgresql+psycopg://", "postgresql://"
    )
    sqlite = GuardSettings(workdir=tmp_path)
    assert lock_backend(RegistrySettings(lock_backend="auto"), sqlite) in {"file", "prefect"}
    explicit = RegistrySettings(lock_database_url="postgres://u:pw@db:5432/locks")
    assert lock_backend(explicit, sqlite) == "postgres"
    with pytest.raises(ConfigError, match="must be a PostgreSQL URL"):
        lock_database_url(RegistrySettings(lock_database_url="mysql://db/x"), sqlite)


def test_eight_processes_rolling_back_at_once_make_exactly_one_move(
    tracking_uri: str, tmp_path: Path
) -> None:
    model = "churn_concurrent"
    versions = _model(tracking_uri, model, 3, tmp_path)
    settings = GuardSettings(workdir=tmp_path / "setup", tracking_uri=tracking_uri)
    for version in versions:
        promote(model, version, reason="setup", actor="test", settings=settings)

    # A fork server that imported MLflow once forks the workers: eight fresh interpreters
    # importing it each would cost a minute on two cores. It has opened no database connection
    # (unlike this process), so the workers share nothing but the database.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(
        ["mlops_guard.registry._aliases", "mlflow.store.model_registry.sqlalchemy_store", "psycopg"]
    )
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    workers = [
        ctx.Process(
            target=_rollback_worker,
            args=(tracking_uri, str(tmp_path / f"w{i}"), model, f"p{i}", barrier, results),
        )
        for i in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0

    assert {backend for _, backend, _, _ in outcomes} == {"postgres"}
    moved = [o for o in outcomes if o[2] == "moved"]
    assert len(moved) == 1, outcomes
    assert moved[0][3] == "2"
    assert sorted(o[2] for o in outcomes if o[2] != "moved") == ["AliasConflict"] * 7

    events = history(model, settings=settings)
    assert [(e.action, e.from_version, e.to_version) for e in events] == [
        ("promote", None, "1"),
        ("promote", "1", "2"),
        ("promote", "2", "3"),
        ("rollback", "3", "2"),
    ]
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert events[-1].actor == moved[0][0]


_HOLDER_SEES_WAIT = """
import json, sys
from pathlib import Path
from mlops_guard.errors import RegistryUnavailable
from mlops_guard.registry import RegistrySettings, rollback
from mlops_guard.settings import GuardSettings

settings = GuardSettings(workdir=Path(sys.argv[2]), tracking_uri=sys.argv[1])
try:
    rollback("churn_held", reason="r", actor="other-host", settings=settings)
    print(json.dumps({"outcome": "moved"}))
except RegistryUnavailable as exc:
    print(json.dumps({"outcome": "unavailable", "message": str(exc)}))
"""


def test_a_move_waits_for_the_lock_held_by_another_process(
    tracking_uri: str, tmp_path: Path
) -> None:
    """The lock is the database's: a process with another workdir cannot move while this one
    holds it, and gives up after the lock timeout with nothing moved."""
    model = "churn_held"
    versions = _model(tracking_uri, model, 2, tmp_path)
    settings = GuardSettings(workdir=tmp_path / "holder", tracking_uri=tracking_uri)
    for version in versions:
        promote(model, version, reason="setup", actor="test", settings=settings)

    with alias_lock(model, settings) as backend:
        assert backend == "postgres"
        done = subprocess.run(
            [sys.executable, "-c", _HOLDER_SEES_WAIT, tracking_uri, str(tmp_path / "other")],
            capture_output=True,
            text=True,
            timeout=120,
            env={
                **os.environ,
                "MLOPS_GUARD_REGISTRY_LOCK_TIMEOUT_SECONDS": "1",
            },
            check=False,
        )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "unavailable"
    assert "advisory lock" in result["message"]
    waiting = [
        json.loads(line)
        for line in (tmp_path / "other" / "logs" / "runlog.jsonl").read_text().splitlines()
        if '"registry.lock_waiting"' in line
    ]
    assert waiting
    assert [e.action for e in history(model, settings=settings)] == ["promote", "promote"]
    # Released: the same move now goes through.
    again = subprocess.run(
        [sys.executable, "-c", _HOLDER_SEES_WAIT, tracking_uri, str(tmp_path / "other")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert json.loads(again.stdout.strip().splitlines()[-1]) == {"outcome": "moved"}


def test_advisory_keys_are_stable_and_distinct() -> None:
    # Every process on every host, of any Python version, must derive the same key: a change
    # here would let an upgraded host move aliases beside an old one.
    assert advisory_key("mlops-guard-registry-churn") == -225128132134025790
    assert advisory_key("mlops-guard-registry-a") != advisory_key("mlops-guard-registry-b")
    assert -(2**63) <= advisory_key("x") < 2**63
