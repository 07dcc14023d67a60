"""The monitor's summary in a real MLflow run (SQLite store) and its events on a real Prefect
server (the session's ``prefect_server``)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from mlops_guard.errors import MonitorError
from mlops_guard.metrics import GuardMetrics
from mlops_guard.monitors import (
    SUMMARY_ARTIFACT,
    CheckpointMonitor,
    MonitorAlert,
    log_monitor_summary,
)
from mlops_guard.settings import GuardSettings

DEADLINE = 30.0


def _short_run(settings: GuardSettings, metrics: GuardMetrics) -> CheckpointMonitor:
    mon = CheckpointMonitor(
        job="train",
        model="churn",
        guard_settings=settings,
        metrics=metrics,
        prefect_events=False,
        warmup_saves=0,
    )
    with mon:
        for step in range(1, 13):
            time.sleep(0.002)  # the training step
            mon.step()
            if step % 4 == 0:
                with mon.checkpoint(step, nbytes=128):
                    time.sleep(0.002)
    return mon


@pytest.mark.slow
def test_summary_joins_the_mlflow_run_as_metrics_and_json_artifact(
    settings: GuardSettings, metrics: GuardMetrics, tmp_path: Path
) -> None:
    import mlflow

    mon = _short_run(settings, metrics)
    with pytest.raises(MonitorError, match="no MLflow run"):
        log_monitor_summary(mon)
    # An explicit URI and run id: no global MLflow state leaks into other tests.
    uri = settings.mlflow_tracking_uri
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment(
        "monitor-test", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    run = client.create_run(experiment_id)
    logged = log_monitor_summary(mon, run_id=run.info.run_id, tracking_uri=uri)
    client.set_terminated(run.info.run_id)
    stored = client.get_run(run.info.run_id).data.metrics
    local = client.download_artifacts(run.info.run_id, SUMMARY_ARTIFACT, str(tmp_path))
    assert stored["monitor_steps"] == 12.0
    assert stored["monitor_checkpoints"] == 3.0
    assert stored["monitor_save_bytes_total"] == 384.0
    assert stored == pytest.approx(logged)
    artifact = json.loads(Path(local).read_text())
    assert artifact["job"] == "train"
    assert artifact["checkpoints"] == 3
    assert artifact["state"] == "stopped"


@pytest.mark.slow
def test_stall_and_recovery_reach_prefect_as_events(
    prefect_server: str, settings: GuardSettings, metrics: GuardMetrics
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    recovered = threading.Event()
    stalled = threading.Event()

    def on_alert(alert: MonitorAlert) -> None:
        {"stalled": stalled, "recovered": recovered}.get(alert.kind, threading.Event()).set()

    job = f"train-{time.time_ns()}"  # unique per run: the server is shared by the session
    mon = CheckpointMonitor(
        job=job,
        model="churn",
        guard_settings=settings,
        metrics=metrics,
        on_alert=on_alert,
        watchdog_period_seconds=0.02,
        warmup_steps=1,
        min_limit_seconds=0.0,
    )
    with mon:
        for _ in range(10):
            time.sleep(0.01)  # the training step
            mon.step()
        assert stalled.wait(DEADLINE)  # a hung step, until the watchdog notices
        for _ in range(3):
            time.sleep(0.01)
            mon.step()
        assert recovered.wait(DEADLINE)

    wanted = {"mlops_guard.training.stalled", "mlops_guard.training.recovered"}
    event_filter = EventFilter(
        event=EventNameFilter(prefix=["mlops_guard.training."]),
        resource=EventResourceFilter(id=[f"mlops_guard.training.{job}"]),
    )
    found: dict[str, dict[str, object]] = {}
    deadline = time.monotonic() + DEADLINE
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline and set(found) != wanted:
            page = client.read_events(filter=event_filter, limit=10)
            found = {event.event: dict(event.payload) for event in page.events}
            if set(found) != wanted:
                time.sleep(0.2)  # polling the server with a deadline: delivery is asynchronous
    assert set(found) == wanted
    assert found["mlops_guard.training.stalled"]["reasons"] == ["heartbeat"]
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "prefect_events"}) is None


@pytest.mark.slow
def test_watchdog_events_carry_the_flow_run_context(
    prefect_server: str, settings: GuardSettings, metrics: GuardMetrics
) -> None:
    from prefect import flow
    from prefect.context import FlowRunContext

    from mlops_guard.runlog import bind, read_runlog

    stalled = threading.Event()

    def on_alert(alert: MonitorAlert) -> None:
        if alert.kind == "stalled":
            stalled.set()

    @flow(name="monitor-context-test")
    def training() -> str:
        run_context = FlowRunContext.get()
        assert run_context is not None
        assert run_context.flow_run is not None
        mon = CheckpointMonitor(
            job="train",
            model="churn",
            guard_settings=settings,
            metrics=metrics,
            on_alert=on_alert,
            watchdog_period_seconds=0.02,
            warmup_steps=1,
            min_limit_seconds=0.0,
            prefect_events=False,
        )
        with bind(stage="fit"), mon:
            for _ in range(8):
                time.sleep(0.01)  # the training step
                mon.step()
            assert stalled.wait(DEADLINE)  # a hung step, until noticed
            mon.step()
        return str(run_context.flow_run.id)

    flow_run_id = training()
    stalls = [e for e in read_runlog(settings.runlog_path) if e["event"] == "training.stalled"]
    assert len(stalls) == 1
    # Logged from the watchdog thread, yet joined to the flow run and the bound stage.
    assert stalls[0]["flow_run_id"] == flow_run_id
    assert stalls[0]["stage"] == "fit"
    assert stalls[0]["flow"] == "monitor-context-test"
