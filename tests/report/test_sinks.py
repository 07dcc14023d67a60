"""The report reaches orchestrators only through the sinks: a sink with a ``run_artifact`` hook
gets the markdown for the flow run named, a sink that fails is reported and counted while the
others still get it, and a sink without the hook is left alone."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from mlops_guard import _events
from mlops_guard.metrics import GuardMetrics
from mlops_guard.report import RunEvents, attach_report
from mlops_guard.settings import GuardSettings


class _Sink:
    def __init__(self, name: str, *, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.attached: list[tuple[str, str, str, Any]] = []

    def ready(self, payload: Mapping[str, Any]) -> bool:
        return True

    def run_context(self) -> dict[str, Any]:
        return {}

    def run_artifact(
        self, kind: str, run_id: str, key: str, content: Any, description: str | None
    ) -> bool:
        if self.fail:
            raise ConnectionError("API at http://127.0.0.1:1/api refused the connection")
        self.attached.append((kind, run_id, key, content))
        return True


class _OnlyEvents:
    name = "events_only"


def test_the_flow_runs_artifact_goes_through_every_sink_that_takes_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, metrics: GuardMetrics
) -> None:
    broken, working = _Sink("broken", fail=True), _Sink("working")
    monkeypatch.setattr(_events, "_registered", [broken, _OnlyEvents(), working])
    monkeypatch.setattr(_events, "_discovered", True)
    page = tmp_path / "report.html"
    page.write_text("<html></html>")
    # No MLflow run in the window (no event names one): nothing to log there.
    run = RunEvents(tmp_path, [{"event": "demo.started", "flow_run_id": "fr-1", "run_id": "x"}])

    attached = attach_report(
        page, run, GuardSettings(workdir=tmp_path), window="flow run fr-1", flow_run_id="fr-1"
    )

    assert attached.mlflow_runs == []
    assert attached.orchestrators == ["working"]
    [(kind, run_id, key, content)] = working.attached
    assert (kind, run_id, key) == ("markdown", "fr-1", "reliability-report")
    assert f"`{page.resolve()}`" in content
    assert "in no MLflow run" in content
    [failure] = attached.failures
    assert failure.startswith("broken did not attach the report to flow run fr-1")
    assert "127.0.0.1:1" in failure
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "broken_artifacts"}) == 1
    assert attached.to_json()["orchestrator_artifact"] == {
        "flow_run_id": "fr-1",
        "key": "reliability-report",
        "attached_by": ["working"],
    }


def test_without_a_flow_run_no_orchestrator_is_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sink = _Sink("working")
    monkeypatch.setattr(_events, "_registered", [sink])
    monkeypatch.setattr(_events, "_discovered", True)
    page = tmp_path / "report.html"
    page.write_text("<html></html>")

    attached = attach_report(
        page, RunEvents(tmp_path, []), GuardSettings(workdir=tmp_path), window="every run"
    )

    assert sink.attached == []
    assert attached.to_json()["orchestrator_artifact"]["key"] is None
