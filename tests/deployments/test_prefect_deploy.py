"""`prefect deploy --all` of deployments/prefect.yaml against a real `prefect server start`, and
the alert -> event -> trigger -> worker -> rollback path.

Real everything: the server (SQLite in a temporary PREFECT_HOME, free loopback port), the
process work pool and worker, `mlops-guard alerts serve` in event mode, the MLflow registry.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlops_guard import registry
from mlops_guard.settings import GuardSettings
from tests.alerts._helpers import alert, free_port, payload, wait_for
from tests.alerts._models import MODEL

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOKEN = "deploy-token"


def _prefect_env(home: Path, api: str | None = None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PREFECT_") or key == "PREFECT_SERVER_ANALYTICS_ENABLED"
    }
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_CLI_PROMPT="false",
        DO_NOT_TRACK="1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    if api:
        env["PREFECT_API_URL"] = api
    return env


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def prefect_api(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`prefect server start` on a free port with its own home and SQLite database."""
    home = tmp_path / "prefect-home"
    home.mkdir()
    port = free_port()
    server = _spawn(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        _prefect_env(home),
        tmp_path / "server.log",
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        wait_for(
            lambda: server.poll() is not None or _healthy(f"{api}/health"),
            180,
            "prefect server start",
        )
        assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
        yield api, home
    finally:
        _stop(server)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "prefect"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def _post(api: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.post(f"{api}{path}", json=body or {}, timeout=30)
    response.raise_for_status()
    return response.json()


def test_deploy_all_then_alert_event_runs_the_rollback(
    prefect_api: tuple[str, Path], registered: GuardSettings, tmp_path: Path
) -> None:
    api, home = prefect_api
    env = _prefect_env(home, api)
    _cli("work-pool", "create", "mlops-guard", "--type", "process", env=env)
    _cli("--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml", env=env)

    deployments = {d["name"]: d for d in _post(api, "/deployments/filter")}
    assert set(deployments) >= {
        "training",
        "inference",
        "drift-check",
        "canary",
        "rollback",
        "trace-check",
    }
    (schedule,) = deployments["drift-check"]["schedules"]
    assert schedule["schedule"]["cron"] == "5 * * * *"
    assert schedule["active"] is True
    automations = _post(api, "/automations/filter")
    (automation,) = [a for a in automations if a["name"] == "mlops-guard alert rollback"]
    assert "mlops_guard.alert.rollback" in automation["trigger"]["expect"]
    assert automation["actions"][0]["deployment_id"] == deployments["rollback"]["id"]
    (on_batch,) = [
        a for a in automations if a["name"] == "mlops-guard drift check on a scored batch"
    ]
    assert on_batch["trigger"]["expect"] == ["prefect.flow-run.Completed"]
    assert on_batch["actions"][0]["deployment_id"] == deployments["drift-check"]["id"]

    guard_env = {
        **env,
        "MLOPS_GUARD_WORKDIR": str(registered.workdir),
        "MLOPS_GUARD_WEBHOOK_TOKEN": TOKEN,
        # The worker polls every 10 s by default; 1 s keeps the test short.
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    worker = _spawn(
        [str(BIN / "prefect"), "worker", "start", "--pool", "mlops-guard", "--type", "process"],
        guard_env,
        tmp_path / "worker.log",
    )
    rollback_id = deployments["rollback"]["id"]
    try:
        # 1. Event mode: the receiver emits mlops_guard.alert.rollback; the trigger runs it.
        elapsed = _alert_until_rolled_back(
            {**guard_env, "MLOPS_GUARD_ALERTS_ROLLBACK_MODE": "event"},
            "5eed5eed5eed5eed",
            registered,
            tmp_path / "receiver-event.log",
        )
        runs = wait_for(
            lambda: [r for r in _runs(api, rollback_id) if r["state_type"] == "COMPLETED"],
            60,
            "the triggered flow run to be marked completed",
        )
        assert len(runs) == 1, runs
        assert runs[0]["parameters"]["model"] == MODEL
        assert runs[0]["parameters"]["alert_fingerprint"].startswith("5eed5eed5eed5eed@")
        print(f"\nevent mode: alert -> event -> trigger -> worker -> alias moved: {elapsed:.1f} s")

        # 2. Deployment mode: the receiver runs the deployment itself and waits for the run.
        registry.promote(MODEL, "2", reason="fixed", actor="tests", settings=registered)
        elapsed = _alert_until_rolled_back(
            {**guard_env, "MLOPS_GUARD_ALERTS_ROLLBACK_MODE": "deployment"},
            "d3d3d3d3d3d3d3d3",
            registered,
            tmp_path / "receiver-deployment.log",
            wait_done=True,
        )
        print(f"deployment mode: alert -> run_deployment -> alias moved: {elapsed:.1f} s")
        assert len(_runs(api, rollback_id)) == 2
        # 3. The server's scheduler turned the drift check's cron into scheduled runs.
        drift_id = deployments["drift-check"]["id"]
        try:
            scheduled = wait_for(lambda: _runs(api, drift_id), 60, "scheduled drift-check runs")
        except AssertionError:
            errors = [
                line
                for line in (tmp_path / "server.log").read_text().splitlines()
                if "Error" in line
            ][-3:]
            raise AssertionError(
                "the Prefect scheduler created no drift-check runs; server errors: "
                f"{errors} (SQLAlchemy 2.1 breaks Prefect 3.8.8's scheduler: pin sqlalchemy<2.1)"
            ) from None
        assert {run["state_type"] for run in scheduled} == {"SCHEDULED"}
    finally:
        _stop(worker)
    rollbacks = [e for e in registry.history(MODEL, settings=registered) if e.action == "rollback"]
    assert [(e.from_version, e.to_version) for e in rollbacks] == [("2", "1"), ("2", "1")]
    assert [e.alert_fingerprint.split("@")[0] for e in rollbacks if e.alert_fingerprint] == [
        "5eed5eed5eed5eed",
        "d3d3d3d3d3d3d3d3",
    ]
    assert all(e.actor != "alertmanager" for e in rollbacks)  # moved by flow runs


def _runs(api: str, deployment_id: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = _post(
        api, "/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}}}
    )
    return runs


def _alert_until_rolled_back(
    env: dict[str, str],
    fingerprint: str,
    registered: GuardSettings,
    log: Path,
    *,
    wait_done: bool = False,
) -> float:
    """Start a receiver, POST one alert, wait for the champion to move 2 -> 1; returns seconds."""
    from mlops_guard.alerts import AlertStore

    port = free_port()
    receiver = _spawn([str(BIN / "mlops-guard"), "alerts", "serve", "--port", str(port)], env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(f"{url}/healthz"), 60, "the receiver")
        assert registry.get_champion(MODEL, settings=registered) == "2"
        started = time.monotonic()
        response = httpx.post(
            f"{url}/alertmanager",
            json=payload(alert(fingerprint, model_version="2")),
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 202
        wait_for(
            lambda: registry.get_champion(MODEL, settings=registered) == "1",
            90,
            "the rollback flow run",
        )
        elapsed = time.monotonic() - started
        if wait_done:  # the receiver saw the flow run complete
            with AlertStore(registered.workdir / "alerts" / "inbox.sqlite") as inbox:
                wait_for(
                    lambda: [r.state for r in inbox.list(fingerprint=fingerprint)] == ["done"],
                    30,
                    "the receiver to record the completed run",
                )
                (row,) = inbox.list(fingerprint=fingerprint)
                assert row.result is not None
                assert row.result["state"] == "COMPLETED"
    finally:
        _stop(receiver)
    return elapsed
