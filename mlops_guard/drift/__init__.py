"""Drift detection: Evidently-compatible statistics, fast, from data or a reference profile.

The defaults give the verdicts of Evidently 0.7's ``DataDriftPreset`` (same test per column,
same statistic to 1e-6 on rows and exact profiles, same data-set rule), from sorted column
summaries instead of rows, so a million-row check takes about a second.

>>> from mlops_guard.demo import make_dataset
>>> from mlops_guard.drift import build_profile, detect_drift
>>> reference = make_dataset(rows=5000, seed=1)
>>> profile = build_profile(reference)              # compact, mergeable, versioned JSON
>>> report = detect_drift(profile, make_dataset(rows=2000, seed=2, drift={"age": 1.0}))
>>> report.columns["age"].drifted, report.columns["age"].test
(True, 'wasserstein')

* :func:`detect_drift` -> :class:`DriftReport` (``to_json()`` is the ``drift --json`` shape;
  model outputs are reported apart, as prediction drift, outside the drift share);
  :class:`DriftConfig` for per-column tests and thresholds and a multiple-testing correction.
* :func:`build_profile`, :func:`load_profile`, :func:`merge`, :class:`ReferenceProfile`; what
  a profile keeps exactly and what approximately (with the error bound) is documented in
  ``mlops_guard/drift/_profile.py``.
* :func:`write_evidently_html`: Evidently's own report, on a seeded sample.
* :func:`concept_drift`: labelled quality against the reference, both with their sampling
  error, beyond a minimum effect; :func:`hanley_mcneil_se` when only the reference's row count
  is known. The training run's metrics it reads: :data:`REFERENCE_QUALITY_METRIC`,
  :data:`REFERENCE_QUALITY_SE_METRIC`, :data:`REFERENCE_ROWS_METRIC`.
* :func:`run_drift_check` (the check of the latest batches), :func:`check_champion_drift` (the
  scheduled check: report attached, labelled quality) and :func:`split_segments` (drift by
  segment). Their Prefect flows, ``drift_check_flow`` and ``drift_check_segments``
  (segments in parallel on Dask), live in :mod:`mlops_guard.integrations.prefect`.

Every name loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard.drift._check import (
        DRIFT_EVENT,
        REFERENCE_QUALITY_METRIC,
        REFERENCE_QUALITY_SE_METRIC,
        REFERENCE_ROWS_METRIC,
        ChampionReference,
        DriftCheckResult,
        load_champion_profile,
        load_champion_reference,
        run_drift_check,
    )
    from mlops_guard.drift._concept import (
        ConceptDriftResult,
        QualityMetric,
        ReferenceMethod,
        concept_drift,
        hanley_mcneil_se,
        quality,
    )
    from mlops_guard.drift._engine import ColumnDrift, DriftConfig, DriftReport, detect_drift
    from mlops_guard.drift._evidently import sample_from_profile, write_evidently_html
    from mlops_guard.drift._profile import (
        PROFILE_ARTIFACT_PATH,
        PROFILE_FORMAT,
        PROFILE_VERSION,
        ReferenceProfile,
        build_profile,
        load_profile,
        merge,
    )
    from mlops_guard.drift._scheduled import check_champion_drift
    from mlops_guard.drift._segments import SegmentsResult, split_segments
    from mlops_guard.drift._settings import Correction, DriftSettings
    from mlops_guard.drift._stats import TestName

__all__ = [
    # engine
    "detect_drift",
    "DriftConfig",
    "DriftReport",
    "ColumnDrift",
    "TestName",
    "Correction",
    "DriftSettings",
    # profiles
    "build_profile",
    "load_profile",
    "merge",
    "ReferenceProfile",
    "PROFILE_ARTIFACT_PATH",
    "PROFILE_FORMAT",
    "PROFILE_VERSION",
    # reports
    "write_evidently_html",
    "sample_from_profile",
    # concept drift
    "concept_drift",
    "quality",
    "hanley_mcneil_se",
    "ConceptDriftResult",
    "QualityMetric",
    "ReferenceMethod",
    # scheduled check and scale-out
    "run_drift_check",
    "check_champion_drift",
    "load_champion_profile",
    "load_champion_reference",
    "ChampionReference",
    "DriftCheckResult",
    "DRIFT_EVENT",
    "REFERENCE_QUALITY_METRIC",
    "REFERENCE_QUALITY_SE_METRIC",
    "REFERENCE_ROWS_METRIC",
    "split_segments",
    "SegmentsResult",
]

_LAZY = {
    "check_champion_drift": "mlops_guard.drift._scheduled",
    **dict.fromkeys(
        (
            "DRIFT_EVENT",
            "REFERENCE_QUALITY_METRIC",
            "REFERENCE_QUALITY_SE_METRIC",
            "REFERENCE_ROWS_METRIC",
            "ChampionReference",
            "DriftCheckResult",
            "load_champion_profile",
            "load_champion_reference",
            "run_drift_check",
        ),
        "mlops_guard.drift._check",
    ),
    **dict.fromkeys(
        (
            "ConceptDriftResult",
            "QualityMetric",
            "ReferenceMethod",
            "concept_drift",
            "hanley_mcneil_se",
            "quality",
        ),
        "mlops_guard.drift._concept",
    ),
    **dict.fromkeys(
        ("ColumnDrift", "DriftConfig", "DriftReport", "detect_drift"), "mlops_guard.drift._engine"
    ),
    **dict.fromkeys(
        ("sample_from_profile", "write_evidently_html"), "mlops_guard.drift._evidently"
    ),
    **dict.fromkeys(
        (
            "PROFILE_ARTIFACT_PATH",
            "PROFILE_FORMAT",
            "PROFILE_VERSION",
            "ReferenceProfile",
            "build_profile",
            "load_profile",
            "merge",
        ),
        "mlops_guard.drift._profile",
    ),
    **dict.fromkeys(
        ("SegmentsResult", "split_segments"),
        "mlops_guard.drift._segments",
    ),
    **dict.fromkeys(("Correction", "DriftSettings"), "mlops_guard.drift._settings"),
    "TestName": "mlops_guard.drift._stats",
}


def __getattr__(name: str) -> Any:
    # Everything loads on first use: the CLI imports this package for its sub-commands, and
    # `mlops-guard --help` must not pay for pydantic-settings, numpy or Prefect.
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
