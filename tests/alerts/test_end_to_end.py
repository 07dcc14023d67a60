"""The receiver against the real MLflow registry (SQLite): rollback once, never twice.

Everything here is real: uvicorn on loopback, the SQLite inbox, mlops_guard.registry on an
MLflow SQLite store. The MLflow outage is a real one: a tracking URI on a loopback port where
nothing listens.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from mlops_guard import registry
from mlops_guard.alerts import AlertsSettings, AlertStore, create_app, incident_key
from mlops_guard.metrics import GuardMetrics
from mlops_guard.settings import GuardSettings
from tests.alerts._helpers import alert, free_port, live_server, payload, wait_for
from tests.alerts._models import MODEL

pytestmark = pytest.mark.slow  # the session's registry template takes ~20 s to build here

TOKEN = "e2e-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _alerts_settings(workdir: Path, **overrides: object) -> AlertsSettings:
    values: dict[str, object] = {
        "store": workdir / "alerts" / "inbox.sqlite",
        "backoff_initial_seconds": 0.05,
        "backoff_max_seconds": 0.2,
        "max_attempts": 3,
    }
    values.update(overrides)
    return AlertsSettings(**values)  # type: ignore[arg-type]


def _rollbacks(settings: GuardSettings) -> list[registry.AliasEvent]:
    return [e for e in registry.history(MODEL, settings=settings) if e.action == "rollback"]


def test_thousand_deliveries_roll_back_exactly_once(
    registered: GuardSettings, metrics: GuardMetrics
) -> None:
    guard = registered.model_copy(update={"webhook_token": SecretStr(TOKEN)})
    app = create_app(
        guard_settings=guard, settings=_alerts_settings(guard.workdir), metrics=metrics
    )
    body = json.dumps(payload(alert(model_version="2")))
    with live_server(app) as url, httpx.Client(base_url=url, headers=AUTH) as client:

        def deliver(_: int) -> int:
            return client.post("/alertmanager", content=body).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            codes = list(pool.map(deliver, range(1000)))
        store: AlertStore = app.state.store
        wait_for(lambda: store.counts() == {"done": 1}, 60, "the rollback")
        (row,) = store.list()
    assert set(codes) == {202}
    assert registry.get_champion(MODEL, settings=guard) == "1"
    (event,) = _rollbacks(guard)
    assert (event.from_version, event.to_version) == ("2", "1")
    assert event.alert_fingerprint == incident_key(row)
    assert event.alert_fingerprint.startswith("0a1b2c3d4e5f6071@")
    assert event.actor == "alertmanager"
    assert "ModelErrorRateHigh" in event.reason
    assert row.result is not None
    assert row.result["to_version"] == "1"


def test_alert_about_a_version_no_longer_champion_is_skipped(
    registered: GuardSettings, metrics: GuardMetrics
) -> None:
    app = create_app(
        guard_settings=registered, settings=_alerts_settings(registered.workdir), metrics=metrics
    )
    with live_server(app) as url:
        response = httpx.post(f"{url}/alertmanager", json=payload(alert(model_version="1")))
        assert response.status_code == 202
        store: AlertStore = app.state.store
        wait_for(lambda: store.counts() == {"skipped": 1}, 60, "the stale alert")
        (row,) = store.list()
    assert registry.get_champion(MODEL, settings=registered) == "2"
    assert _rollbacks(registered) == []
    assert "moved" in (row.note or "")


def test_mlflow_unreachable_leaves_pending_then_failed_alias_untouched(
    registered: GuardSettings, metrics: GuardMetrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_GUARD_REGISTRY_ATTEMPTS", "1")
    down = registered.model_copy(update={"tracking_uri": f"http://127.0.0.1:{free_port()}"})
    settings = _alerts_settings(registered.workdir, backoff_initial_seconds=0.5)
    app = create_app(guard_settings=down, settings=settings, metrics=metrics)
    with live_server(app) as url:
        assert httpx.post(f"{url}/alertmanager", json=payload()).status_code == 202
        store: AlertStore = app.state.store
        pending = wait_for(
            lambda: [r for r in store.list(state="pending") if r.attempts >= 1],
            30,
            "a failed first attempt",
        )
        assert "RegistryUnavailable" in (pending[0].last_error or "")
        wait_for(lambda: store.counts() == {"failed": 1}, 60, "the alert to be given up")
        (row,) = store.list()
    assert row.attempts == 3
    labels = {"action": "rollback", "outcome": "failed"}
    assert metrics.sample("mlops_guard_alert_actions_total", labels) == 1
    # The real store, reached directly: nothing moved.
    assert registry.get_champion(MODEL, settings=registered) == "2"
    assert _rollbacks(registered) == []


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    exe = shutil.which("mlops-guard")
    command = [exe] if exe else [sys.executable, "-m", "mlops_guard.cli"]
    return subprocess.Popen(
        [*command, "alerts", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_receiver_killed_before_acting_rolls_back_once_after_restart(
    registered: GuardSettings,
) -> None:
    """A real `mlops-guard alerts serve` process: it stores the alert, cannot act (MLflow is
    down), is killed with SIGKILL, and the restarted receiver finishes the rollback once."""
    env = {
        **os.environ,
        "MLOPS_GUARD_WORKDIR": str(registered.workdir),
        "MLOPS_GUARD_WEBHOOK_TOKEN": TOKEN,
        "MLOPS_GUARD_REGISTRY_ATTEMPTS": "1",
        # First life: MLflow unreachable and a long backoff, so the alert stays pending.
        "MLOPS_GUARD_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
        "MLOPS_GUARD_ALERTS_BACKOFF_INITIAL_SECONDS": "600",
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = _serve(env, port)
    try:
        wait_for(lambda: _healthy(url), 60, "the first receiver")
        body = payload(alert(model_version="2"))
        assert httpx.post(f"{url}/alertmanager", json=body, headers=AUTH).status_code == 202
        inbox = registered.workdir / "alerts" / "inbox.sqlite"
        with AlertStore(inbox) as reader:
            wait_for(lambda: reader.list()[0].attempts == 1, 30, "the failed attempt")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    assert registry.get_champion(MODEL, settings=registered) == "2"

    env.pop("MLOPS_GUARD_TRACKING_URI")  # second life: the real SQLite registry
    env["MLOPS_GUARD_ALERTS_BACKOFF_INITIAL_SECONDS"] = "0.1"
    second = _serve(env, port)
    try:
        wait_for(lambda: _healthy(url), 60, "the restarted receiver")
        with AlertStore(inbox) as reader:
            wait_for(lambda: reader.counts() == {"done": 1}, 60, "the rollback after restart")
            (row,) = reader.list()
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    # uvicorn re-raises the SIGTERM it handled after a graceful shutdown.
    assert second.returncode in (0, -signal.SIGTERM)
    assert second.stderr is not None
    assert b"Traceback" not in second.stderr.read()
    assert registry.get_champion(MODEL, settings=registered) == "1"
    (event,) = _rollbacks(registered)
    assert event.alert_fingerprint == incident_key(row)
    assert row.deliveries == 1
    assert row.attempts == 2


def test_serve_prints_where_it_listens_the_warm_up_and_one_line_per_alert(
    registered: GuardSettings,
) -> None:
    """What an operator sees on the console of `mlops-guard alerts serve`, and never the token."""
    from mlops_guard.runlog import read_runlog

    env = {
        **os.environ,
        "MLOPS_GUARD_WORKDIR": str(registered.workdir),
        "MLOPS_GUARD_WEBHOOK_TOKEN": TOKEN,
    }
    env.pop("PREFECT_API_URL", None)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    inbox = registered.workdir / "alerts" / "inbox.sqlite"
    receiver = _serve(env, port)
    try:
        wait_for(lambda: _healthy(url), 60, "the receiver")
        body = payload(alert(model_version="2"))
        assert httpx.post(f"{url}/alertmanager", json=body, headers=AUTH).status_code == 202
        with AlertStore(inbox) as reader:
            wait_for(lambda: reader.counts() == {"done": 1}, 60, "the rollback")
    finally:
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(30)
    assert receiver.stderr is not None
    console = receiver.stderr.read().decode()
    lines = console.splitlines()

    (listening,) = [i for i, line in enumerate(lines) if "alert receiver on" in line]
    assert f"http://127.0.0.1:{port}/alertmanager" in lines[listening]
    assert f"inbox {inbox}" in lines[listening]
    assert "rollback mode in_process" in lines[listening]
    (warmed,) = [i for i, line in enumerate(lines) if "warmed up in" in line]
    (acted,) = [i for i, line in enumerate(lines) if "outcome=" in line]
    assert listening < warmed < acted
    assert lines[acted].endswith(
        "INFO alert ModelErrorRateHigh model=churn model_version=2 "
        "fingerprint=0a1b2c3d4e5f6071 outcome=done mode=in_process moved champion 2 -> 1"
    )
    assert TOKEN not in console
    assert "Traceback" not in console
    (event,) = [e for e in read_runlog(registered.runlog_path) if e["event"] == "alert.action.done"]
    assert event["mode"] == "in_process"
    assert TOKEN not in registered.runlog_path.read_text()
