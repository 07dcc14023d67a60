"""Scale-out: a drift check over many segments (per model, per region, ...) in parallel on Dask.

Each segment is one Prefect task run by ``prefect_dask.DaskTaskRunner``: on a local cluster by
default, or on an existing ``dask.distributed`` scheduler given by ``address``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prefect import flow, task
from prefect.cache_policies import NONE

from mlops_guard.drift._segments import SegmentsResult
from mlops_guard.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_guard.drift._engine import DriftConfig, DriftReport
    from mlops_guard.drift._profile import ReferenceProfile

__all__ = ["drift_check_segments"]


@task(name="drift-segment", cache_policy=NONE, persist_result=False)
def _check_segment(
    name: str,
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame,
    config: DriftConfig | None,
) -> DriftReport:
    from mlops_guard.drift._engine import detect_drift

    del name  # in the task's parameters so the run's page names the segment
    return detect_drift(reference, current, config=config)


def drift_check_segments(
    segments: Mapping[str, tuple[pd.DataFrame | ReferenceProfile, pd.DataFrame]],
    *,
    config: DriftConfig | None = None,
    address: str | None = None,
    task_runner: Any = None,
) -> SegmentsResult:
    """Run :func:`detect_drift` on every segment in parallel with Prefect's Dask task runner.

    ``segments`` maps a segment name to ``(reference, current)``; ``split_segments`` builds
    it from one column. ``address`` is a running ``dask.distributed`` scheduler
    (``tcp://127.0.0.1:8786``); without it ``DaskTaskRunner`` starts a temporary local cluster.
    ``task_runner`` replaces the runner altogether.
    """
    from prefect_dask.task_runners import DaskTaskRunner

    if not segments:
        raise UsageError("no segments to check", hint="pass at least one segment")
    runner: Any = task_runner or (DaskTaskRunner(address=address) if address else DaskTaskRunner())

    @flow(name="mlops-guard-drift-segments", task_runner=runner, validate_parameters=False)
    def segments_flow() -> dict[str, DriftReport]:
        futures = {
            name: _check_segment.submit(name, reference, current, config)
            for name, (reference, current) in segments.items()
        }
        return {name: future.result() for name, future in futures.items()}

    return SegmentsResult(reports=segments_flow())
