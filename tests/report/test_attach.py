"""``mlops-guard report`` attaches the page where the run is looked at: every MLflow run of the
window holds it as ``reliability/report.html`` (in the demo's real PostgreSQL-backed store),
and the flow run in the real Prefect server has a markdown artifact linking to it. With both
stores down, the file is still written, the exit code is unchanged, and each failure is
reported and counted."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from mlops_guard.cli import main
from mlops_guard.metrics import GuardMetrics

pytestmark = [pytest.mark.servers, pytest.mark.slow]


def _events(workdir: Path) -> list[dict[str, Any]]:
    lines = (workdir / "logs" / "runlog.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _demo_flow_run(workdir: Path) -> str:
    return next(str(e["flow_run_id"]) for e in _events(workdir) if e["event"] == "demo.started")


def _registered_runs(workdir: Path) -> list[str]:
    return [str(e["run_id"]) for e in _events(workdir) if e["event"] == "model.registered"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _forget_prefect_events_client() -> None:
    """Creating the artifact emitted an event through Prefect's process-wide events worker,
    which keeps the API URL it started with: stopped here, so a later test's events go to the
    server of that test."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        result = EventsWorker.drain_all()
        if inspect.isawaitable(result):
            await result

    run_coro_as_sync(drain())


def test_report_is_logged_to_the_runs_mlflow_runs_and_linked_from_the_flow_run(
    team_demo: Any,
    postgres: Any,
    prefect_on_postgres: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mlflow import MlflowClient
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )
    from prefect.settings import PREFECT_API_URL, temporary_settings

    workdir = Path(team_demo.workdir)
    flow_run = _demo_flow_run(workdir)
    expected_runs = _registered_runs(workdir)
    assert len(expected_runs) == 3  # v1, v2 and v3 of the demo
    tracking = postgres.sqlalchemy_url(team_demo.database)
    monkeypatch.setenv("MLOPS_GUARD_TRACKING_URI", tracking)
    monkeypatch.setenv("PREFECT_API_URL", prefect_on_postgres)
    out = tmp_path / "out" / "run-report.html"

    # The session may hold another Prefect harness in its settings context: this server wins.
    with temporary_settings({PREFECT_API_URL: prefect_on_postgres}):
        try:
            code = main(["report", "--workdir", str(workdir), "--flow-run", flow_run, "-o",
                         str(out), "--json"])  # fmt: skip
            assert code == 0
            result = json.loads(capsys.readouterr().out)

            with get_client(sync_client=True) as client:
                artifacts = client.read_artifacts(
                    artifact_filter=ArtifactFilter(
                        key=ArtifactFilterKey(any_=["reliability-report"]),
                        flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run]),  # type: ignore[list-item]
                    )
                )
        finally:
            _forget_prefect_events_client()

    assert result["failures"] == []
    assert result["report"] == str(out.resolve())
    runs = result["mlflow"]["runs"]
    assert [r["run_id"] for r in runs] == expected_runs
    assert all(r["logged"] and r["artifact_path"] == "reliability/report.html" for r in runs)

    # The artifact is in the store and is the file that was written, byte for byte.
    page = out.read_bytes()
    mlflow = MlflowClient(tracking_uri=tracking)
    for i, run_id in enumerate(expected_runs):
        listed = [a.path for a in mlflow.list_artifacts(run_id, "reliability")]
        assert listed == ["reliability/report.html"]
        into = tmp_path / f"downloaded-{i}"
        into.mkdir()
        local = mlflow.download_artifacts(run_id, "reliability/report.html", str(into))
        assert Path(local).read_bytes() == page

    # The flow run's markdown artifact names and links every MLflow run's copy.
    assert result["orchestrator_artifact"] == {
        "flow_run_id": flow_run,
        "key": "reliability-report",
        "attached_by": ["prefect_events"],
    }
    assert artifacts, "no reliability-report artifact on the flow run"
    latest = max(artifacts, key=lambda a: a.created or 0)
    assert str(latest.flow_run_id) == flow_run
    assert latest.type == "markdown"
    for entry in runs:
        assert f"]({entry['artifact_uri']})" in str(latest.data)
        assert f"`{entry['run_id']}`" in str(latest.data)


def test_report_is_written_when_mlflow_and_prefect_are_down(
    team_demo: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    metrics: GuardMetrics,
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # The demo's run log in a workdir of its own: the failure metrics land here, not there.
    workdir = tmp_path / "guard"
    shutil.copytree(Path(team_demo.workdir) / "logs", workdir / "logs")
    flow_run = _demo_flow_run(workdir)
    dead_prefect = f"http://127.0.0.1:{_closed_port()}/api"
    monkeypatch.setenv("MLOPS_GUARD_TRACKING_URI", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("PREFECT_API_URL", dead_prefect)
    out = tmp_path / "report.html"

    with temporary_settings({PREFECT_API_URL: dead_prefect}):
        code = main(["report", "--workdir", str(workdir), "--flow-run", flow_run, "-o", str(out),
                     "--json"])  # fmt: skip
    result = json.loads(capsys.readouterr().out)

    assert code == 0
    assert '<section id="timeline">' in out.read_text()
    runs = result["mlflow"]["runs"]
    assert [r["run_id"] for r in runs] == _registered_runs(workdir)
    assert not any(r["logged"] for r in runs)
    # The first run found the store down; the others were not retried against it.
    assert "127.0.0.1" in runs[0]["error"]
    assert all(r["error"].startswith("not tried") for r in runs[1:])
    assert result["orchestrator_artifact"]["attached_by"] == []
    assert len(result["failures"]) == 2
    assert any(flow_run in f and "prefect_events" in f for f in result["failures"])
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "mlflow_report"}) == 1
    assert (
        metrics.sample("mlops_guard_sink_failures_total", {"sink": "prefect_events_artifacts"}) == 1
    )
    # Counted where the alert rules read them: the report's metrics textfile.
    exported = (workdir / "metrics").rglob("*.prom")
    assert any('sink="mlflow_report"' in p.read_text() for p in exported)
