"""Checkpoint timing monitors for training: stalls, slow saves and stragglers, within seconds.

::

    from mlops_guard.monitors import CheckpointMonitor

    mon = CheckpointMonitor(job="train", model="churn")   # thresholds from MonitorSettings
    with mon:                                             # starts and stops the watchdog
        for step, batch in enumerate(data):
            train_step(batch)
            mon.step()                                    # heartbeat, a few microseconds
            if step % 100 == 0:
                with mon.checkpoint(step, nbytes=None):   # times the save
                    save_checkpoint(path)
    mon.status()                                          # typed MonitorStatus snapshot
    mon.summary()                                         # flat figures for mlflow.log_metrics

Several worker processes: run a :class:`StragglerDetector` and give each worker's monitor its
``address`` (``straggler_address=`` or ``MLOPS_GUARD_MONITORS_STRAGGLER_ADDRESS``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.monitors._alerts import AlertKind, MonitorAlert
    from mlops_guard.monitors._lightning import CheckpointMonitorCallback
    from mlops_guard.monitors._mlflow import SUMMARY_ARTIFACT, log_monitor_summary
    from mlops_guard.monitors._monitor import (
        CheckpointMonitor,
        MonitorStatus,
        SaveTimer,
        StallReason,
    )
    from mlops_guard.monitors._settings import MonitorSettings
    from mlops_guard.monitors._stragglers import (
        StragglerDetector,
        StragglerReport,
        StragglerReporter,
        WorkerScore,
    )
    from mlops_guard.monitors._summary import SummaryVerdict, judge_summary, read_summary

__all__ = [
    # The monitor and what it returns.
    "CheckpointMonitor",
    "MonitorStatus",
    "MonitorAlert",
    "SaveTimer",
    "AlertKind",
    "StallReason",
    "MonitorSettings",
    # Stragglers across processes.
    "StragglerDetector",
    "StragglerReporter",
    "StragglerReport",
    "WorkerScore",
    # Integrations.
    "CheckpointMonitorCallback",
    "log_monitor_summary",
    "SUMMARY_ARTIFACT",
    # Finished runs.
    "read_summary",
    "judge_summary",
    "SummaryVerdict",
]

# Every name loads its module on first use: `mlops-guard --help` imports this package.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CheckpointMonitorCallback": "_lightning",
        "SUMMARY_ARTIFACT": "_mlflow",
        "log_monitor_summary": "_mlflow",
        "AlertKind": "_alerts",
        "CheckpointMonitor": "_monitor",
        "MonitorAlert": "_alerts",
        "MonitorStatus": "_monitor",
        "SaveTimer": "_monitor",
        "StallReason": "_monitor",
        "MonitorSettings": "_settings",
        "StragglerDetector": "_stragglers",
        "StragglerReport": "_stragglers",
        "StragglerReporter": "_stragglers",
        "WorkerScore": "_stragglers",
        "SummaryVerdict": "_summary",
        "judge_summary": "_summary",
        "read_summary": "_summary",
    },
)
