"""Every command that needs MLflow or Prefect's API says so within seconds when it is down:
exit 3, one line naming the service and its address, the JSON error document with --json."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlops_guard.cli import _unavailable, main
from mlops_guard.data import write_table
from mlops_guard.demo import LABEL, make_dataset
from mlops_guard.errors import ModelNotFound, RegistryUnavailable, ServiceUnavailable
from mlops_guard.pipelines._mlflow import resolve_alias
from mlops_guard.settings import GuardSettings

# The bound the commands must keep on a refused connection (a subprocess that runs longer
# fails the test with TimeoutExpired): seconds, not MLflow's minutes of retries.
BOUND_SECONDS = 30


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel completes the handshake) but never answers:
    a hung server, not a refused one."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_table(make_dataset(rows=200, seed=1), tmp_path / "batch.csv")


def _commands(data: Path, model_dir: Path) -> dict[str, list[str]]:
    return {
        "train": ["train", str(data), "--json"],
        "score": ["score", str(data), "--json"],
        "quality": ["quality", "churn", str(data), "--json"],
        "register": [
            "register",
            str(model_dir),
            "--name",
            "m",
            "--label",
            LABEL,
            "--task",
            "binary",
            "--json",
        ],
        "registry history": ["registry", "history", "churn", "--json"],
        "promote": ["promote", "churn", "1"],
        "rollback": ["rollback", "churn", "--json"],
        "canary run": ["canary", "run", "churn", str(data), "--json"],
    }


COMMANDS = [
    "train",
    "score",
    "quality",
    "register",
    "registry history",
    "promote",
    "rollback",
    "canary run",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_mlflow_on_a_closed_port_exits_3_naming_it(
    command: str, data: Path, tmp_path: Path, workdir: Path
) -> None:
    uri = f"http://127.0.0.1:{_closed_port()}"
    argv = _commands(data, tmp_path / "model")[command]
    env = {**os.environ, "MLOPS_GUARD_TRACKING_URI": uri, "MLOPS_GUARD_WORKDIR": str(workdir)}
    done = subprocess.run(
        [sys.executable, "-m", "mlops_guard.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=BOUND_SECONDS,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"mlops-guard: error: MLflow at {uri}")
    assert "nothing was changed" in lines[0]
    if "--json" in argv:
        error = json.loads(done.stdout)["error"]
        assert error["kind"] == "ServiceUnavailable"
        assert uri in error["message"]
    else:
        assert done.stdout == ""


def test_a_silent_mlflow_times_out_after_the_named_timeout(
    silent_port: int,
    data: Path,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLOPS_GUARD_TRACKING_URI", f"http://127.0.0.1:{silent_port}")
    monkeypatch.setenv("MLOPS_GUARD_PREFLIGHT_TIMEOUT_SECONDS", "0.5")
    assert main(["score", str(data)]) == 3
    err = capsys.readouterr().err
    assert f"MLflow at http://127.0.0.1:{silent_port} did not answer within 0.5 s" in err


def test_prefect_api_on_a_closed_port_exits_3_naming_it(
    data: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = f"http://127.0.0.1:{_closed_port()}/api"
    monkeypatch.setenv("PREFECT_API_URL", api)
    assert main(["score", str(data), "--json"]) == 3
    captured = capsys.readouterr()
    assert f"Prefect's API at {api} did not answer" in captured.err
    assert json.loads(captured.out)["error"]["kind"] == "ServiceUnavailable"


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_a_preflight_timeout_that_cannot_work_is_exit_2(
    value: str,
    data: Path,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLOPS_GUARD_TRACKING_URI", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("MLOPS_GUARD_PREFLIGHT_TIMEOUT_SECONDS", value)
    assert main(["score", str(data)]) == 2
    assert "MLOPS_GUARD_PREFLIGHT_TIMEOUT_SECONDS" in capsys.readouterr().err


def test_an_outage_is_never_reported_as_a_missing_champion(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library path too: no preflight there, the registry client's bounded retries."""
    monkeypatch.setenv("MLOPS_GUARD_REGISTRY_BACKOFF_SECONDS", "0.01")
    down = GuardSettings(workdir=workdir, tracking_uri=f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(RegistryUnavailable):
        resolve_alias(down, "churn", "champion")
    # The same call against a store that answers: the model is missing, and says so.
    with pytest.raises(ModelNotFound):
        resolve_alias(GuardSettings(workdir=workdir), "churn", "champion")


def test_a_connection_error_from_deep_inside_a_library_is_exit_3() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:4200/api/flows?token=secret")
    try:
        try:
            raise httpx.ConnectError("refused", request=request)
        except httpx.ConnectError as inner:
            raise RuntimeError("the flow could not start") from inner
    except RuntimeError as outer:
        found = _unavailable(outer)
    assert isinstance(found, ServiceUnavailable)
    assert found.exit_code == 3
    assert "http://127.0.0.1:4200/api/flows" in found.message
    assert "secret" not in found.message
    assert _unavailable(ValueError("a bug")) is None
