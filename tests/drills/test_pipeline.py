"""Pipeline scenarios against the real pipelines, MLflow store, drift check and receiver.

Each guarded run must be detected by a product signal that is really in the run's own run log
(or, for a crash, the orchestrator's report of the killed process), name the right cause, and
recover as the real state shows: the quarantine manifest, the alias history, the retried
run's exit and predictions. With the guard off the same fault goes undetected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_guard.drills import RunRecord
from mlops_guard.runlog import read_runlog

pytestmark = pytest.mark.slow


def _runlog(record: RunRecord) -> list[dict[str, Any]]:
    return read_runlog(Path(record.workdir) / "logs" / "runlog.jsonl")


def _healthy(record: RunRecord) -> None:
    assert record.error is None
    assert record.detected, record.to_dict()
    assert record.root_cause_correct, record.to_dict()
    assert record.recovered, record.to_dict()
    assert record.ttd_seconds is not None
    assert record.ttr_seconds is not None
    assert 0 <= record.ttd_seconds <= record.ttr_seconds


def _detected_by_runlog(record: RunRecord) -> dict[str, Any]:
    """The detecting event is a line the product wrote to the run's log."""
    assert record.detection_source == "runlog"
    lines = [e for e in _runlog(record) if e["event"] == record.detected_by]
    assert lines, f"{record.detected_by} not in the run log"
    return lines[0]


def test_data_corruption_is_caught_by_validation_and_quarantined(drill: Any) -> None:
    from mlops_guard.validation import read_manifest

    record = drill("data-corruption")
    _healthy(record)
    event = _detected_by_runlog(record)
    assert event["event"] == "validation.failed"
    assert event["rows_quarantined"] > 0
    manifest = read_manifest(event["quarantined"])
    assert manifest["rows"] == event["rows_quarantined"] == record.evidence["rows_quarantined"]
    scored = [e for e in _runlog(record) if e["event"] == "inference.scored"]
    assert [e["batch_id"] for e in scored] == ["corrupted", "clean-after"]
    assert scored[1]["rows_quarantined"] == 0
    assert scored[1]["rows_scored"] > 0


def test_without_the_guard_the_same_faults_go_undetected(drill: Any) -> None:
    for name in ("data-corruption", "covariate-drift"):
        record = drill(name, guard=False)
        assert record.error is None
        assert not record.detected, record.to_dict()
        assert not record.recovered, record.to_dict()
        assert record.uptime_share == 0.0
        # The fault was really injected: the batch was scored, nobody checked it.
        assert any(e["event"] == "inference.scored" for e in _runlog(record))
        assert not any(e["event"] == "drift.checked" for e in _runlog(record))


def test_bad_model_is_rolled_back_by_the_alert(drill: Any, drill_fixture: Any) -> None:
    from mlops_guard.drills._fixture import settings_for
    from mlops_guard.registry import get_champion, history

    record = drill("bad-model")
    _healthy(record)
    assert _detected_by_runlog(record)["worse"] is True
    settings = settings_for(Path(record.workdir))
    moves = [e for e in history("churn", settings=settings) if e.actor != "release"][-1:]
    (rollback,) = moves
    assert rollback.action == "rollback"
    assert rollback.actor == "alertmanager"
    assert (rollback.from_version, rollback.to_version) == (
        drill_fixture.challenger,
        drill_fixture.champion,
    )
    assert rollback.alert_fingerprint
    assert get_champion("churn", settings=settings) == drill_fixture.champion


def test_stage_crash_is_retried_and_the_retry_succeeds(drill: Any) -> None:
    record = drill("stage-crash")
    _healthy(record)
    assert (record.detected_by, record.detection_source) == ("run.crashed", "orchestrator")
    assert record.detection_detail["stage"] == "score"
    assert record.evidence["first_exit"] == -9
    assert record.evidence["retry_exit"] == 0
    assert Path(record.evidence["predictions"]).exists()
    starts = [e["stage"] for e in _runlog(record) if e["event"] == "stage.started"]
    # The killed run got as far as scoring; the retry went through every stage again.
    assert starts.count("resolve_model") == 2
    assert starts.count("score") == 2
    # The kill landed inside the first run's score stage: only the retry completed it.
    done = [e["stage"] for e in _runlog(record) if e["event"] == "stage.completed"]
    assert done.count("score") == 1


def test_alert_storm_rolls_back_exactly_once(drill: Any) -> None:
    record = drill("alert-storm")
    _healthy(record)
    assert record.evidence["deliveries"] == 1000 == record.evidence["accepted"]
    assert record.evidence["rollbacks"] == 1
    assert record.evidence["inbox"] == {"done": 1}
    rolled = [e for e in _runlog(record) if e["event"] == "registry.rolled_back"]
    assert len(rolled) == 1


def test_registry_outage_rollback_completes_once_mlflow_is_back(drill: Any) -> None:
    record = drill("registry-outage")
    _healthy(record)
    event = _detected_by_runlog(record)
    assert event["error"].startswith("RegistryUnavailable")
    assert record.evidence["rollbacks"] == 1
    assert record.evidence["inbox"] == {"done": 1}
    assert record.evidence["retries"] >= 1


def test_clean_runs_raise_no_alarm(drill: Any) -> None:
    record = drill("clean")
    assert record.error is None
    assert record.false_alarms == 0, record.alarms
    events = [e["event"] for e in _runlog(record)]
    # The guard did look: both batches were checked for drift and labelled quality.
    assert events.count("drift.checked") == 2
    assert events.count("quality.checked") == 2
    # ... and the scoring path's traces, with every clock right, were checked too.
    traces = [e for e in _runlog(record) if e["event"] == "traces.checked"]
    assert len(traces) == 1
    assert traces[0]["violation_count"] == 0
    assert traces[0]["early_warnings"] == []
    json.dumps(record.to_dict())
