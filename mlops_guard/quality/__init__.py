"""Labelled quality of model versions: is the champion worse than the version it replaced?

>>> from mlops_guard.quality import compare_versions  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.quality._compare import (
        BatchQuality,
        VersionComparison,
        batch_quality,
        compare_versions,
    )
    from mlops_guard.quality._settings import QualitySettings

__all__ = [
    "BatchQuality",
    "QualitySettings",
    "VersionComparison",
    "batch_quality",
    "compare_versions",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "BatchQuality": "_compare",
        "VersionComparison": "_compare",
        "batch_quality": "_compare",
        "compare_versions": "_compare",
        "QualitySettings": "_settings",
    },
)
