"""The receiver warms up before it serves, stays warm when idle, and starts when MLflow is down.

A cold first alert paid for importing MLflow and the registry, building the MLflow client and
opening the store (3.1 s measured, against 137 ms once warm). These tests check that the work is
done before ``/healthz`` answers, without timing anything: the imports in a fresh interpreter,
the warm-up's own record, the failure counter.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from mlops_guard.alerts import AlertsSettings, create_app
from mlops_guard.alerts._receiver import RegistryWarmup
from mlops_guard.metrics import GuardMetrics
from mlops_guard.settings import GuardSettings
from tests.alerts._helpers import RecordingHandler, free_port, live_server, payload, wait_for

_PROBE = """
import json, sys
from pathlib import Path
from mlops_guard.alerts import AlertsSettings
from mlops_guard.alerts._receiver import RegistryWarmup
from mlops_guard.metrics import GuardMetrics
from mlops_guard.settings import GuardSettings

heavy = ("mlflow", "mlops_guard.registry._aliases", "mlops_guard.registry._client")
before = [name for name in heavy if name in sys.modules]
warm = RegistryWarmup(GuardSettings(workdir=Path(sys.argv[1])), AlertsSettings(), GuardMetrics())
ok = warm()
print(json.dumps({"before": before, "after": [n for n in heavy if n in sys.modules], "ok": ok}))
"""


def test_warm_up_imports_the_handlers_modules_and_reads_the_registry(workdir: Path) -> None:
    # A fresh interpreter: in this one the test suite has imported MLflow already.
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(workdir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout.splitlines()[-1])
    assert probe["before"] == []
    assert probe["after"] == [
        "mlflow",
        "mlops_guard.registry._aliases",
        "mlops_guard.registry._client",
    ]
    assert probe["ok"] is True


def _settings(tmp_path: Path, **overrides: object) -> AlertsSettings:
    return AlertsSettings(store=tmp_path / "inbox.sqlite", **overrides)  # type: ignore[arg-type]


def test_receiver_is_warm_when_it_starts_serving(
    tmp_path: Path,
    settings: GuardSettings,
    metrics: GuardMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mlops_guard.alerts")
    app = create_app(
        guard_settings=settings,
        settings=_settings(tmp_path),
        handler=RecordingHandler(),
        metrics=metrics,
    )
    warm: RegistryWarmup = app.state.warmup
    with live_server(app) as url:
        # No waiting: start-up itself waited for the warm-up.
        assert (warm.runs, warm.last_ok) == (1, True)
        assert httpx.get(f"{url}/healthz").status_code == 200
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "warmup"}) is None
    assert any(r.getMessage().startswith("warmed up in ") for r in caplog.records)


def test_warm_up_failure_is_counted_and_the_receiver_still_serves(
    tmp_path: Path,
    settings: GuardSettings,
    metrics: GuardMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = settings.model_copy(update={"tracking_uri": f"http://127.0.0.1:{free_port()}"})
    handler = RecordingHandler()
    app = create_app(
        guard_settings=down, settings=_settings(tmp_path), handler=handler, metrics=metrics
    )
    with live_server(app) as url:
        assert app.state.warmup.last_ok is False
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.post(f"{url}/alertmanager", json=payload()).status_code == 202
        wait_for(lambda: len(handler.calls) == 1, what="the alert to be acted on")
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "warmup"}) == 1
    (warning,) = [r for r in caplog.records if r.name == "mlops_guard.alerts" and r.levelno >= 30]
    assert "warm-up failed" in warning.getMessage()
    assert down.mlflow_tracking_uri in warning.getMessage()  # says which MLflow did not answer


def test_start_up_does_not_wait_for_a_hung_warm_up_beyond_its_bound(
    tmp_path: Path,
    settings: GuardSettings,
    metrics: GuardMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    app = create_app(
        guard_settings=settings,
        settings=_settings(tmp_path, warmup_timeout_seconds=0.1),
        handler=RecordingHandler(),
        metrics=metrics,
        warmup=lambda: release.wait(60),  # a tracking server that accepts and never answers
    )
    try:
        with live_server(app) as url:
            assert httpx.post(f"{url}/alertmanager", json=payload()).status_code == 202
            release.set()  # before shutdown, which would otherwise wait for the warm-up
    finally:
        release.set()
    assert any("serving anyway" in r.getMessage() for r in caplog.records)


def test_idle_processor_repeats_the_warm_up_as_a_keep_alive(
    tmp_path: Path, settings: GuardSettings, metrics: GuardMetrics
) -> None:
    calls: list[int] = []
    app = create_app(
        guard_settings=settings,
        settings=_settings(tmp_path, keepalive_seconds=0.05),
        handler=RecordingHandler(),
        metrics=metrics,
        warmup=lambda: calls.append(1),
    )
    with live_server(app):
        wait_for(lambda: len(calls) >= 3, 10, "two keep-alive reads after the warm-up")
