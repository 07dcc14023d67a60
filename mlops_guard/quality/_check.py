"""Is a model version worse on newly labelled data than on its reference data?

:func:`check_quality` scores a labelled batch with the version (the champion unless told),
measures it (:func:`~mlops_guard.quality.measure`) and compares it with the reference quality
stored with the version at registration (:func:`~mlops_guard.quality.compare_quality`). Rows
without a label are left out and counted; rows the model cannot score are left out and
counted. The metrics go to ``mlops_guard_model_quality`` (best effort: a failing sink is
logged and counted, never raised) and the verdict to the run log as ``quality.checked``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import EmptyData, ModelNotFound
from mlops_guard.settings import resolve_settings

if TYPE_CHECKING:
    import pandas as pd

    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.quality._metrics import QualityComparison, QualityReport
    from mlops_guard.quality._settings import QualitySettings
    from mlops_guard.settings import GuardSettings

__all__ = ["QualityCheck", "check_quality"]

# The textfile and Pushgateway group of this check's metrics.
_FLOW = "quality_check"


@dataclass(frozen=True)
class QualityCheck:
    """A labelled batch's quality against the version's reference quality."""

    model: str
    version: str
    task: str
    rows: int
    rows_unlabelled: int
    rows_failed: int
    reference: QualityReport
    current: QualityReport
    comparison: QualityComparison

    @property
    def degraded(self) -> bool:
        return self.comparison.degraded

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "task": self.task,
            "rows": self.rows,
            "rows_unlabelled": self.rows_unlabelled,
            "rows_failed": self.rows_failed,
            "degraded": self.degraded,
            "metrics": {name: m.to_json() for name, m in self.comparison.metrics.items()},
        }


def _resolve_version(model: str, version: str | None, settings: GuardSettings) -> str:
    from mlops_guard.registry import get_champion

    if version is not None:
        return str(version)
    champion = get_champion(model, settings=settings)
    if champion is None:
        raise ModelNotFound(
            f"model {model!r} has no champion version",
            hint="pass --version V, or promote a version with 'mlops-guard registry promote'",
        )
    return champion


def _set_metrics(metrics: GuardMetrics, check: QualityCheck) -> None:
    labels = {"model": check.model, "model_version": check.version}
    for name, metric in check.current.metrics.items():
        metrics.model_quality.labels(**labels, metric=name).set(metric.value)
    for name, compared in check.comparison.metrics.items():
        metrics.model_quality_degraded.labels(**labels, metric=name).set(
            1.0 if compared.degraded else 0.0
        )


def check_quality(
    model: str,
    data: str | Path | pd.DataFrame,
    *,
    version: str | None = None,
    settings: GuardSettings | None = None,
    quality_settings: QualitySettings | None = None,
    metrics: GuardMetrics | None = None,
) -> QualityCheck:
    """Judge the labelled rows of ``data`` (a CSV or Parquet path, or a frame) against the
    reference quality of ``version`` of ``model`` (its champion by default).

    Raises :class:`~mlops_guard.errors.ModelNotFound` / ``VersionNotFound`` (unknown model or
    version, no champion), :class:`~mlops_guard.errors.ContractError` (no contract or reference
    quality, labels outside the classes, a non-numeric regression label),
    :class:`~mlops_guard.errors.SchemaError` (a feature or the label missing) and
    :class:`~mlops_guard.errors.EmptyData` (no labelled row, or none the model could score).
    """
    from mlops_guard.contract import load_contract, load_predictor
    from mlops_guard.data import read_table
    from mlops_guard.metrics import MetricsSink, get_metrics
    from mlops_guard.quality._metrics import compare_quality, measure
    from mlops_guard.quality._settings import QualitySettings
    from mlops_guard.quality._store import load_reference_quality
    from mlops_guard.runlog import bind, log_event

    settings = resolve_settings(settings)
    quality_settings = quality_settings or QualitySettings()
    metrics = metrics or get_metrics()
    version = _resolve_version(model, version, settings)
    contract = load_contract(model, version, settings)
    reference = load_reference_quality(model, version, settings)

    source = "the data" if not isinstance(data, str | Path) else str(data)
    frame = data if not isinstance(data, str | Path) else read_table(data)
    contract.require_columns(frame, source=source, label=True)
    labelled = frame[frame[contract.label].notna()].reset_index(drop=True)
    unlabelled = len(frame) - len(labelled)
    if labelled.empty:
        raise EmptyData(
            f"{source!r} has no row with a label {contract.label!r} ({len(frame)} rows)",
            hint="pass labelled rows",
        )
    contract.check_labels(labelled[contract.label], source=source)

    predictions, failures = load_predictor(settings, model, version, contract).score(labelled)
    if predictions.empty:
        first = next(iter(failures.values()), "no reason given")
        raise EmptyData(
            f"version {version} of {model!r} scored none of the {len(labelled)} labelled rows "
            f"of {source!r} (first failure: {first})",
            hint="check that the data has the features the model was trained on",
        )
    truth = labelled[contract.label].loc[predictions.index]
    current = measure(contract, truth, predictions, settings=quality_settings)
    check = QualityCheck(
        model=model,
        version=version,
        task=contract.task,
        rows=current.rows,
        rows_unlabelled=unlabelled,
        rows_failed=len(failures),
        reference=reference,
        current=current,
        comparison=compare_quality(reference, current, quality_settings),
    )

    _set_metrics(metrics, check)
    with bind(model=model, model_version=version):
        log_event(
            "quality.checked",
            "WARNING" if check.degraded else "INFO",
            settings=settings,
            task=check.task,
            rows=check.rows,
            rows_unlabelled=check.rows_unlabelled,
            rows_failed=check.rows_failed,
            degraded=check.degraded,
            degraded_metrics=check.comparison.degraded_metrics,
            metrics=check.to_json()["metrics"],
        )
    MetricsSink(settings, metrics).flush(flow=_FLOW)
    return check
