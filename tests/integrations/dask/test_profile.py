"""Reference profiles on a real ``dask.distributed`` cluster with worker processes: one partial
profile per partition of a Parquet data set, merged, equal to the profile of all the rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_guard.demo import make_dataset
from mlops_guard.drift import build_profile
from mlops_guard.errors import DataNotFound, UsageError
from mlops_guard.integrations.dask import build_profile_distributed, partition_files

pytestmark = pytest.mark.slow

PARTITIONS = 5


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as connected,
    ):
        yield connected


# Summed in another order, the running mean and sum of squares differ in the last bits; the
# category lists keep first-seen order. Everything else (counts, values, categories) is exact.
_ROUNDED = ("mean", "m2")


def _comparable(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {
            k: _comparable(v, k) for k, v in value.items() if k not in {"created_at", "metadata"}
        }
    if key == "categories" and value is not None:
        return dict(value)
    if key in _ROUNDED and isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


@pytest.mark.parametrize(("tasks_per_thread", "profiling_tasks"), [(4, PARTITIONS), (1, 2)])
def test_partitioned_profile_equals_the_profile_of_all_rows(
    client: Any, tmp_path: Path, tasks_per_thread: int, profiling_tasks: int
) -> None:
    frame = make_dataset(rows=6_000, seed=3)
    root = tmp_path / "reference"
    for i in range(PARTITIONS):
        part = root / f"month={i + 1:02d}"
        part.mkdir(parents=True)
        frame.iloc[i::PARTITIONS].to_parquet(part / "part-0.parquet", index=False)
    files = partition_files(root)
    assert len(files) == PARTITIONS

    from dask.distributed import get_task_stream

    with get_task_stream(client) as stream:
        distributed = build_profile_distributed(
            root, client=client, metadata={"source": "dask"}, tasks_per_thread=tasks_per_thread
        )
    whole = build_profile(frame)
    assert distributed.rows == len(frame)
    assert distributed.metadata == {"source": "dask"}
    assert _comparable(distributed.to_dict()) == _comparable(whole.to_dict())
    # Partial profiles built in the worker processes (one task per file while there are fewer
    # files than tasks_per_thread x 2 threads, else groups of files), then merged there.
    keys = [str(task["key"]) for task in stream.data]
    assert sum("_profile_files" in key for key in keys) == profiling_tasks
    assert sum("_merge_all" in key for key in keys) == profiling_tasks - 1
    assert {task["worker"] for task in stream.data} <= set(client.scheduler_info()["workers"])


def test_a_task_count_below_one_is_refused(client: Any, tmp_path: Path) -> None:
    make_dataset(rows=100, seed=1).to_parquet(tmp_path / "part.parquet", index=False)
    with pytest.raises(UsageError, match="tasks_per_thread must be at least 1, got 0"):
        build_profile_distributed(tmp_path, client=client, tasks_per_thread=0)


def test_a_path_without_parquet_files_is_refused(client: Any, tmp_path: Path) -> None:
    with pytest.raises(DataNotFound, match=r"no \.parquet files"):
        build_profile_distributed(tmp_path, client=client)
