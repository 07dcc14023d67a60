"""Drift by segment (per region, per customer tier, ...): the segments and their reports.

Running the segments in parallel is the orchestrator's: ``drift_check_segments`` in
:mod:`mlops_guard.integrations.prefect` runs one task per segment on Dask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import SchemaError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_guard.drift._engine import DriftReport

__all__ = ["SegmentsResult", "split_segments"]


@dataclass(frozen=True)
class SegmentsResult:
    """One drift report per segment."""

    reports: dict[str, DriftReport]

    @property
    def drifted_segments(self) -> list[str]:
        return [name for name, report in self.reports.items() if report.dataset_drift]

    def to_json(self) -> dict[str, Any]:
        return {
            "drifted_segments": self.drifted_segments,
            "segments": {name: report.to_json() for name, report in self.reports.items()},
        }


def split_segments(
    reference: pd.DataFrame, current: pd.DataFrame, column: str
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Segments by the values of ``column`` present in both frames (e.g. ``region``)."""
    for side, frame in (("reference", reference), ("current", current)):
        if column not in frame.columns:
            raise SchemaError(
                f"segment column {column!r} is not in the {side} data",
                hint="pick a column present in both",
            )
    ref_groups = {str(k): g for k, g in reference.groupby(column, sort=True, observed=True)}
    cur_groups = {str(k): g for k, g in current.groupby(column, sort=True, observed=True)}
    common = [key for key in ref_groups if key in cur_groups]
    if not common:
        raise SchemaError(
            f"no value of {column!r} appears in both data sets",
            hint="segment by a column whose values the current data shares",
        )
    return {key: (ref_groups[key], cur_groups[key]) for key in common}
