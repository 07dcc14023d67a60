"""Worker processes for the straggler tests (a module, so ``spawn`` can import it)."""

from __future__ import annotations

import os
import time
from typing import Any


def train_worker(
    *,
    address: str,
    worker: str,
    step_seconds: float,
    report_period: float,
    workdir: str,
    ready: Any,
    slow_down: Any,
    stop: Any,
) -> None:
    """A training loop whose steps sleep; 2x slower while ``slow_down`` is set."""
    os.environ["MLOPS_GUARD_WORKDIR"] = workdir
    from mlops_guard.monitors import CheckpointMonitor

    mon = CheckpointMonitor(
        job="train",
        model="churn",
        worker=worker,
        straggler_address=address,
        watchdog_period_seconds=report_period,
        warmup_steps=2,
        prefect_events=False,
        flush_metrics=False,
    )
    with mon:
        ready.set()
        while not stop.is_set():
            slow = slow_down is not None and slow_down.is_set()
            time.sleep(step_seconds * (2 if slow else 1))  # the simulated training step
            mon.step()
