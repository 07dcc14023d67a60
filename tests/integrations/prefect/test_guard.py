"""The guard against a real Prefect server: run log, metrics, events, logs, broken sinks."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from prefect import flow

from mlops_guard.integrations.prefect import guard
from mlops_guard.metrics import GuardMetrics
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings
from tests._prefect import read_events, read_flow_run_logs, wait_for

pytestmark = pytest.mark.usefixtures("prefect_server")


@guard("double", model="churn")
def double(x: int) -> int:
    return 2 * x


@guard("explode", model="churn")
def explode() -> None:
    raise ValueError("stage broke on purpose")


@flow(name="guard-test-ok")
def ok_flow(x: int) -> tuple[int, str]:
    from prefect.runtime import flow_run

    return double(x), str(flow_run.id)


@flow(name="guard-test-fail")
def failing_flow() -> None:
    explode()


def test_stage_is_recorded_in_runlog_metrics_events_and_prefect_logs(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    result, flow_run_id = ok_flow(21)
    assert result == 42

    lines = [r for r in read_runlog(settings.runlog_path) if r["flow_run_id"] == flow_run_id]
    assert [r["event"] for r in lines] == ["stage.started", "stage.completed"]
    done = lines[1]
    assert done["flow"] == "guard-test-ok"
    assert done["stage"] == "double"
    assert done["model"] == "churn"
    assert done["task_run_id"]
    assert done["task_run_id"] != flow_run_id
    assert done["trace_id"] == uuid.UUID(flow_run_id).hex
    assert done["duration_seconds"] >= 0

    labels = {"flow": "guard-test-ok", "stage": "double", "model": "churn"}
    assert metrics.sample("mlops_guard_stage_duration_seconds_count", labels) == 1.0
    assert metrics.sample("mlops_guard_stage_runs_total", {**labels, "status": "completed"}) == 1.0
    text = settings.metrics_textfile("guard-test-ok").read_text()
    sample = 'flow="guard-test-ok",model="churn",stage="double"} 1.0'
    assert f"mlops_guard_stage_duration_seconds_count{{{sample}" in text

    events = wait_for(
        lambda: [
            e
            for e in read_events("mlops_guard.stage.completed")
            if e.payload.get("flow_run_id") == flow_run_id
        ]
    )
    assert events[0].resource.id == "mlops_guard.stage.guard-test-ok.double"
    assert events[0].payload["trace_id"] == done["trace_id"]

    # The run-log lines were mirrored to Prefect's run logger and reached the server.
    messages = wait_for(
        lambda: [m for m in read_flow_run_logs(flow_run_id) if '"stage.completed"' in m]
    )
    assert json.loads(messages[0])["task_run_id"] == done["task_run_id"]


def test_failed_stage_is_recorded_and_the_error_propagates(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    with pytest.raises(ValueError, match="on purpose"):
        failing_flow()
    failed = [r for r in read_runlog(settings.runlog_path) if r["event"] == "stage.failed"]
    assert len(failed) == 1
    assert failed[0]["error_type"] == "ValueError"
    assert failed[0]["level"] == "ERROR"
    labels = {"flow": "guard-test-fail", "stage": "explode", "model": "churn"}
    assert metrics.sample("mlops_guard_stage_failures_total", labels) == 1.0
    wait_for(
        lambda: [
            e
            for e in read_events("mlops_guard.stage.failed")
            if e.payload.get("flow_run_id") == failed[0]["flow_run_id"]
        ]
    )


def test_broken_metrics_and_runlog_sinks_never_fail_the_stage(
    workdir: Path, metrics: GuardMetrics
) -> None:
    # Files where the sinks' directories should be: every write fails.
    (workdir / "metrics").write_text("not a directory")
    (workdir / "logs").write_text("not a directory")
    result, _ = ok_flow(5)
    assert result == 10
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "textfile"}) >= 1.0
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "runlog"}) >= 2.0
    # The stage itself still counted as completed.
    labels = {"flow": "guard-test-ok", "stage": "double", "model": "churn", "status": "completed"}
    assert metrics.sample("mlops_guard_stage_runs_total", labels) == 1.0


def test_unreachable_pushgateway_never_fails_the_stage(
    monkeypatch: pytest.MonkeyPatch, metrics: GuardMetrics, workdir: Path
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLOPS_GUARD_PUSHGATEWAY_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MLOPS_GUARD_PUSHGATEWAY_TIMEOUT_SECONDS", "1")
    assert ok_flow(1)[0] == 2
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "pushgateway"}) == 1.0
