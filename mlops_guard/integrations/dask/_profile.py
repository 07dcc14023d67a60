"""Reference profiles of partitioned Parquet data sets on a ``dask.distributed`` cluster."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import DataNotFound, UsageError

if TYPE_CHECKING:
    from mlops_guard.drift import ReferenceProfile
    from mlops_guard.drift._settings import DriftSettings

__all__ = ["build_profile_distributed", "partition_files"]


def partition_files(path: str | Path) -> list[str]:
    """The Parquet files of a data set: a file, or a directory of them (hive-style
    ``key=value`` sub-directories included), in a stable order."""
    root = Path(path)
    if root.is_file():
        return [str(root)]
    if not root.is_dir():
        raise DataNotFound(
            f"{str(root)!r} does not exist", hint="pass a Parquet file or a directory of them"
        )
    files = sorted(str(p) for p in root.rglob("*.parquet") if p.is_file())
    if not files:
        raise DataNotFound(
            f"{str(root)!r} holds no .parquet files",
            hint="pass the directory of a partitioned Parquet data set",
        )
    return files


def _profile_one(path: str, settings: DriftSettings | None) -> ReferenceProfile:
    from mlops_guard.drift import build_profile

    return build_profile(path, settings=settings)


def _merge_all(profiles: list[ReferenceProfile]) -> ReferenceProfile:
    from mlops_guard.drift import merge

    return functools.reduce(merge, profiles)


def build_profile_distributed(
    path: str | Path,
    *,
    client: Any = None,
    settings: DriftSettings | None = None,
    metadata: dict[str, Any] | None = None,
) -> ReferenceProfile:
    """Profile every partition file on the cluster of ``client`` (the current
    ``dask.distributed`` client when None) and merge the partial profiles.

    Each worker reads only its own files; what travels back is the partial profile (bounded
    by the profile's exact-value limit, not by the data). Merging is the same exact merge a
    chunked build uses, so the result equals one profile of all the rows.
    """
    try:
        from dask.distributed import get_client
    except ImportError as exc:
        raise UsageError(
            "building a profile on Dask needs dask.distributed",
            hint="pip install 'mlops-guard[dask]'",
        ) from exc
    files = partition_files(path)
    if client is None:
        try:
            client = get_client()
        except ValueError as exc:
            raise UsageError(
                "no dask.distributed client is running",
                hint="pass client=Client(...) or create one before calling",
            ) from exc
    futures = client.map(_profile_one, files, settings=settings, pure=False)
    # A tree of merges on the workers: partial profiles never all sit in one process.
    while len(futures) > 1:
        pairs = [futures[i : i + 2] for i in range(0, len(futures), 2)]
        futures = [client.submit(_merge_all, pair, pure=False) for pair in pairs]
    profile: ReferenceProfile = futures[0].result()
    if metadata:
        profile.metadata.update(metadata)
    return profile
