"""The batch inference pipeline: load the champion, score a batch, write predictions.

Every prediction row carries the model version that produced it, so a later drift check,
canary judgement or audit can tell versions apart.
"""

from __future__ import annotations

import uuid
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
    import pandas as pd

__all__ = ["ScoringResult", "inference_flow", "score_frame"]

_FLOW_NAME = "mlops-guard-inference"

DECISION_THRESHOLD = 0.5  # the training default; both read TrainingConfig in a later change


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


def score_frame(model: Any, df: pd.DataFrame, version: str, batch_id: str) -> pd.DataFrame:
    """The batch with ``score``, ``prediction``, ``model_version``, ``batch_id``, ``scored_at``."""
    import pandas as pd

    scores = model.predict_proba(df[list(FEATURES)])[:, 1]
    out = df.copy()
    out["score"] = scores
    out["prediction"] = (scores >= DECISION_THRESHOLD).astype("int64")
    out["model_version"] = version
    out["batch_id"] = batch_id
    out["scored_at"] = pd.Timestamp(datetime.now(UTC))
    return out


@guard("score")
def score(df: pd.DataFrame, version: str, batch_id: str, settings: GuardSettings) -> pd.DataFrame:
    model = load_model_version(settings, settings.model_name, version)
    return score_frame(model, df, version, batch_id)


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
            if len(passed):
                scored = score(passed, version, batch_id, settings)
                path = write_predictions(scored, version, batch_id, settings)
            result = ScoringResult(
                model=settings.model_name,
                model_version=version,
                batch_id=batch_id,
                rows_in=len(loaded),
                rows_scored=len(passed),
                mean_score=float(scored["score"].mean()) if path else float("nan"),
                positive_share=float(scored["prediction"].mean()) if path else float("nan"),
                predictions_path=path,
                rows_quarantined=gated.rows_quarantined,
                quarantine_path=str(gated.quarantined) if gated.quarantined else None,
                validation={
                    "success": gated.result.success,
                    "failed": [f.label for f in gated.result.failed],
                },
            )
            _record(result, settings)
    publish_table(
        f"predictions-{settings.model_name}",
        [{"field": k, "value": v} for k, v in result.__dict__.items() if not isinstance(v, dict)],
        description=f"batch {batch_id} scored by v{version}",
    )
    return result


def _record(result: ScoringResult, settings: GuardSettings) -> None:
    from mlops_guard.metrics import MetricsSink, get_metrics

    m = get_metrics()
    labels = {"model": result.model, "model_version": result.model_version}
    m.predictions_total.labels(**labels).inc(result.rows_scored)
    if result.rows_scored:
        m.prediction_mean_score.labels(**labels).set(result.mean_score)
        m.prediction_positive_share.labels(**labels).set(result.positive_share)
    # Quarantined rows are the data's fault, not the model's: they do not count as errors.
    m.model_error_rate.labels(**labels).set(0.0)
    log_event(
        "inference.scored",
        batch_id=result.batch_id,
        rows_in=result.rows_in,
        rows_scored=result.rows_scored,
        rows_quarantined=result.rows_quarantined,
        mean_score=round(result.mean_score, 6) if result.rows_scored else None,
        positive_share=round(result.positive_share, 6) if result.rows_scored else None,
        predictions_path=result.predictions_path,
    )
    MetricsSink(settings, m).flush(flow=_FLOW_NAME)
