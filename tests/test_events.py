"""The orchestrator interface: events, stages as tasks and pipelines as flows go to whatever
sinks are registered, and a sink that fails never fails the job."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from mlops_guard import _events
from mlops_guard._events import GuardEvent, as_flow, as_task, emit
from mlops_guard._stage import stage
from mlops_guard.metrics import GuardMetrics
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings, use_settings


class Recorder:
    """A sink as an integration would write one, recording what reaches it."""

    name = "recorder"

    def __init__(self, *, fail: bool = False, wrap: bool = False) -> None:
        self.events: list[GuardEvent] = []
        self.wrapped: list[str] = []
        self.fail = fail
        self.wrap = wrap

    def ready(self, payload: Mapping[str, Any]) -> bool:
        return True

    def send(self, event: GuardEvent) -> bool:
        if self.fail:
            raise ConnectionError("orchestrator down")
        self.events.append(event)
        return True

    def run_context(self) -> dict[str, Any]:
        return {}

    def log(self, level: int, line: str) -> None:
        return None

    def artifact(self, kind: str, key: str, content: Any, description: str | None) -> bool:
        return False

    def task(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any] | None:
        if self.fail:
            raise RuntimeError("cannot make a task")
        if not self.wrap:
            return None

        def as_orchestrator_task(*args: Any, **kwargs: Any) -> Any:
            self.wrapped.append(name)
            return fn(*args, **kwargs)

        return as_orchestrator_task


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Replace the discovered sinks (Prefect's, here) with the given ones."""

    def install(*sinks: Any) -> None:
        monkeypatch.setattr(_events, "_registered", list(sinks))
        monkeypatch.setattr(_events, "_discovered", True)

    return install


def test_a_failing_sink_is_counted_and_the_others_still_receive(
    only: Callable[..., None], metrics: GuardMetrics
) -> None:
    broken, working = Recorder(fail=True), Recorder()
    only(broken, working)
    event = GuardEvent("mlops_guard.alias.moved", "mlops_guard.model.m", "m", {"to": "2"})

    assert emit(event, metrics=metrics) is True
    assert working.events == [event]
    assert metrics.sink_failures_total.labels(sink="recorder")._value.get() == 1.0


def test_without_orchestrator_tasks_and_flows_are_the_functions_themselves(
    only: Callable[..., None],
) -> None:
    def fn() -> int:
        return 1

    only(Recorder())
    assert as_task("fit", fn) is fn
    assert as_flow("train", fn) is fn
    only(Recorder(fail=True))
    assert as_task("fit", fn) is fn, "a sink that cannot wrap leaves the stage a plain call"


def test_a_stage_runs_as_the_orchestrators_task_and_is_recorded(
    only: Callable[..., None], settings: GuardSettings
) -> None:
    sink = Recorder(wrap=True)
    only(sink)

    @stage("featurize", model="churn")
    def featurize(rows: int) -> int:
        return rows * 2

    @stage("explode")
    def explode() -> None:
        raise ValueError("bad batch")

    with use_settings(settings):
        assert featurize(21) == 42
        with pytest.raises(ValueError, match="bad batch"):
            explode()

    assert sink.wrapped == ["featurize", "explode"]
    lines = [(e["event"], e["stage"]) for e in read_runlog(settings.runlog_path)]
    assert lines == [
        ("stage.started", "featurize"),
        ("stage.completed", "featurize"),
        ("stage.started", "explode"),
        ("stage.failed", "explode"),
    ]
    assert [e.event for e in sink.events] == [
        "mlops_guard.stage.completed",
        "mlops_guard.stage.failed",
    ]
    assert sink.events[0].payload["model"] == "churn"
    assert sink.events[1].payload["error_type"] == "ValueError"
