"""What the checkpoint monitor and the straggler detector both report: the alert, its kinds,
and how an alert reaches the run log, the orchestrators' events and the user's callback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.settings import GuardSettings

__all__ = [
    "MONITOR_EVENTS",
    "RUNLOG_EVENTS",
    "AlertKind",
    "MonitorAlert",
    "emit_alert",
    "median_of",
    "now_rfc3339",
]

_log = logging.getLogger("mlops_guard.monitors")

AlertKind = Literal["stalled", "recovered", "slow_save", "straggler", "straggler_recovered"]

# Run-log event names per alert kind (the names other concerns and dashboards look for).
RUNLOG_EVENTS: dict[str, str] = {
    "stalled": "training.stalled",
    "recovered": "training.recovered",
    "slow_save": "training.slow_save",
    "straggler": "training.straggler",
    "straggler_recovered": "training.straggler_recovered",
}
_LEVELS: dict[str, str] = {
    "stalled": "WARNING",
    "recovered": "INFO",
    "slow_save": "WARNING",
    "straggler": "WARNING",
    "straggler_recovered": "INFO",
}
# Only these two become Prefect events: automations trigger on state changes of training.
MONITOR_EVENTS: dict[str, str] = {
    "stalled": "mlops_guard.training.stalled",
    "recovered": "mlops_guard.training.recovered",
}


@dataclass(frozen=True, slots=True)
class MonitorAlert:
    """One state change the monitor (or the straggler detector) noticed.

    ``detected_after_s`` is the time from the last sign of progress (heartbeat, save start,
    checkpoint) to the detection: the time to detect. ``limit_s`` is the limit that was crossed.
    ``value`` depends on the kind: the save's seconds (slow_save), the seconds stalled
    (recovered), the worker's score (straggler).
    """

    kind: AlertKind
    job: str
    model: str
    at: str
    message: str
    reasons: tuple[str, ...] = ()
    detected_after_s: float | None = None
    limit_s: float | None = None
    value: float | None = None
    step: int | None = None
    worker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return data


def median_of(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def now_rfc3339() -> str:
    from mlops_guard.runlog import rfc3339_now

    return rfc3339_now()


def emit_alert(
    alert: MonitorAlert,
    *,
    guard_settings: GuardSettings,
    metrics: GuardMetrics,
    prefect_events: bool,
    on_alert: Callable[[MonitorAlert], None] | None,
) -> None:
    """Send one alert to the run log, Prefect events and the callback; never raises."""
    from mlops_guard.runlog import log_event

    try:
        fields = alert.to_dict()
        fields.pop("kind")
        fields.pop("at")
        log_event(RUNLOG_EVENTS[alert.kind], _LEVELS[alert.kind], settings=guard_settings, **fields)
    except Exception as exc:  # noqa: BLE001 - observability never breaks the job
        metrics.sink_failures_total.labels(sink="runlog").inc()
        _log.warning("run-log event %s not written (%s)", alert.kind, exc)
    if prefect_events and alert.kind in MONITOR_EVENTS:
        _emit_event(alert, metrics)
    if on_alert is not None:
        try:
            on_alert(alert)
        except Exception as exc:  # noqa: BLE001 - a user callback must not kill the watchdog
            metrics.sink_failures_total.labels(sink="monitor_callback").inc()
            _log.warning("monitor on_alert callback failed (%s: %s)", type(exc).__name__, exc)


def _emit_event(alert: MonitorAlert, metrics: GuardMetrics) -> None:
    from mlops_guard._events import GuardEvent, emit

    emit(
        GuardEvent(
            event=MONITOR_EVENTS[alert.kind],
            resource_id=f"mlops_guard.training.{alert.job}",
            resource_name=alert.job,
            related=(
                {"id": f"mlops_guard.model.{alert.model}", "role": "model", "name": alert.model},
            ),
            payload=alert.to_dict(),
        ),
        metrics=metrics,
    )
