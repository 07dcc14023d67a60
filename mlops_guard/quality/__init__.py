"""Labelled quality of model versions: the metrics of a version with their intervals
(:func:`measure`), and whether the champion is worse than the version it replaced.

>>> from mlops_guard.quality import measure, compare_versions  # doctest: +SKIP
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
    from mlops_guard.quality._metrics import MetricValue, QualityReport, measure
    from mlops_guard.quality._settings import QualitySettings

__all__ = [
    "BatchQuality",
    "MetricValue",
    "QualityReport",
    "QualitySettings",
    "VersionComparison",
    "batch_quality",
    "compare_versions",
    "measure",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "BatchQuality": "_compare",
        "VersionComparison": "_compare",
        "batch_quality": "_compare",
        "compare_versions": "_compare",
        "MetricValue": "_metrics",
        "QualityReport": "_metrics",
        "measure": "_metrics",
        "QualitySettings": "_settings",
    },
)
