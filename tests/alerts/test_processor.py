"""The processor's promises one step at a time (``run_once``, no thread, no HTTP).

* every outcome is one line on the ``mlops_guard.alerts`` logger and one run-log event, both
  naming the rollback mode, the line also what moved;
* event mode reports what the registry shows, not that an event left: ``done`` only once the
  alias history holds this incident's rollback, ``skipped`` when another recorded move changed
  the champion, ``failed`` (counted, not retried) when nothing moved within the bound.

The event-mode tests run the real registry (MLflow on SQLite) and the real rollback flow's code
in place of the Prefect worker; the clock is injected, so the bound is waited without waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mlops_guard import registry
from mlops_guard.alerts import (
    ActionOutcome,
    AlertProcessor,
    AlertsSettings,
    AlertStore,
    StoredAlert,
    WebhookPayload,
    incident_key,
    registry_rollback_handler,
)
from mlops_guard.errors import NothingToRollBack, RegistryUnavailable

# Imports Prefect, whose logging setup replaces the root logger's handlers: done here, before
# pytest's log capture attaches to the root logger, not in the middle of a test.
from mlops_guard.integrations.prefect import ROLLBACK_EVENT, event_rollback_handler, rollback_flow
from mlops_guard.metrics import GuardMetrics
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings
from tests.alerts._helpers import alert, payload
from tests.alerts._models import MODEL


def _store(path: Path, *alerts: dict[str, Any]) -> AlertStore:
    store = AlertStore(path)
    store.add(WebhookPayload.model_validate(payload(*alerts)).alerts, receiver="r")
    return store


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mlops_guard.alerts"]


def test_each_outcome_is_one_line_and_one_event_naming_the_mode(
    tmp_path: Path,
    settings: GuardSettings,
    metrics: GuardMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    moved = {"alias": "champion", "from_version": "2", "to_version": "1"}
    plan: list[ActionOutcome | BaseException] = [
        ActionOutcome("done", moved),
        ActionOutcome("skipped", {}, "champion moved on"),
        RegistryUnavailable("mlflow down"),
        NothingToRollBack("no promotion left"),
    ]

    def handler(_: StoredAlert) -> ActionOutcome:
        step = plan.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step

    store = _store(
        tmp_path / "inbox.sqlite",
        alert("aaaaaaaaaaaaaaa1", model_version="2"),
        alert("aaaaaaaaaaaaaaa2", model_version="3"),
        alert("aaaaaaaaaaaaaaa3"),
    )
    processor = AlertProcessor(
        store,
        handler,
        settings=AlertsSettings(rollback_mode="event", max_attempts=2),
        guard_settings=settings,
        metrics=metrics,
    )
    caplog.set_level(logging.INFO, logger="mlops_guard.alerts")
    with store:
        for _ in range(3):
            processor.run_once()
        processor.run_once(now=float("inf"))  # the retried row, past its backoff
        states = [row.state for row in store.list()]

    assert states == ["done", "skipped", "failed"]
    done, skipped, retry, failed = _lines(caplog)
    assert done == (
        "alert ModelErrorRateHigh model=churn model_version=2 fingerprint=aaaaaaaaaaaaaaa1 "
        "outcome=done mode=event moved champion 2 -> 1"
    )
    assert "fingerprint=aaaaaaaaaaaaaaa2 outcome=skipped mode=event: champion moved on" in skipped
    assert "model_version=- fingerprint=aaaaaaaaaaaaaaa3 outcome=retry mode=event" in retry
    assert "RegistryUnavailable: mlflow down" in retry
    assert "outcome=failed mode=event: NothingToRollBack: no promotion left" in failed
    events = [e for e in read_runlog(settings.runlog_path) if e["event"].startswith("alert.")]
    assert [e["event"] for e in events] == [
        "alert.action.done",
        "alert.action.skipped",
        "alert.action.retry",
        "alert.action.failed",
    ]
    assert {e["mode"] for e in events} == {"event"}


# Event mode against the real registry -----------------------------------------------------


@dataclass
class FakeClock:
    """Monotonic time that moves only when the handler sleeps; ``on_sleep(n)`` runs after the
    n-th sleep, which is where a test lets the "worker" act."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)
    on_sleep: Callable[[int], None] | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))


@dataclass
class FakePrefect:
    """Stands in for Prefect's ``emit_event``: records the events it was handed."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, **spec: Any) -> SimpleNamespace:
        self.sent.append(spec)
        return SimpleNamespace(id=spec["id"])

    def run_triggered_flow(self) -> dict[str, Any]:
        """What the deployment's trigger runs for the last event (deployments/prefect.yaml
        maps the event to these parameters): the real rollback flow's code."""
        spec = self.sent[-1]
        result: dict[str, Any] = rollback_flow.fn(
            model=spec["resource"]["mlops_guard.model"],
            reason=spec["payload"]["reason"],
            alert_fingerprint=spec["payload"]["alert_fingerprint"],
            expected_champion=spec["payload"]["model_version"],
        )
        return result


def _event_processor(
    registered: GuardSettings,
    metrics: GuardMetrics,
    store: AlertStore,
    clock: FakeClock,
    prefect: FakePrefect,
) -> AlertProcessor:
    settings = AlertsSettings(rollback_mode="event", event_confirm_timeout_seconds=60)
    handler = event_rollback_handler(
        registered, settings, emit=prefect, clock=clock, sleep=clock.sleep
    )
    return AlertProcessor(
        store, handler, settings=settings, guard_settings=registered, metrics=metrics
    )


@pytest.mark.slow
def test_event_mode_fails_when_no_worker_moves_the_champion(
    tmp_path: Path, registered: GuardSettings, metrics: GuardMetrics
) -> None:
    clock, prefect = FakeClock(), FakePrefect()
    with _store(tmp_path / "inbox.sqlite", alert(model_version="2")) as store:
        processor = _event_processor(registered, metrics, store, clock, prefect)
        processor.run_once()
        (row,) = store.list()

    assert row.state == "failed"
    assert row.attempts == 1  # not retried: emitting again would not start a worker
    assert "AlertError: no rollback recorded within 60 s: is a worker polling the work pool?" in (
        row.last_error or ""
    )
    assert sum(clock.sleeps) == pytest.approx(60)
    labels = {"action": "rollback", "outcome": "failed"}
    assert metrics.sample("mlops_guard_alert_actions_total", labels) == 1
    (event,) = prefect.sent
    assert event["event"] == ROLLBACK_EVENT
    assert event["payload"]["alert_fingerprint"] == incident_key(row)
    assert registry.get_champion(MODEL, settings=registered) == "2"


@pytest.mark.slow
def test_event_mode_is_done_once_the_flow_records_the_rollback(
    tmp_path: Path,
    registered: GuardSettings,
    metrics: GuardMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    prefect = FakePrefect()
    # The worker picks the flow run up after three polls of the receiver.
    clock = FakeClock(on_sleep=lambda n: prefect.run_triggered_flow() if n == 3 else None)
    caplog.set_level(logging.INFO, logger="mlops_guard.alerts")
    with _store(tmp_path / "inbox.sqlite", alert(model_version="2")) as store:
        processor = _event_processor(registered, metrics, store, clock, prefect)
        processor.run_once()
        (row,) = store.list()

    assert row.state == "done", row.last_error
    assert row.result is not None
    assert (row.result["from_version"], row.result["to_version"]) == ("2", "1")
    assert row.result["alert_fingerprint"] == incident_key(row)
    assert row.result["waited_seconds"] == pytest.approx(sum(clock.sleeps))
    assert len(clock.sleeps) == 3  # found on the first read after the move
    assert registry.get_champion(MODEL, settings=registered) == "1"
    (line,) = [line for line in _lines(caplog) if "outcome=" in line]
    assert "outcome=done mode=event moved champion 2 -> 1" in line


@pytest.mark.slow
def test_event_mode_skips_when_another_recorded_move_changed_the_champion(
    tmp_path: Path, registered: GuardSettings, metrics: GuardMetrics
) -> None:
    def human_rolls_back(n: int) -> None:
        if n == 1:
            registry.rollback(MODEL, reason="by hand", actor="oncall", settings=registered)

    clock, prefect = FakeClock(on_sleep=human_rolls_back), FakePrefect()
    with _store(tmp_path / "inbox.sqlite", alert(model_version="2")) as store:
        processor = _event_processor(registered, metrics, store, clock, prefect)
        processor.run_once()
        (row,) = store.list()

    assert row.state == "skipped"
    assert "no longer 2 (rollback by oncall)" in (row.note or "")
    assert len(clock.sleeps) == 1
    (rollback,) = [
        e for e in registry.history(MODEL, settings=registered) if e.action == "rollback"
    ]
    assert rollback.alert_fingerprint is None


@pytest.mark.slow
def test_event_mode_waits_for_the_record_of_a_move_in_progress(
    tmp_path: Path, registered: GuardSettings, metrics: GuardMetrics
) -> None:
    """The flow moves the alias, then records the move: a read in between sees the champion
    moved and no record. That is the flow at work, not someone else: wait, then report done."""
    from mlflow import MlflowClient

    from mlops_guard.registry import AliasEvent
    from mlops_guard.registry._history import encode_event

    client = MlflowClient(registered.mlflow_tracking_uri, registered.mlflow_tracking_uri)
    prefect = FakePrefect()

    def flow_in_two_steps(n: int) -> None:
        if n == 1:
            client.set_registered_model_alias(MODEL, "champion", "1")
        if n == 2:
            spec = prefect.sent[-1]
            seq = max(e.seq for e in registry.history(MODEL, settings=registered)) + 1
            key, value = encode_event(
                AliasEvent(
                    model=MODEL,
                    alias="champion",
                    action="rollback",
                    from_version="2",
                    to_version="1",
                    reason=spec["payload"]["reason"],
                    actor="prefect:rollback_flow",
                    at="2026-11-23T16:00:05.000000Z",
                    alert_fingerprint=spec["payload"]["alert_fingerprint"],
                    seq=seq,
                )
            )
            client.set_registered_model_tag(MODEL, key, value)

    clock = FakeClock(on_sleep=flow_in_two_steps)
    with _store(tmp_path / "inbox.sqlite", alert(model_version="2")) as store:
        processor = _event_processor(registered, metrics, store, clock, prefect)
        processor.run_once()
        (row,) = store.list()

    assert row.state == "done", row.note
    assert len(clock.sleeps) == 2


@pytest.mark.slow
def test_event_mode_at_the_bound_an_unrecorded_move_is_skipped(
    tmp_path: Path, registered: GuardSettings, metrics: GuardMetrics
) -> None:
    """A champion moved outside mlops-guard (the MLflow UI) never gets a record: at the bound
    the alert is about a version that no longer serves, so it is skipped, not failed."""
    from mlflow import MlflowClient

    client = MlflowClient(registered.mlflow_tracking_uri, registered.mlflow_tracking_uri)

    def moved_in_the_ui(n: int) -> None:
        if n == 1:
            client.set_registered_model_alias(MODEL, "champion", "1")

    clock, prefect = FakeClock(on_sleep=moved_in_the_ui), FakePrefect()
    with _store(tmp_path / "inbox.sqlite", alert(model_version="2")) as store:
        processor = _event_processor(registered, metrics, store, clock, prefect)
        processor.run_once()
        (row,) = store.list()

    assert row.state == "skipped"
    assert "a move outside mlops-guard" in (row.note or "")
    assert sum(clock.sleeps) == pytest.approx(60)


def test_an_alert_action_is_a_span_and_its_rollback_a_child_span(
    tmp_path: Path, registered: GuardSettings, metrics: GuardMetrics
) -> None:
    import json

    settings = AlertsSettings(rollback_mode="in_process")
    store = _store(tmp_path / "inbox.sqlite", alert("bbbbbbbbbbbbbbb1", model_version="2"))
    processor = AlertProcessor(
        store,
        registry_rollback_handler(registered, settings),
        settings=settings,
        guard_settings=registered,
        metrics=metrics,
    )
    with store:
        processor.run_once()
        assert [row.state for row in store.list()] == ["done"]
    spans = {}
    for path in sorted((registered.workdir / "traces").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            for resource in json.loads(line)["resourceSpans"]:
                for scope in resource["scopeSpans"]:
                    spans.update({span["name"]: span for span in scope["spans"]})
    action = spans["alert.action"]
    attributes = {a["key"]: a["value"]["stringValue"] for a in action["attributes"]}
    assert attributes["mlops_guard.alertname"] == "ModelErrorRateHigh"
    assert attributes["mlops_guard.alert_fingerprint"] == "bbbbbbbbbbbbbbb1"
    assert attributes["mlops_guard.rollback_mode"] == "in_process"
    assert attributes["mlops_guard.attempt"] == "1"
    moves = [s for name, s in spans.items() if name != "alert.action"]
    assert moves, spans.keys()
    assert all(s["traceId"] == action["traceId"] for s in moves)
    assert any(s.get("parentSpanId") == action["spanId"] for s in moves)
