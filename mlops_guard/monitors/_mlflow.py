"""Attach a monitor's summary to an MLflow run (metrics plus the JSON artifact)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard.errors import MonitorError

if TYPE_CHECKING:
    from mlops_guard.monitors._monitor import CheckpointMonitor

__all__ = ["SUMMARY_ARTIFACT", "log_monitor_summary"]

SUMMARY_ARTIFACT = "monitor/summary.json"


def log_monitor_summary(
    monitor: CheckpointMonitor,
    *,
    run_id: str | None = None,
    tracking_uri: str | None = None,
    artifact_file: str = SUMMARY_ARTIFACT,
) -> dict[str, float]:
    """Log ``monitor.summary()`` as metrics and ``status().to_dict()`` as ``monitor/summary.json``.

    Uses the active run when ``run_id`` is None. Returns the metrics logged.

    >>> # with mlflow.start_run():
    >>> #     log_monitor_summary(mon)
    """
    import mlflow
    from mlflow.entities import Metric
    from mlflow.exceptions import MlflowException

    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            raise MonitorError(
                "no MLflow run to attach the monitor summary to",
                hint="call it inside `with mlflow.start_run():` or pass run_id=",
            )
        run_id = active.info.run_id
    figures = monitor.summary()
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    timestamp = int(_time_ms())
    try:
        client.log_batch(
            run_id,
            metrics=[Metric(key, value, timestamp, 0) for key, value in sorted(figures.items())],
        )
        client.log_dict(run_id, monitor.status().to_dict(), artifact_file)
    except MlflowException as exc:
        raise MonitorError(
            f"monitor summary not logged to MLflow run {run_id}: {exc.message}",
            hint="check the tracking URI and that the run exists",
        ) from exc
    return figures


def _time_ms() -> float:
    import time

    return time.time() * 1000
