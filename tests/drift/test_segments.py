"""Segments checked in parallel by Prefect's Dask task runner on a real local Dask cluster."""

from __future__ import annotations

import pytest

from mlops_guard.demo import make_dataset
from mlops_guard.drift import build_profile, detect_drift, split_segments
from mlops_guard.errors import SchemaError
from mlops_guard.integrations.prefect import drift_check_segments


def test_segments_run_on_a_local_dask_cluster(prefect_server: str) -> None:
    from distributed import LocalCluster
    from prefect_dask.task_runners import DaskTaskRunner

    reference = make_dataset(rows=6000, seed=1)
    current = make_dataset(rows=3000, seed=2)
    # One region drifts: its customers got older and use far more data.
    south = current["region"] == "south"
    for column in (
        "age",
        "data_usage_gb",
        "tenure_months",
        "monthly_charges",
        "logins_30d",
        "support_calls",
        "total_charges",
        "avg_session_minutes",
    ):
        current.loc[south, column] = current.loc[south, column] * 1.8 + 5
    segments = split_segments(reference, current, "region")
    assert sorted(segments) == ["central", "east", "north", "south", "west"]
    # One segment from a profile: references of both kinds travel to the workers.
    segments["north"] = (build_profile(segments["north"][0]), segments["north"][1])

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        result = drift_check_segments(
            segments, task_runner=DaskTaskRunner(address=cluster.scheduler_address)
        )
    assert result.drifted_segments == ["south"]
    for name, (ref, cur) in segments.items():
        expected = detect_drift(ref, cur)
        assert result.reports[name].drift_share == pytest.approx(expected.drift_share)
    assert result.to_json()["drifted_segments"] == ["south"]


def test_split_segments_needs_the_column_in_both() -> None:
    reference = make_dataset(rows=100, seed=1)
    with pytest.raises(SchemaError, match="'segment'"):
        split_segments(reference, reference, "segment")
