"""One Airflow 3.3 home for the session: SQLite metadata database (``airflow db migrate``), the
example DAGs of deployments/airflow plus the test DAGs in dags/, and, for the receiver's
``airflow`` mode, a real API server, scheduler (LocalExecutor) and DAG processor on loopback.

Airflow reads its configuration when first imported, so the environment is set here, at
collection, before any test imports Airflow. These tests run in the Airflow environment
(``make pytest-airflow``), never in the Prefect one.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
HOME = Path(tempfile.mkdtemp(prefix="mlops-guard-airflow-home-"))
DAGS = HOME / "dags"
#: Where the DAG runs of the API-server test keep their run log, metrics and MLflow store:
#: the scheduler's task processes read MLOPS_GUARD_WORKDIR from the environment they start in.
SERVICE_WORKDIR = HOME / "guard"
USER, PASSWORD = "admin", "airflow-test-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PORT = _free_port()
API_URL = f"http://127.0.0.1:{PORT}"

DAGS.mkdir(parents=True)
for source in [
    *(ROOT / "deployments" / "airflow").glob("*.py"),
    *Path(__file__).parent.joinpath("dags").glob("*.py"),
]:
    shutil.copy2(source, DAGS / source.name)
(HOME / "passwords.json").write_text(json.dumps({USER: PASSWORD}))

os.environ.update(
    {
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{API_URL}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(HOME / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(PORT),
        "AIRFLOW__API__BASE_URL": API_URL,
        # Every process signs and checks the same tokens (each would otherwise make its own).
        "AIRFLOW__API_AUTH__JWT_SECRET": "mlops-guard-airflow-tests-jwt-secret-0123456789",
        "AIRFLOW__API__SECRET_KEY": "mlops-guard-airflow-tests-secret-key",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
)

_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> Iterator[Path]:
    """The session's Airflow home, its metadata database migrated once (about 10 s); removed
    at the end of the session."""
    subprocess.run(
        [str(_BIN / "airflow"), "db", "migrate"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    yield HOME
    shutil.rmtree(HOME, ignore_errors=True)


@pytest.fixture
def guard_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh mlops-guard working directory for the tasks that run in this process."""
    workdir = tmp_path / "guard"
    monkeypatch.setenv("MLOPS_GUARD_WORKDIR", str(workdir))
    return workdir


@pytest.fixture(scope="session")
def registry_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real MLflow registry (SQLite) with versions 1 and 2 of a small model, 2 the champion."""
    from tests.alerts._models import build_registry

    workdir = tmp_path_factory.mktemp("airflow-registry")
    build_registry(workdir)
    return workdir


@dataclass(frozen=True)
class AirflowServices:
    url: str
    workdir: Path


def _token() -> str:
    import httpx

    answer = httpx.post(
        f"{API_URL}/auth/token", json={"username": USER, "password": PASSWORD}, timeout=10
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def _ready(dag_id: str) -> bool:
    import httpx

    try:
        answer = httpx.get(
            f"{API_URL}/api/v2/dags/{dag_id}",
            headers={"Authorization": f"Bearer {_token()}"},
            timeout=5,
        )
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


@pytest.fixture(scope="session")
def airflow_services(airflow_db: Path) -> Iterator[AirflowServices]:
    """``airflow api-server``, ``scheduler`` and ``dag-processor`` for the session (the
    lightest set that really runs a triggered DAG run: the scheduler's LocalExecutor starts the
    task, which talks to the API server's execution API). Yields once the rollback DAG is
    parsed and served; stops the three processes it started."""
    SERVICE_WORKDIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MLOPS_GUARD_WORKDIR": str(SERVICE_WORKDIR)}
    env.pop("MLFLOW_TRACKING_URI", None)
    logs = HOME / "service-logs"
    logs.mkdir(exist_ok=True)
    commands = {
        "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(PORT), "--workers", "1"],
        "scheduler": ["scheduler"],
        "dag-processor": ["dag-processor"],
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, args in commands.items():
            with (logs / f"{name}.log").open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [str(_BIN / "airflow"), *args],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                )
        deadline = time.monotonic() + 240
        while not _ready("mlops_guard_rollback"):
            dead = [p.args for p in procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                tails = {f.name: f.read_text(errors="replace")[-2000:] for f in logs.glob("*.log")}
                raise AssertionError(f"Airflow services not ready (exited: {dead}): {tails}")
            time.sleep(1)
        yield AirflowServices(API_URL, SERVICE_WORKDIR)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
