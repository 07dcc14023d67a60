"""The batch inference pipeline: load the champion, score a batch, write predictions.

Every prediction row carries the model version that produced it, so a later drift check,
canary judgement or audit can tell versions apart. Every input row is accounted for: scored,
quarantined by validation, or quarantined because the model failed on it (counted as the
model's error rate, the signal the ``ModelErrorRateHigh`` rule rolls back on). When the batch
carries labels, the champion is also compared with the version it replaced on the same rows
(``mlops_guard_model_worse_than_previous``, the ``ModelWorseThanPrevious`` rule).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prefect import flow

from mlops_guard.data import FEATURES
from mlops_guard.errors import SchemaError
from mlops_guard.integrations.prefect import guard, publish_table
from mlops_guard.pipelines._gate import run_gate
from mlops_guard.pipelines._mlflow import load_model_version, resolve_alias
from mlops_guard.runlog import bind, log_event
from mlops_guard.settings import GuardSettings, use_settings

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from mlops_guard.quality import VersionComparison

__all__ = ["ScoringResult", "inference_flow", "score_frame", "score_rows"]

_FLOW_NAME = "mlops-guard-inference"
_log = logging.getLogger("mlops_guard.inference")

DECISION_THRESHOLD = 0.5  # the training default; both read TrainingConfig in a later change

# When a whole batch fails to score, the failing rows are found by splitting it: first into
# this many chunks, then by halves. A model that fails on one row in a million costs about
# 2 * log2(rows) extra calls; one that fails on every row is stopped by the budget below.
_FIRST_SPLIT = 16
# Calls spent isolating failures per batch; beyond it, a failing chunk is quarantined whole
# with its error (every row is still accounted for). 512 calls of a scikit-learn pipeline on
# small frames cost about half a second.
_ISOLATION_BUDGET = 512
_REASON_CHARS = 300


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


@guard("load")
def load_batch(data: str) -> pd.DataFrame:
    from mlops_guard.data import read_table

    df = read_table(data)
    missing = [c for c in FEATURES if c not in df.columns]
    if missing:
        raise SchemaError(
            f"batch {data!r} lacks feature column(s) {', '.join(map(repr, missing))}",
            hint="scoring needs every feature the model was trained on",
        )
    log_event("data.loaded", rows=len(df), columns=len(df.columns), source=str(data))
    return df


@guard("validate")
def validate_batch(df: pd.DataFrame, source: str, settings: GuardSettings) -> Any:
    """The validation gate before scoring. By default (``quarantine_rows``) failing rows are
    quarantined with their reasons and the rest are scored; under ``fail`` a failed batch is
    quarantined whole and scoring stops. The label may be absent (it arrives later)."""
    from mlops_guard.data import LABEL

    return run_gate(
        df,
        source=source,
        settings=settings,
        flow=_FLOW_NAME,
        policy=settings.inference_validation_policy,
        artifact_key=f"validation-{settings.model_name}-batch",
        optional_columns=[LABEL],
    )


@guard("resolve_model")
def resolve_champion(settings: GuardSettings) -> str:
    return resolve_alias(settings, settings.model_name, "champion")


def score_rows(
    predict: Callable[[pd.DataFrame], Any], frame: pd.DataFrame
) -> tuple[npt.NDArray[np.float64], dict[int, str]]:
    """Scores of every row of ``frame`` and the reasons of the rows that could not be scored.

    ``predict`` maps a frame to one score a row. A call that raises is retried on parts of the
    frame until the rows that fail are isolated, so one bad row does not sink the batch; a
    score that is not a finite number in [0, 1] fails its row too. Failed rows have NaN in
    the returned scores and their position (0-based) in the reasons.
    """
    import numpy as np

    n = len(frame)
    scores = np.full(n, np.nan)
    reasons: dict[int, str] = {}
    budget = _ISOLATION_BUDGET

    def attempt(start: int, stop: int) -> str | None:
        try:
            got = np.asarray(predict(frame.iloc[start:stop]), dtype=np.float64).ravel()
        except Exception as exc:  # noqa: BLE001 - a model's failure is data about the model
            return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:_REASON_CHARS]
        if got.size != stop - start:
            return f"the model returned {got.size} scores for {stop - start} rows"
        scores[start:stop] = got
        return None

    def parts(start: int, stop: int) -> list[tuple[int, int]]:
        pieces = _FIRST_SPLIT if (start, stop) == (0, n) else 2
        step = -(-(stop - start) // pieces)
        return [(lo, min(stop, lo + step)) for lo in range(start, stop, step)]

    first = attempt(0, n) if n else None
    pending = [] if first is None else [(0, n, first)]
    while pending:
        start, stop, error = pending.pop()
        if stop - start == 1:
            reasons[start] = error
            continue
        for lo, hi in parts(start, stop):
            if budget <= 0:
                reasons.update(dict.fromkeys(range(lo, hi), error))
                continue
            budget -= 1
            failure = attempt(lo, hi)
            if failure is not None:
                pending.append((lo, hi, failure))
    bad = ~np.isfinite(scores) | (scores < 0) | (scores > 1)
    for row in np.flatnonzero(bad):
        reasons.setdefault(int(row), f"score {scores[row]!r} is not a probability in [0, 1]")
        scores[row] = np.nan
    return scores, reasons


def score_frame(model: Any, df: pd.DataFrame, version: str, batch_id: str) -> pd.DataFrame:
    """The batch with ``score``, ``prediction``, ``model_version``, ``batch_id``, ``scored_at``."""
    scores = model.predict_proba(df[list(FEATURES)])[:, 1]
    return _with_scores(df, scores, version, batch_id)


def _with_scores(df: pd.DataFrame, scores: Any, version: str, batch_id: str) -> pd.DataFrame:
    from mlops_guard.data import add_scores

    return add_scores(df, scores, version=version, batch_id=batch_id, threshold=DECISION_THRESHOLD)


def _positive_scores(model: Any) -> Callable[[pd.DataFrame], Any]:
    def predict(frame: pd.DataFrame) -> Any:
        return model.predict_proba(frame[list(FEATURES)])[:, 1]

    return predict


@dataclass
class _Scored:
    scored: pd.DataFrame
    failed: pd.DataFrame


@guard("score")
def score(df: pd.DataFrame, version: str, batch_id: str, settings: GuardSettings) -> _Scored:
    """Score the rows; rows the model fails on are split off with their reasons."""
    import numpy as np

    from mlops_guard.validation import REASON_COLUMN

    model = load_model_version(settings, settings.model_name, version)
    scores, reasons = score_rows(_positive_scores(model), df)
    ok = np.isfinite(scores)
    scored = _with_scores(df[ok], scores[ok], version, batch_id)
    failed = df.iloc[sorted(reasons)].copy()
    failed[REASON_COLUMN] = [reasons[row] for row in sorted(reasons)]
    if reasons:
        log_event(
            "inference.rows_failed",
            "WARNING",
            rows_failed=len(reasons),
            rows=len(df),
            first_reason=failed[REASON_COLUMN].iloc[0],
        )
    return _Scored(scored, failed)


@guard("quarantine_unscored")
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


@guard("compare_previous")
def compare_with_previous(
    scored: pd.DataFrame, version: str, settings: GuardSettings
) -> VersionComparison | None:
    """Score the labelled rows with the version the champion replaced and compare the two on
    the same rows. None when there is no such version or too few labels."""
    import numpy as np

    from mlops_guard.data import LABEL
    from mlops_guard.quality import QualitySettings, compare_versions

    config = QualitySettings()
    if not config.compare_previous or LABEL not in scored.columns:
        return None
    labelled = scored[scored[LABEL].notna()]
    if len(labelled) < config.min_rows:
        log_event("quality.skipped", rows=len(labelled), min_rows=config.min_rows)
        return None
    previous = _previous_version(settings, version)
    if previous is None:
        return None
    model = load_model_version(settings, settings.model_name, previous)
    previous_scores, _ = score_rows(_positive_scores(model), labelled)
    both = np.isfinite(previous_scores)
    comparison = compare_versions(
        labelled[LABEL].to_numpy()[both],
        labelled["score"].to_numpy()[both],
        previous_scores[both],
        model=settings.model_name,
        version=version,
        previous_version=previous,
        settings=config,
        threshold=DECISION_THRESHOLD,
    )
    log_event(
        "quality.compared",
        "WARNING" if comparison.worse else "INFO",
        previous_version=previous,
        rows=comparison.rows,
        worse=comparison.worse,
        loss_increase=round(comparison.loss_increase, 6),
        loss_increase_lower=round(comparison.loss_increase_lower, 6),
        p_value=comparison.p_value,
        roc_auc=comparison.current.roc_auc,
        previous_roc_auc=comparison.previous.roc_auc,
    )
    return comparison


@guard("write_predictions")
def write_predictions(
    scored: pd.DataFrame, version: str, batch_id: str, settings: GuardSettings
) -> str:
    from mlops_guard.data import write_table

    path = settings.predictions_dir / f"{settings.model_name}-v{version}-{batch_id}.parquet"
    write_table(scored, path)
    return str(path)


@flow(name=_FLOW_NAME, log_prints=False, validate_parameters=False)
def inference_flow(
    data: str,
    model: str | None = None,
    batch_id: str | None = None,
    settings: GuardSettings | None = None,
) -> ScoringResult:
    """Score DATA with ``models:/MODEL@champion`` and write predictions to the workdir."""
    settings = settings or GuardSettings()
    if model:
        settings = settings.model_copy(update={"model_name": model})
    batch_id = batch_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    with use_settings(settings), bind(model=settings.model_name):
        loaded = load_batch(str(data))
        gated = validate_batch(loaded, str(data), settings)
        version = resolve_champion(settings)
        with bind(model_version=version):
            passed = gated.passed
            path: str | None = None
            failed_path: str | None = None
            comparison: VersionComparison | None = None
            rows_failed = 0
            scored: pd.DataFrame | None = None
            if len(passed):
                outcome = score(passed, version, batch_id, settings)
                scored, rows_failed = outcome.scored, len(outcome.failed)
                if rows_failed:
                    failed_path = quarantine_unscored_rows(
                        outcome.failed, version, len(loaded), str(data), settings
                    )
                if len(scored):
                    path = write_predictions(scored, version, batch_id, settings)
                    comparison = _compare_best_effort(scored, version, settings)
            attempted = len(passed)
            result = ScoringResult(
                model=settings.model_name,
                model_version=version,
                batch_id=batch_id,
                rows_in=len(loaded),
                rows_scored=attempted - rows_failed,
                mean_score=float(scored["score"].mean())
                if path and scored is not None
                else float("nan"),
                positive_share=float(scored["prediction"].mean())
                if path and scored is not None
                else float("nan"),
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


def _compare_best_effort(
    scored: pd.DataFrame, version: str, settings: GuardSettings
) -> VersionComparison | None:
    """The comparison is a signal about the model, not part of scoring: a failure to load the
    previous version or to read the registry is logged, and the batch's predictions stand."""
    from mlops_guard.errors import GuardError

    try:
        comparison: VersionComparison | None = compare_with_previous(scored, version, settings)
    except GuardError as exc:
        _log.warning("champion not compared with the previous version: %s", exc)
        return None
    return comparison


def _record(
    result: ScoringResult, settings: GuardSettings, comparison: VersionComparison | None
) -> None:
    from mlops_guard.metrics import MetricsSink, get_metrics

    m = get_metrics()
    labels = {"model": result.model, "model_version": result.model_version}
    m.predictions_total.labels(**labels).inc(result.rows_scored)
    if result.rows_scored:
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
    log_event(
        "inference.scored",
        "WARNING" if result.rows_failed else "INFO",
        batch_id=result.batch_id,
        rows_in=result.rows_in,
        rows_scored=result.rows_scored,
        rows_quarantined=result.rows_quarantined,
        rows_failed=result.rows_failed,
        error_rate=round(result.error_rate, 6),
        mean_score=round(result.mean_score, 6) if result.rows_scored else None,
        positive_share=round(result.positive_share, 6) if result.rows_scored else None,
        predictions_path=result.predictions_path,
        worse_than_previous=None if comparison is None else comparison.worse,
    )
    MetricsSink(settings, m).flush(flow=_FLOW_NAME)
