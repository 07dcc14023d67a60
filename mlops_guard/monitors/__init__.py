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

from mlops_guard.monitors._lightning import CheckpointMonitorCallback
from mlops_guard.monitors._mlflow import SUMMARY_ARTIFACT, log_monitor_summary
from mlops_guard.monitors._monitor import (
    AlertKind,
    CheckpointMonitor,
    MonitorAlert,
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
