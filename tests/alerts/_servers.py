"""Real Prometheus, Alertmanager and Pushgateway processes on loopback, for integration tests.

The binaries come from Debian's packages (installed by .ci/run). Missing binaries fail the
test when CI=true and skip it (with the reason) elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.alerts._helpers import free_port, wait_for

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"
PUSHGATEWAY = "prometheus-pushgateway"


def require(*names: str) -> dict[str, str]:
    """Paths of the binaries; fail under CI, skip elsewhere, when one is missing."""
    found = {
        name: shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/sbin") for name in names
    }
    missing = [name for name, path in found.items() if path is None]
    if missing:
        reason = (
            f"{', '.join(missing)} not installed (apt-get install prometheus "
            "prometheus-alertmanager prometheus-pushgateway)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return {name: str(path) for name, path in found.items()}


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def run_server(
    binary: str,
    args: Sequence[str],
    port: int,
    workdir: Path,
    ready_path: str = "/-/ready",
    startup_timeout: float = 60,
) -> Iterator[Server]:
    """Start a server, wait until ``ready_path`` answers 200, stop it at the end."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{Path(binary).name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([binary, *args], stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for(
                lambda: process.poll() is not None or _ready(url + ready_path),
                startup_timeout,
                binary,
            )
        except AssertionError:
            raise AssertionError(f"{binary} did not start:\n{log.read_text()[-2000:]}") from None
        if process.poll() is not None:
            raise AssertionError(f"{binary} exited:\n{log.read_text()[-2000:]}")
        yield Server(url, port, process, log)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(20)


@contextmanager
def pushgateway(workdir: Path) -> Iterator[Server]:
    binary = require(PUSHGATEWAY)[PUSHGATEWAY]
    port = free_port()
    args = [
        f"--web.listen-address=127.0.0.1:{port}",
        # Debian's default persists to /var/lib/prometheus: keep each test's groups its own.
        f"--persistence.file={workdir / 'pushgateway.data'}",
    ]
    with run_server(binary, args, port, workdir / "pushgateway") as server:
        yield server


@contextmanager
def prometheus(config: Path, workdir: Path) -> Iterator[Server]:
    binary = require(PROMETHEUS)[PROMETHEUS]
    port = free_port()
    data = workdir / "prometheus-data"
    args = [
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
    ]
    with run_server(binary, args, port, workdir / "prometheus") as server:
        yield server


@contextmanager
def alertmanager(config: Path, workdir: Path) -> Iterator[Server]:
    binary = require(ALERTMANAGER)[ALERTMANAGER]
    port = free_port()
    args = [
        f"--config.file={config}",
        f"--storage.path={workdir / 'alertmanager-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # single node: no gossip port
    ]
    with run_server(binary, args, port, workdir / "alertmanager") as server:
        yield server
