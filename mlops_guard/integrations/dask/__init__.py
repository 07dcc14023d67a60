"""Dask for data that outgrows one machine: reference profiles of a partitioned Parquet data
set built on a ``dask.distributed`` cluster, one partial profile per partition file, merged
exactly with :func:`mlops_guard.drift.merge`.

>>> from dask.distributed import Client  # doctest: +SKIP
>>> from mlops_guard.integrations.dask import build_profile_distributed  # doctest: +SKIP
>>> profile = build_profile_distributed("s3://bucket/reference/", client=Client())  # doctest: +SKIP

Needs ``pip install 'mlops-guard[dask]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.integrations.dask._profile import build_profile_distributed, partition_files

__all__ = ["build_profile_distributed", "partition_files"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "build_profile_distributed": "_profile",
        "partition_files": "_profile",
    },
)
