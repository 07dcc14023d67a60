"""The scheduled drift check: latest scored batches against the champion's reference profile.

:func:`run_drift_check` reads the newest scored batch files of a model in
``<workdir>/predictions/``, loads the reference profile stored with the champion version's
training run (MLflow artifact :data:`PROFILE_ARTIFACT_PATH`), checks features, scores and
predictions for drift (and the quality for concept drift when labels are present), then reports:
a ``drift.checked`` run-log event, the drift gauges, and, on drift, the Prefect event
``mlops_guard.drift.detected``. Observability is best effort: a failing sink is logged and
counted, never raised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.drift._profile import PROFILE_ARTIFACT_PATH
from mlops_guard.errors import (
    DataError,
    DataNotFound,
    ModelNotFound,
    ProfileError,
    RegistryUnavailable,
)

if TYPE_CHECKING:
    import pandas as pd

    from mlops_guard.drift._concept import ConceptDriftResult
    from mlops_guard.drift._engine import DriftConfig, DriftReport
    from mlops_guard.drift._profile import ReferenceProfile
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.settings import GuardSettings

__all__ = [
    "DRIFT_EVENT",
    "ChampionReference",
    "DriftCheckResult",
    "load_champion_profile",
    "load_champion_reference",
    "run_drift_check",
]

DRIFT_EVENT = "mlops_guard.drift.detected"
#: The training run's metric a concept-drift check compares with (the lead's training flow).
REFERENCE_QUALITY_METRIC = "test_roc_auc"
_log = logging.getLogger("mlops_guard.drift")


@dataclass(frozen=True)
class ChampionReference:
    """The champion version, its training run and the profile stored with it."""

    model: str
    version: str
    run_id: str
    profile: ReferenceProfile
    reference_quality: float | None


@dataclass(frozen=True)
class DriftCheckResult:
    """What one scheduled check found."""

    model: str
    model_version: str | None
    batches: list[str]
    rows: int
    report: DriftReport
    concept: ConceptDriftResult | None
    checked_at: str
    event_emitted: bool = False
    html: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def dataset_drift(self) -> bool:
        return self.report.dataset_drift

    @property
    def concept_drift(self) -> bool:
        return self.concept is not None and self.concept.significant

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_version": self.model_version,
            "checked_at": self.checked_at,
            "batches": self.batches,
            "rows": self.rows,
            "drift": self.report.to_json(),
            "concept": None if self.concept is None else self.concept.to_json(),
            "event_emitted": self.event_emitted,
            "html": self.html,
            "notes": self.notes,
        }


def _client(settings: GuardSettings) -> Any:
    from mlflow.tracking import MlflowClient

    uri = settings.mlflow_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def load_champion_reference(model: str, settings: GuardSettings) -> ChampionReference:
    """Champion alias -> model version -> its training run -> the stored profile.

    Raises :class:`ModelNotFound` (no champion), :class:`ProfileError` (the run has no profile
    or a bad one) or :class:`RegistryUnavailable` (MLflow could not be reached).
    """
    import tempfile

    from mlflow.exceptions import MlflowException

    from mlops_guard.drift._profile import load_profile

    client = _client(settings)
    try:
        version = client.get_model_version_by_alias(model, "champion")
    except MlflowException as exc:
        raise ModelNotFound(
            f"model {model!r} has no 'champion' version in {settings.mlflow_tracking_uri!r}",
            hint="train and register a version first, or check MLOPS_GUARD_MODEL_NAME",
        ) from exc
    except OSError as exc:
        raise RegistryUnavailable(
            f"MLflow at {settings.mlflow_tracking_uri!r} cannot be reached ({exc})",
            hint="check MLOPS_GUARD_TRACKING_URI and that the server is up",
        ) from exc
    run_id = str(version.run_id)
    with tempfile.TemporaryDirectory(prefix="mlops-guard-profile-") as tmp:
        try:
            local = client.download_artifacts(run_id, PROFILE_ARTIFACT_PATH, tmp)
        except (MlflowException, OSError) as exc:
            raise ProfileError(
                f"champion {model!r} version {version.version} (run {run_id}) has no drift "
                f"profile at {PROFILE_ARTIFACT_PATH!r}",
                hint="log one in the training run: "
                "mlflow.log_artifact(path, artifact_path='reference')",
            ) from exc
        profile = load_profile(local)
    quality: float | None = None
    try:
        metrics = client.get_run(run_id).data.metrics
        if REFERENCE_QUALITY_METRIC in metrics:
            quality = float(metrics[REFERENCE_QUALITY_METRIC])
    except MlflowException:
        quality = None
    if quality is None and "roc_auc" in profile.metadata:
        quality = float(profile.metadata["roc_auc"])
    return ChampionReference(model, str(version.version), run_id, profile, quality)


def load_champion_profile(model: str, settings: GuardSettings) -> ReferenceProfile:
    """The reference profile stored with the champion version of ``model``."""
    return load_champion_reference(model, settings).profile


def latest_batches(settings: GuardSettings, model: str, count: int) -> list[Path]:
    """The ``count`` newest scored batch files of ``model`` (by modification time)."""
    directory = settings.predictions_dir
    files = [p for p in directory.glob(f"{model}-v*-*.parquet") if p.is_file()]
    if not files:
        raise DataNotFound(
            f"no scored batches of model {model!r} in {str(directory)!r}",
            hint="run the inference flow first, or point MLOPS_GUARD_WORKDIR at its workdir",
        )
    files.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
    return files[-count:]


def _read_batches(paths: list[Path]) -> pd.DataFrame:
    import pandas as pd

    from mlops_guard.data import read_table

    frames = [read_table(path) for path in paths]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _emit(model: str, payload: dict[str, Any], metrics: GuardMetrics) -> bool:
    """Emit the drift event; best effort (logged and counted on failure)."""
    try:
        from prefect.events import emit_event

        resource_id = f"mlops_guard.model.{model}"
        sent = emit_event(
            event=DRIFT_EVENT,
            resource={"prefect.resource.id": resource_id, "prefect.resource.name": model},
            payload=payload,
        )
    except Exception as exc:  # noqa: BLE001 - an event is observability, never a failure
        metrics.sink_failures_total.labels(sink="prefect_events").inc()
        _log.warning("Prefect event %s not emitted (%s: %s)", DRIFT_EVENT, type(exc).__name__, exc)
        return False
    return sent is not None


def _set_metrics(
    metrics: GuardMetrics, model: str, report: DriftReport, concept: ConceptDriftResult | None
) -> None:
    metrics.dataset_drift.labels(model=model).set(1.0 if report.dataset_drift else 0.0)
    metrics.drift_share.labels(model=model).set(report.drift_share)
    # Model outputs too: their statistic is the prediction drift, on the same gauge.
    for name, column in {**report.columns, **report.outputs}.items():
        metrics.drift_column_statistic.labels(model=model, column=name, test=column.test).set(
            column.statistic
        )
    if concept is not None:
        metrics.concept_drift.labels(model=model).set(1.0 if concept.significant else 0.0)


def run_drift_check(
    *,
    settings: GuardSettings | None = None,
    model: str | None = None,
    batches: int | None = None,
    config: DriftConfig | None = None,
    reference: ChampionReference | None = None,
    html_path: str | Path | None = None,
    metrics: GuardMetrics | None = None,
) -> DriftCheckResult:
    """Check the latest ``batches`` scored batches of ``model`` against its champion's profile.

    ``reference`` skips the MLflow lookup (tests, a caller that already holds it). With
    ``html_path`` Evidently's HTML report is written there (reference sampled from the profile).
    """
    from mlops_guard.drift._concept import concept_drift
    from mlops_guard.drift._engine import DriftConfig, detect_drift
    from mlops_guard.metrics import MetricsSink, get_metrics
    from mlops_guard.runlog import bind, log_event, rfc3339_now
    from mlops_guard.settings import GuardSettings

    settings = settings or GuardSettings()
    model = model or settings.model_name
    config = config or DriftConfig()
    metrics = metrics or get_metrics()
    count = batches or config.settings.check_batches
    paths = latest_batches(settings, model, count)
    current = _read_batches(paths)
    champion = reference or load_champion_reference(model, settings)
    report = detect_drift(champion.profile, current, config=config)
    notes: list[str] = []

    concept: ConceptDriftResult | None = None
    from mlops_guard.data import LABEL

    if LABEL in current.columns and "score" in current.columns:
        labelled = current[current[LABEL].notna()]
        if champion.reference_quality is None:
            notes.append("labels present but the champion run has no reference quality")
        elif len(labelled):
            try:
                concept = concept_drift(
                    labelled[LABEL].to_numpy(),
                    labelled["score"].to_numpy(),
                    reference_quality=champion.reference_quality,
                    metric="roc_auc",
                    settings=config.settings,
                )
            except DataError as exc:
                notes.append(f"concept drift not checked: {exc}")

    html: str | None = None
    if html_path is not None:
        from mlops_guard.drift._evidently import write_evidently_html

        html = str(
            write_evidently_html(champion.profile, current, html_path, settings=config.settings)
        )

    _set_metrics(metrics, model, report, concept)
    emitted = False
    payload = {
        "model": model,
        "model_version": champion.version,
        "drift_share": report.drift_share,
        "drifted_columns": report.drifted_columns,
        "batches": [p.name for p in paths],
        "rows": len(current),
    }
    if report.dataset_drift:
        emitted = _emit(model, payload, metrics)
    with bind(model=model, model_version=champion.version):
        log_event(
            "drift.checked",
            "WARNING" if report.dataset_drift or (concept and concept.significant) else "INFO",
            settings=settings,
            dataset_drift=report.dataset_drift,
            drift_share=report.drift_share,
            share_threshold=report.share_threshold,
            drifted_columns=report.drifted_columns,
            batches=[p.name for p in paths],
            rows=len(current),
            concept_drift=None if concept is None else concept.significant,
            event_emitted=emitted,
            html=html,
        )
    MetricsSink(settings, metrics).flush(flow="drift_check")
    return DriftCheckResult(
        model=model,
        model_version=champion.version,
        batches=[str(p) for p in paths],
        rows=len(current),
        report=report,
        concept=concept,
        checked_at=rfc3339_now(),
        event_emitted=emitted,
        html=html,
        notes=notes,
    )
