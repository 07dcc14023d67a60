"""The batch inference pipeline: load the champion, score a batch, write predictions.

Any registered model with a contract is scored the same way: the champion version is resolved
once and pinned, its contract (read from the registry) names the features, the label and the
id, and the prediction file carries the contract's prediction columns (``prediction``, and
``score`` for a binary classifier or ``proba_<class>`` for a multiclass one), the id and
timestamp columns, ``model_version``, ``batch_id`` and ``scored_at``.

Every input row is accounted for: scored, quarantined by validation, or quarantined because the
model failed on it (counted as the model's error rate, the signal the ``ModelErrorRateHigh``
rule rolls back on). When the batch carries labels, a binary champion is also compared with the
version it replaced on the same rows (``mlops_guard_model_worse_than_previous``, the
``ModelWorseThanPrevious`` rule).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlops_guard._events import publish_table
from mlops_guard._stage import stage
from mlops_guard.pipelines._gate import run_gate
from mlops_guard.pipelines._mlflow import resolve_alias
from mlops_guard.runlog import bind, log_event
from mlops_guard.settings import GuardSettings, resolve_settings, use_settings

if TYPE_CHECKING:
    import pandas as pd

    from mlops_guard.contract import ModelContract, Predictor
    from mlops_guard.quality import VersionComparison

__all__ = ["INFERENCE_FLOW", "ScoringResult", "run_inference", "score_frame"]

INFERENCE_FLOW = "mlops-guard-inference"
_log = logging.getLogger("mlops_guard.inference")
#: Version tag naming the run artifact that holds the version's own validation suite.
SUITE_TAG = "mlops_guard.suite_artifact"


@dataclass
class ScoringResult:
    """What a scoring run produced."""

    model: str
    model_version: str
    batch_id: str
    rows_in: int
    rows_scored: int
    mean_score: float
    positive_share: float
    predictions_path: str | None
    rows_quarantined: int = 0
    quarantine_path: str | None = None
    validation: dict[str, Any] = field(default_factory=dict)
    rows_failed: int = 0
    error_rate: float = 0.0
    failed_path: str | None = None
    comparison: dict[str, Any] | None = None


@stage("resolve_model")
def resolve_champion(settings: GuardSettings) -> str:
    return resolve_alias(settings, settings.model_name, "champion")


@stage("load_model")
def load_champion(settings: GuardSettings, version: str) -> Predictor:
    """The pinned version with its contract: every later step uses this one version, even if
    the alias moves while the batch is scored."""
    from mlops_guard.contract import load_predictor

    return load_predictor(settings, settings.model_name, version)


@stage("load")
def load_batch(data: str, contract: ModelContract) -> pd.DataFrame:
    from mlops_guard.data import read_table

    df = read_table(data)
    contract.require_columns(df, source=data, label=False)
    log_event("data.loaded", rows=len(df), columns=len(df.columns), source=str(data))
    return df


def _version_suite(settings: GuardSettings, version: str) -> GuardSettings:
    """The suite that validates the version's batches: one configured explicitly
    (``MLOPS_GUARD_VALIDATION_SUITE``) wins; else the version's own, registered with it (the
    suite its training data passed, or one inferred from its reference data); else the
    default suite."""
    import tempfile

    if "validation_suite" in settings.model_fields_set:
        return settings

    from mlops_guard.registry._client import RegistryClient

    client = RegistryClient(settings)
    found = client.model_version(settings.model_name, version)
    artifact = dict(found.tags or {}).get(SUITE_TAG)
    if not artifact or not found.run_id:
        return settings
    directory = tempfile.mkdtemp(prefix="mlops-guard-suite-", dir=_ensure(settings))
    run_id = str(found.run_id)
    local = client.call(
        "read the version's suite",
        lambda: client.mlflow.download_artifacts(run_id, artifact, directory),
    )
    return settings.model_copy(update={"validation_suite": str(local)})


def _ensure(settings: GuardSettings) -> str:
    path = settings.workdir / "suites"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


@stage("validate")
def validate_batch(
    df: pd.DataFrame, source: str, settings: GuardSettings, contract: ModelContract
) -> Any:
    """The validation gate before scoring. By default (``quarantine_rows``) failing rows are
    quarantined with their reasons and the rest are scored; under ``fail`` a failed batch is
    quarantined whole and scoring stops. The label may be absent (it arrives later)."""
    return run_gate(
        df,
        source=source,
        settings=settings,
        flow=INFERENCE_FLOW,
        policy=settings.inference_validation_policy,
        artifact_key=f"validation-{settings.model_name}-batch",
        optional_columns=[contract.label],
    )


def score_frame(model: Any, df: pd.DataFrame, version: str, batch_id: str) -> pd.DataFrame:
    """The batch with the predictor's columns and ``model_version``, ``batch_id``,
    ``scored_at`` (``model`` is a :class:`~mlops_guard.contract.Predictor`)."""
    return _scored_frame(df, model.predict(df), version, batch_id)


def _scored_frame(
    df: pd.DataFrame,
    predictions: pd.DataFrame,
    version: str,
    batch_id: str,
    *,
    copy: bool = True,
) -> pd.DataFrame:
    from mlops_guard.data import with_predictions

    return with_predictions(df, predictions, version=version, batch_id=batch_id, copy=copy)


@dataclass
class _Scored:
    scored: pd.DataFrame
    failed: pd.DataFrame


@stage("score")
def score(df: pd.DataFrame, predictor: Predictor, batch_id: str) -> _Scored:
    """Score the rows; rows the model fails on are split off with their reasons."""
    import numpy as np

    from mlops_guard.validation import REASON_COLUMN

    predictions, reasons = predictor.score(df)
    failed_rows = sorted(reasons)
    kept = df
    if failed_rows:
        ok = np.ones(len(df), dtype=bool)
        ok[failed_rows] = False
        kept = df[ok]
    # The flow owns the batch and changes neither frame in place, so the scored frame may
    # share the batch's columns: a mask and a deep copy would copy every row twice, work the
    # bare scoring a user writes does not do.
    scored = _scored_frame(kept, predictions, predictor.version, batch_id, copy=False)
    failed = df.iloc[failed_rows].copy()
    failed[REASON_COLUMN] = [reasons[row] for row in failed_rows]
    if reasons:
        log_event(
            "inference.rows_failed",
            "WARNING",
            rows_failed=len(reasons),
            rows=len(df),
            first_reason=failed[REASON_COLUMN].iloc[0],
        )
    return _Scored(scored, failed)


@stage("quarantine_unscored")
def quarantine_unscored_rows(
    failed: pd.DataFrame, version: str, rows_in: int, source: str, settings: GuardSettings
) -> str:
    from mlops_guard.validation import quarantine_unscored

    entry = quarantine_unscored(
        failed,
        model=settings.model_name,
        version=version,
        batch_rows=rows_in,
        quarantine_dir=settings.quarantine_dir,
        source=source,
    )
    return str(entry)


def _previous_version(settings: GuardSettings, version: str) -> str | None:
    """The version a rollback of ``version`` would restore, or None (the first champion)."""
    from mlops_guard.registry import history, promotion_stack

    stack = promotion_stack(history(settings.model_name, settings=settings))
    if not stack or stack[-1].to_version != version:
        return None
    previous = stack[-1].from_version
    return previous if previous and previous != version else None


@stage("compare_previous")
def compare_with_previous(
    scored: pd.DataFrame, predictor: Predictor, settings: GuardSettings
) -> VersionComparison | None:
    """Score the labelled rows with the version the champion replaced and compare the two on
    the same rows. None when the model is not a binary classifier with scores, when there is
    no such version, or when there are too few labels."""
    import numpy as np

    from mlops_guard.contract import SCORE_COLUMN, load_predictor
    from mlops_guard.quality import QualitySettings, compare_versions

    contract = predictor.contract
    config = QualitySettings()
    if (
        not config.compare_previous
        or contract.task != "binary"
        or not predictor.has_scores
        or contract.label not in scored.columns
    ):
        return None
    labelled = scored[scored[contract.label].notna()]
    if len(labelled) < config.min_rows:
        log_event("quality.skipped", rows=len(labelled), min_rows=config.min_rows)
        return None
    previous_version = _previous_version(settings, predictor.version)
    if previous_version is None:
        return None
    previous = load_predictor(settings, settings.model_name, previous_version)
    if not previous.has_scores:
        return None
    previous_predictions, reasons = previous.score(labelled)
    both = np.ones(len(labelled), dtype=bool)
    both[sorted(reasons)] = False
    truth = (labelled[contract.label] == contract.positive_class).to_numpy()[both]
    comparison = compare_versions(
        truth.astype("float64"),
        labelled[SCORE_COLUMN].to_numpy()[both],
        previous_predictions[SCORE_COLUMN].to_numpy(),
        model=settings.model_name,
        version=predictor.version,
        previous_version=previous_version,
        settings=config,
    )
    log_event(
        "quality.compared",
        "WARNING" if comparison.worse else "INFO",
        previous_version=previous_version,
        rows=comparison.rows,
        worse=comparison.worse,
        loss_increase=round(comparison.loss_increase, 6),
        loss_increase_lower=round(comparison.loss_increase_lower, 6),
        p_value=comparison.p_value,
        roc_auc=comparison.current.roc_auc,
        previous_roc_auc=comparison.previous.roc_auc,
    )
    return comparison


@stage("write_predictions")
def write_predictions(
    scored: pd.DataFrame, version: str, batch_id: str, settings: GuardSettings
) -> str:
    from mlops_guard.data import scored_batch_path, write_table

    path = scored_batch_path(settings, settings.model_name, version, batch_id)
    write_table(scored, path)
    return str(path)


def run_inference(
    data: str,
    model: str | None = None,
    batch_id: str | None = None,
    settings: GuardSettings | None = None,
) -> ScoringResult:
    """Score DATA with ``models:/MODEL@champion`` and write predictions to the workdir."""
    settings = resolve_settings(settings)
    if model:
        from mlops_guard.settings import check_model_name

        settings = settings.model_copy(update={"model_name": check_model_name(model)})
    batch_id = batch_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    with use_settings(settings), bind(flow=INFERENCE_FLOW, model=settings.model_name):
        version = resolve_champion(settings)
        with bind(model_version=version):
            predictor = load_champion(settings, version)
            contract = predictor.contract
            loaded = load_batch(str(data), contract)
            gated = validate_batch(loaded, str(data), _version_suite(settings, version), contract)
            passed = gated.passed
            path: str | None = None
            failed_path: str | None = None
            comparison: VersionComparison | None = None
            rows_failed = 0
            scored: pd.DataFrame | None = None
            if len(passed):
                outcome = score(passed, predictor, batch_id)
                scored, rows_failed = outcome.scored, len(outcome.failed)
                if rows_failed:
                    failed_path = quarantine_unscored_rows(
                        outcome.failed, version, len(loaded), str(data), settings
                    )
                if len(scored):
                    path = write_predictions(scored, version, batch_id, settings)
                    comparison = _compare_best_effort(scored, predictor, settings)
            attempted = len(passed)
            mean_score, positive_share = _summary(scored, contract)
            result = ScoringResult(
                model=settings.model_name,
                model_version=version,
                batch_id=batch_id,
                rows_in=len(loaded),
                rows_scored=attempted - rows_failed,
                mean_score=mean_score,
                positive_share=positive_share,
                predictions_path=path,
                rows_quarantined=gated.rows_quarantined,
                quarantine_path=str(gated.quarantined) if gated.quarantined else None,
                validation={
                    "success": gated.result.success,
                    "failed": [f.label for f in gated.result.failed],
                },
                rows_failed=rows_failed,
                error_rate=rows_failed / attempted if attempted else 0.0,
                failed_path=failed_path,
                comparison=None if comparison is None else comparison.to_json(),
            )
            _record(result, settings, comparison)
    publish_table(
        f"predictions-{settings.model_name}",
        [
            {"field": k, "value": v}
            for k, v in result.__dict__.items()
            if not isinstance(v, dict) and v is not None
        ],
        description=f"batch {batch_id} scored by v{version}",
    )
    return result


def _summary(scored: pd.DataFrame | None, contract: ModelContract) -> tuple[float, float]:
    """Mean score and share predicted positive of a binary model's batch (NaN otherwise)."""
    from mlops_guard.contract import PREDICTION_COLUMN, SCORE_COLUMN

    nan = float("nan")
    if scored is None or not len(scored) or contract.task != "binary":
        return nan, nan
    positive = float((scored[PREDICTION_COLUMN] == contract.positive_class).mean())
    return float(scored[SCORE_COLUMN].mean()), positive


def _compare_best_effort(
    scored: pd.DataFrame, predictor: Predictor, settings: GuardSettings
) -> VersionComparison | None:
    """The comparison is a signal about the model, not part of scoring: a failure to load the
    previous version or to read the registry is logged, and the batch's predictions stand."""
    from mlops_guard.errors import GuardError

    try:
        comparison: VersionComparison | None = compare_with_previous(scored, predictor, settings)
    except GuardError as exc:
        _log.warning("champion not compared with the previous version: %s", exc)
        return None
    return comparison


def _record(
    result: ScoringResult, settings: GuardSettings, comparison: VersionComparison | None
) -> None:
    import math

    from mlops_guard.metrics import MetricsSink, get_metrics

    m = get_metrics()
    labels = {"model": result.model, "model_version": result.model_version}
    m.predictions_total.labels(**labels).inc(result.rows_scored)
    if result.rows_scored and not math.isnan(result.mean_score):
        m.prediction_mean_score.labels(**labels).set(result.mean_score)
        m.prediction_positive_share.labels(**labels).set(result.positive_share)
    # Rows quarantined by validation are the data's fault, not the model's: the error rate
    # counts only rows that passed validation and still could not be scored.
    m.model_error_rate.labels(**labels).set(result.error_rate)
    m.scoring_failures_total.labels(**labels).inc(result.rows_failed)
    if comparison is not None:
        versus = {**labels, "previous_version": comparison.previous_version}
        m.model_worse_than_previous.labels(**versus).set(1.0 if comparison.worse else 0.0)
        m.model_loss_increase.labels(**versus).set(comparison.loss_increase)
        quality = comparison.current
        m.model_quality.labels(**labels, metric="log_loss").set(quality.log_loss)
        m.model_quality.labels(**labels, metric="accuracy").set(quality.accuracy)
        if quality.roc_auc is not None:
            m.model_quality.labels(**labels, metric="roc_auc").set(quality.roc_auc)
    summary = not math.isnan(result.mean_score)
    log_event(
        "inference.scored",
        "WARNING" if result.rows_failed else "INFO",
        batch_id=result.batch_id,
        rows_in=result.rows_in,
        rows_scored=result.rows_scored,
        rows_quarantined=result.rows_quarantined,
        rows_failed=result.rows_failed,
        error_rate=round(result.error_rate, 6),
        mean_score=round(result.mean_score, 6) if summary else None,
        positive_share=round(result.positive_share, 6) if summary else None,
        predictions_path=result.predictions_path,
        worse_than_previous=None if comparison is None else comparison.worse,
    )
    MetricsSink(settings, m).flush(flow=INFERENCE_FLOW)
