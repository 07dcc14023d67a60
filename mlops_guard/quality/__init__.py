"""Labelled quality of model versions: the metrics of a version with their intervals
(:func:`measure`), a labelled batch judged against the reference quality stored with the
version (:func:`compare_quality`, :func:`check_quality`), and whether the champion is worse
than the version it replaced on the same rows (:func:`compare_versions`).

>>> from mlops_guard.quality import check_quality, measure  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.quality._check import QualityCheck, check_quality
    from mlops_guard.quality._compare import (
        BatchQuality,
        VersionComparison,
        batch_quality,
        compare_versions,
    )
    from mlops_guard.quality._metrics import (
        MetricComparison,
        MetricValue,
        QualityComparison,
        QualityReport,
        compare_quality,
        measure,
    )
    from mlops_guard.quality._settings import QualitySettings
    from mlops_guard.quality._store import (
        REFERENCE_QUALITY_TAG,
        load_reference_quality,
        save_reference_quality,
    )

__all__ = [
    "REFERENCE_QUALITY_TAG",
    "BatchQuality",
    "MetricComparison",
    "MetricValue",
    "QualityCheck",
    "QualityComparison",
    "QualityReport",
    "QualitySettings",
    "VersionComparison",
    "batch_quality",
    "check_quality",
    "compare_quality",
    "compare_versions",
    "load_reference_quality",
    "measure",
    "save_reference_quality",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "QualityCheck": "_check",
        "check_quality": "_check",
        "BatchQuality": "_compare",
        "VersionComparison": "_compare",
        "batch_quality": "_compare",
        "compare_versions": "_compare",
        "MetricComparison": "_metrics",
        "MetricValue": "_metrics",
        "QualityComparison": "_metrics",
        "QualityReport": "_metrics",
        "compare_quality": "_metrics",
        "measure": "_metrics",
        "QualitySettings": "_settings",
        "REFERENCE_QUALITY_TAG": "_store",
        "load_reference_quality": "_store",
        "save_reference_quality": "_store",
    },
)
