"""The root-cause classifier: each product signal names its cause, healthy ones name none."""

from __future__ import annotations

import pytest

from mlops_guard.drills import ROOT_CAUSES, classify, classify_orchestrator

CASES = [
    ({"event": "validation.failed", "rows_quarantined": 12}, "data_quality"),
    ({"event": "inference.scored", "rows_quarantined": 3}, "data_quality"),
    ({"event": "drift.checked", "dataset_drift": True, "concept_drift": True}, "data_drift"),
    ({"event": "drift.checked", "dataset_drift": False, "concept_drift": True}, "concept_drift"),
    ({"event": "quality.checked", "degraded": True}, "concept_drift"),
    ({"event": "quality.compared", "worse": True}, "model_degradation"),
    ({"event": "stage.failed", "stage": "score"}, "stage_failure"),
    (
        {
            "event": "alert.action.retry",
            "alertname": "ModelWorseThanPrevious",
            "error": "RegistryUnavailable: MLflow at http://x failed",
        },
        "dependency_outage",
    ),
    ({"event": "alert.action.done", "alertname": "ModelWorseThanPrevious"}, "model_degradation"),
    ({"event": "training.stalled"}, "checkpoint_stall"),
    ({"event": "training.slow_save"}, "slow_storage"),
    ({"event": "training.straggler"}, "straggler"),
    ({"event": "traces.checked", "violation_count": 12, "early_warnings": []}, "clock_skew"),
    ({"event": "traces.checked", "violation_count": 0, "early_warnings": ["b"]}, "clock_skew"),
    ({"event": "alert.received", "alertname": "ClockOffsetNearOneWayDelay"}, "clock_skew"),
]

HEALTHY = [
    {"event": "validation.completed"},
    {"event": "inference.scored", "rows_quarantined": 0},
    {"event": "drift.checked", "dataset_drift": False, "concept_drift": None},
    {"event": "quality.checked", "degraded": False},
    {"event": "quality.compared", "worse": False},
    {"event": "stage.completed"},
    {"event": "alert.received"},
    {"event": "alert.action.retry", "error": "KeyError: x"},
    {"event": "training.recovered"},
    {"event": "traces.checked", "violation_count": 0, "early_warnings": []},
    {"event": "registry.rolled_back"},
]


@pytest.mark.parametrize(("event", "cause"), CASES)
def test_each_signal_names_its_cause(event: dict[str, object], cause: str) -> None:
    assert classify(event) == cause


@pytest.mark.parametrize("event", HEALTHY)
def test_healthy_signals_name_no_cause(event: dict[str, object]) -> None:
    assert classify(event) is None


def test_the_cases_cover_every_cause() -> None:
    assert {cause for _, cause in CASES} == set(ROOT_CAUSES)


def test_a_plain_orchestrator_names_only_failed_runs() -> None:
    assert classify_orchestrator({"event": "run.crashed"}) == "stage_failure"
    assert classify_orchestrator({"event": "run.failed"}) == "stage_failure"
    assert all(classify_orchestrator(event) is None for event, _ in CASES)
