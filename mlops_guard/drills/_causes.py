"""The root-cause classifier: which product signal names which cause.

Every label comes from something the product itself wrote: a run-log event of a check, a
monitor or the alert receiver, or an orchestrator event about a run (a run that failed or
crashed). The classifier never sees what a drill injected; a drill compares the label it
returns with the label its scenario expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

__all__ = [
    "ORCHESTRATOR_EVENTS",
    "ROOT_CAUSES",
    "RootCause",
    "classify",
    "classify_orchestrator",
]

RootCause = Literal[
    "data_quality",
    "data_drift",
    "concept_drift",
    "model_degradation",
    "stage_failure",
    "dependency_outage",
    "checkpoint_stall",
    "slow_storage",
    "straggler",
    "clock_skew",
]

ROOT_CAUSES: tuple[RootCause, ...] = get_args(RootCause)

#: What an orchestrator alone reports about a run (Prefect's Failed and Crashed states).
ORCHESTRATOR_EVENTS = ("run.failed", "run.crashed")

# The alert rules of deployments/prometheus/rules and the cause each one names.
_ALERT_CAUSES: Mapping[str, RootCause] = {
    "ModelWorseThanPrevious": "model_degradation",
    "ModelErrorRateHigh": "model_degradation",
    "ConceptDrift": "concept_drift",
    "DataDrift": "data_drift",
    "ValidationFailed": "data_quality",
    "StageFailed": "stage_failure",
    "AlertActionFailed": "dependency_outage",
    "TrainingStalled": "checkpoint_stall",
    "CheckpointSlowSave": "slow_storage",
    "TrainingStraggler": "straggler",
    "ClockOffsetNearOneWayDelay": "clock_skew",
}

# Monitor events name their cause by themselves.
_MONITOR_CAUSES: Mapping[str, RootCause] = {
    "training.stalled": "checkpoint_stall",
    "training.slow_save": "slow_storage",
    "training.straggler": "straggler",
}


def classify(event: Mapping[str, Any]) -> RootCause | None:  # noqa: PLR0911, PLR0912 - a branch a signal
    """The root cause a run-log event names, or None when it names none (a healthy check,
    a progress line, an event of the drill itself).

    >>> classify({"event": "drift.checked", "dataset_drift": True})
    'data_drift'
    >>> classify({"event": "drift.checked", "dataset_drift": False}) is None
    True
    >>> classify({"event": "training.slow_save"})
    'slow_storage'
    """
    name = str(event.get("event", ""))
    if name in _MONITOR_CAUSES:
        return _MONITOR_CAUSES[name]
    if name == "validation.failed":
        return "data_quality"
    if name == "inference.scored" and (event.get("rows_quarantined") or 0) > 0:
        return "data_quality"
    if name == "drift.checked":
        # Covariate drift first: when the inputs moved, a quality drop follows from it.
        if event.get("dataset_drift"):
            return "data_drift"
        if event.get("concept_drift"):
            return "concept_drift"
        return None
    if name == "quality.checked" and event.get("degraded"):
        # The champion lost quality against its own reference on inputs that did not drift:
        # the relation between features and label changed.
        return "concept_drift"
    if name == "quality.compared" and event.get("worse"):
        return "model_degradation"
    if name == "traces.checked" and (
        (event.get("violation_count") or 0) > 0 or event.get("early_warnings")
    ):
        # Traces that break causality, or a host whose offset nears the one-way delay.
        return "clock_skew"
    if name == "stage.failed":
        return "stage_failure"
    if name in ("alert.action.retry", "alert.action.failed"):
        # The action could not reach what it acts on: that outage is the cause to fix first.
        error = str(event.get("error", ""))
        if error.startswith(("RegistryUnavailable", "ServiceUnavailable")):
            return "dependency_outage"
    if name.startswith("alert."):
        # The receiver's events carry the rule that fired; the rule names the cause.
        return _ALERT_CAUSES.get(str(event.get("alertname", "")))
    return None


def classify_orchestrator(event: Mapping[str, Any]) -> RootCause | None:
    """What a plain orchestrator can name: a run that failed or crashed is a stage failure;
    nothing else it reports names a cause.

    >>> classify_orchestrator({"event": "run.crashed"})
    'stage_failure'
    >>> classify_orchestrator({"event": "drift.checked", "dataset_drift": True}) is None
    True
    """
    if str(event.get("event", "")) in ORCHESTRATOR_EVENTS:
        return "stage_failure"
    return None
