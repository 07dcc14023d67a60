"""The scheduled drift check: latest scored batches against the champion's reference profile.

:func:`run_drift_check` loads the reference profile stored with the champion version's training
run (MLflow artifact :data:`PROFILE_ARTIFACT_PATH`), reads the newest batches that this version
scored (:func:`~mlops_guard.data.scored_batches`: never the challenger's, never canary splits),
checks the features for data drift and the model outputs for prediction drift (and the quality
for concept drift when labels are present), then reports: a ``drift.checked`` run-log event, the
drift gauges, and, on drift, the Prefect event ``mlops_guard.drift.detected``. Observability is
best effort: a failing sink is logged and counted, never raised.
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
from mlops_guard.settings import resolve_settings

if TYPE_CHECKING:
    import pandas as pd

    from mlops_guard.contract import ModelContract
    from mlops_guard.drift._concept import ConceptDriftResult
    from mlops_guard.drift._engine import DriftConfig, DriftReport
    from mlops_guard.drift._profile import ReferenceProfile
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.settings import GuardSettings

__all__ = [
    "DRIFT_EVENT",
    "REFERENCE_QUALITY_METRIC",
    "REFERENCE_QUALITY_SE_METRIC",
    "REFERENCE_ROWS_METRIC",
    "ChampionReference",
    "DriftCheckResult",
    "load_champion_profile",
    "load_champion_reference",
    "run_drift_check",
]

DRIFT_EVENT = "mlops_guard.drift.detected"
#: The training run's metrics a concept-drift check compares with (the training flow logs
#: them): the test-set ROC AUC, its DeLong standard error and the test set's row count.
REFERENCE_QUALITY_METRIC = "test_roc_auc"
REFERENCE_QUALITY_SE_METRIC = "test_roc_auc_se"
REFERENCE_ROWS_METRIC = "test_rows"
# The same figures in the profile's metadata, for profiles carried outside MLflow.
_PROFILE_QUALITY_KEYS = {
    REFERENCE_QUALITY_METRIC: "roc_auc",
    REFERENCE_QUALITY_SE_METRIC: "roc_auc_se",
    REFERENCE_ROWS_METRIC: "test_rows",
}
_log = logging.getLogger("mlops_guard.drift")


@dataclass(frozen=True)
class ChampionReference:
    """The champion version, its training run and the profile stored with it."""

    model: str
    version: str
    run_id: str
    profile: ReferenceProfile
    reference_quality: float | None
    reference_quality_se: float | None = None
    reference_rows: int | None = None
    contract: ModelContract | None = None

    @property
    def label(self) -> str | None:
        """The label column of the champion's contract (None for a version without one)."""
        return None if self.contract is None else self.contract.label

    @property
    def reference_positive_share(self) -> float | None:
        """Share of positive labels in the profiled training data (None: no label column)."""
        if self.contract is None or self.contract.task != "binary":
            return None
        return _positive_share(self.profile, self.contract.label, self.contract.positive_class)


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

    @property
    def prediction_drift(self) -> bool | None:
        """True when the model's outputs drifted from the reference's; None when the profile
        holds no model output."""
        return self.report.prediction_drift

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_version": self.model_version,
            "checked_at": self.checked_at,
            "batches": self.batches,
            "rows": self.rows,
            "drift": self.report.to_json(),
            "prediction_drift": {
                "drifted": self.report.prediction_drift,
                "columns": {name: c.to_json() for name, c in self.report.outputs.items()},
            },
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
    try:
        metrics: dict[str, float] = dict(client.get_run(run_id).data.metrics)
    except MlflowException:
        metrics = {}
    found: dict[str, float] = {}
    for name, key in _PROFILE_QUALITY_KEYS.items():
        value = metrics.get(name, profile.metadata.get(key))
        if value is not None:
            found[name] = float(value)
    rows = found.get(REFERENCE_ROWS_METRIC)
    return ChampionReference(
        model,
        str(version.version),
        run_id,
        profile,
        found.get(REFERENCE_QUALITY_METRIC),
        reference_quality_se=found.get(REFERENCE_QUALITY_SE_METRIC),
        reference_rows=None if rows is None else int(rows),
        contract=_contract(model, str(version.version), settings),
    )


def _contract(model: str, version: str, settings: GuardSettings) -> ModelContract | None:
    """The version's contract; None for a version registered without one (no label known,
    so no concept-drift check)."""
    from mlops_guard.contract import load_contract
    from mlops_guard.errors import ContractError

    try:
        return load_contract(model, version, settings)
    except ContractError:
        return None


def load_champion_profile(model: str, settings: GuardSettings) -> ReferenceProfile:
    """The reference profile stored with the champion version of ``model``."""
    return load_champion_reference(model, settings).profile


def _positive_share(profile: ReferenceProfile, label: str, positive: Any) -> float | None:
    column = profile.columns.get(label)
    if column is None:
        return None
    if column.numeric is not None and column.numeric.count:
        state = column.numeric
        return float(state.counts[state.values == float(positive)].sum() / state.count)
    if column.categories:
        total = sum(column.categories.values())
        hits = sum(n for key, n in column.categories.items() if str(key) == str(positive))
        return hits / total if total else None
    return None


def latest_batches(settings: GuardSettings, model: str, version: str, count: int) -> list[Path]:
    """The ``count`` newest batches that version ``version`` of ``model`` scored, oldest first
    (canary splits excluded).

    Raises :class:`DataNotFound` naming the version when it has scored none.
    """
    from mlops_guard.data import scored_batches

    files = scored_batches(settings, model, version, "batch")
    if not files:
        raise DataNotFound(
            f"no scored batches of model {model!r} version {version} (the champion) in "
            f"{str(settings.predictions_dir)!r}",
            hint="run the inference flow with this champion first; batches other versions "
            "scored are not compared with its reference",
        )
    return files[:count][::-1]


def _champion_rows(
    current: pd.DataFrame, version: str, notes: list[str], *, model: str
) -> pd.DataFrame:
    """The rows the champion scored. A file in the champion's place holds only those, unless
    it was copied there or a flat name of an older workdir was ambiguous (see
    :mod:`mlops_guard.data._scored`): the check must not judge another version's rows."""
    from mlops_guard.data import MODEL_VERSION_COLUMN

    if MODEL_VERSION_COLUMN not in current.columns:
        return current
    scored_by = current[MODEL_VERSION_COLUMN].astype("string")
    keep = (scored_by == version).fillna(False).to_numpy(dtype=bool)
    if keep.all():
        return current
    others = sorted(set(scored_by[~keep].fillna("<none>")))
    if not keep.any():
        raise DataNotFound(
            f"the latest batches of model {model!r} hold no row scored by version {version} "
            f"(the champion), only by {', '.join(others)}",
            hint="score new batches with the champion, or move these files to their version",
        )
    notes.append(
        f"dropped {int((~keep).sum())} rows scored by version(s) {', '.join(others)}, "
        f"not by the champion version {version}"
    )
    return current.loc[keep].reset_index(drop=True)


def _concept(
    current: pd.DataFrame,
    champion: ChampionReference,
    config: DriftConfig,
    notes: list[str],
) -> ConceptDriftResult | None:
    """Concept drift on the labelled rows, when there are any and a reference quality."""
    from mlops_guard.data import SCORE_COLUMN
    from mlops_guard.drift._concept import concept_drift

    contract = champion.contract
    if contract is None or contract.task != "binary":
        return None
    label = contract.label
    if label not in current.columns or SCORE_COLUMN not in current.columns:
        return None
    labelled = current[current[label].notna()]
    if champion.reference_quality is None:
        notes.append("labels present but the champion run has no reference quality")
        return None
    if not len(labelled):
        return None
    if champion.reference_quality_se is None and champion.reference_rows is None:
        notes.append(
            f"the champion run logs neither {REFERENCE_QUALITY_SE_METRIC} nor "
            f"{REFERENCE_ROWS_METRIC}: its quality is taken as exact, which overstates "
            "significance"
        )
    try:
        return concept_drift(
            (labelled[label] == contract.positive_class).to_numpy().astype("float64"),
            labelled[SCORE_COLUMN].to_numpy(),
            reference_quality=champion.reference_quality,
            reference_se=champion.reference_quality_se,
            reference_rows=champion.reference_rows,
            reference_positive_share=champion.reference_positive_share,
            metric="roc_auc",
            settings=config.settings,
        )
    except DataError as exc:
        notes.append(f"concept drift not checked: {exc}")
        return None


def _read_batches(paths: list[Path]) -> pd.DataFrame:
    import pandas as pd

    from mlops_guard.data import read_table

    frames = [read_table(path) for path in paths]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _emit(model: str, payload: dict[str, Any], metrics: GuardMetrics) -> bool:
    """Emit the drift event; best effort (logged and counted on failure)."""
    from mlops_guard._events import GuardEvent, emit

    return emit(
        GuardEvent(
            event=DRIFT_EVENT,
            resource_id=f"mlops_guard.model.{model}",
            resource_name=model,
            payload=payload,
        ),
        metrics=metrics,
    )


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
    from mlops_guard.drift._engine import DriftConfig, detect_drift
    from mlops_guard.metrics import MetricsSink, get_metrics
    from mlops_guard.runlog import bind, log_event, rfc3339_now

    settings = resolve_settings(settings)
    model = model or settings.model_name
    metrics = metrics or get_metrics()
    champion = reference or load_champion_reference(model, settings)
    if config is None:
        # Scored batches carry columns the pipelines added (outputs, who scored and when) and
        # the contract's id and timestamp: known here, so named here, not guessed by name.
        passthrough = champion.contract.passthrough_columns if champion.contract else []
        config = DriftConfig.for_scored_batches(exclude=passthrough)
    count = batches or config.settings.check_batches
    paths = latest_batches(settings, model, champion.version, count)
    notes: list[str] = []
    current = _champion_rows(_read_batches(paths), champion.version, notes, model=model)
    report = detect_drift(champion.profile, current, config=config)
    concept = _concept(current, champion, config, notes)

    html: str | None = None
    if html_path is not None:
        from mlops_guard.drift._evidently import write_evidently_html

        html = str(
            write_evidently_html(
                champion.profile, current, html_path, settings=config.settings, report=report
            )
        )

    _set_metrics(metrics, model, report, concept)
    emitted = False
    names = [p.relative_to(settings.predictions_dir).as_posix() for p in paths]
    payload = {
        "model": model,
        "model_version": champion.version,
        "drift_share": report.drift_share,
        "drifted_columns": report.drifted_columns,
        "prediction_drift": report.prediction_drift,
        "batches": names,
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
            prediction_drift=report.prediction_drift,
            drifted_outputs=report.drifted_outputs,
            batches=names,
            rows=len(current),
            concept_drift=None if concept is None else concept.significant,
            event_emitted=emitted,
            html=html,
            notes=notes,
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
