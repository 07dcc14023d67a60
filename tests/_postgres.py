"""A real, throwaway PostgreSQL server on loopback, for the team-backend tests.

The server comes from Debian's ``postgresql`` package (scripts/ensure-postgres.sh installs it,
.ci/run calls that). A missing server fails the test when CI=true and skips it elsewhere.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.alerts._helpers import free_port, wait_for


def bin_dir() -> Path:
    """Debian keeps the server binaries per major version, off the PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        reason = "PostgreSQL not installed (apt-get install postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return Path(found[-1]).parent


def _as_owner(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: run them as Debian's postgres user then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class Postgres:
    """A running cluster; ``url(db)`` is a libpq URL, ``sqlalchemy_url(db)`` one for MLflow."""

    port: int
    directory: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def sqlalchemy_url(self, database: str, driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name


def _run(command: list[str]) -> None:
    done = subprocess.run(_as_owner(command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


@contextmanager
def postgres_server(directory: Path | None = None) -> Iterator[Postgres]:
    """initdb a cluster, start it on a free loopback port, stop and remove it after.

    The cluster lives in a directory of its own under the system temp dir (pytest's are
    private to root, and the server runs as the postgres user when the tests run as root).
    """
    binaries = bin_dir()
    directory = Path(tempfile.mkdtemp(prefix="mlops-guard-pg-", dir=directory))
    data = directory / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
        shutil.chown(data, "postgres")
    _run([str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
    port = free_port()
    log = directory / "postgres.log"
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log)]
    _run([*ctl, "-o", options, "-w", "-t", "120", "start"])
    try:
        yield Postgres(port, directory)
    finally:
        subprocess.run(
            _as_owner([*ctl, "-m", "fast", "-w", "stop"]), capture_output=True, check=False
        )
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def prefect_server_on(postgres: Postgres, directory: Path) -> Iterator[str]:
    """``prefect server start`` with its database in ``postgres`` (a database of its own);
    yields the API URL. A subprocess, as a team runs it, not the in-process test harness."""
    import httpx

    database = postgres.create_database("prefect")
    port = free_port()
    home = directory / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": postgres.sqlalchemy_url(database, "asyncpg"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": "",
    }
    log = directory / "prefect-server.log"
    prefect = str(Path(sys.executable).with_name("prefect"))
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/api"

    def healthy() -> bool:
        try:
            return httpx.get(url + "/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(lambda: process.poll() is not None or healthy(), 240, "prefect server")
        if process.poll() is not None:
            raise AssertionError(f"prefect server exited:\n{log.read_text()[-3000:]}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


@dataclass
class TeamDemo:
    """A finished ``mlops-guard demo --json`` on PostgreSQL-backed MLflow and Prefect."""

    summary: dict[str, Any]
    workdir: Path
    database: str


def run_demo_on(postgres: Postgres, prefect_api: str, workdir: Path) -> TeamDemo:
    """The demo as a user runs it, with one setting per backend pointing at PostgreSQL."""
    database = postgres.create_database("mlflow_demo")
    env = {
        **os.environ,
        "MLOPS_GUARD_TRACKING_URI": postgres.sqlalchemy_url(database),
        "PREFECT_API_URL": prefect_api,
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    cli = str(Path(sys.executable).with_name("mlops-guard"))
    done = subprocess.run(
        [cli, "demo", "--workdir", str(workdir), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return TeamDemo(json.loads(done.stdout), workdir, database)
