"""The training pipeline: load, validate, split, fit the trainer, log to MLflow, register.

A plain function of guarded stages around the user's trainer (a callable
``fit(train_frame) -> model``, see :mod:`mlops_guard.pipelines._trainer`), with no
orchestrator in it: Prefect's integration runs it as the flow ``mlops-guard-training``
(``training_flow``), an Airflow operator calls it in a task, a script calls it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_guard._events import publish_table
from mlops_guard._stage import flush_pending, stage
from mlops_guard.errors import SchemaError, UsageError
from mlops_guard.pipelines._gate import run_gate
from mlops_guard.pipelines._mlflow import LINEAGE_PREFIX, code_version, ensure_experiment
from mlops_guard.pipelines._trainer import VALIDATION_ARTIFACT, Trainer
from mlops_guard.runlog import bind, current_context, log_event
from mlops_guard.settings import GuardSettings, resolve_settings, use_settings

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "TRAINING_FLOW",
    "VALIDATION_ARTIFACT",
    "TrainingResult",
    "run_training",
]

TRAINING_FLOW = "mlops-guard-training"


@dataclass
class TrainingResult:
    """What a training run produced; returned by the flow and printed by the CLI."""

    model: str
    version: str
    alias: str
    run_id: str
    rows: int
    metrics: dict[str, float]
    lineage: dict[str, str]
    artifacts: dict[str, str] = field(default_factory=dict)


@stage("load")
def load_training_data(data: str, label: str, features: list[str] | None = None) -> pd.DataFrame:
    from mlops_guard.data import read_table

    df = read_table(data)
    if label not in df.columns:
        raise SchemaError(
            f"training data {data!r} lacks the label column {label!r}",
            hint="pass --label with a column of DATA",
        )
    missing = [c for c in features or () if c not in df.columns]
    if missing:
        raise SchemaError(
            f"training data {data!r} lacks feature column(s) {', '.join(map(repr, missing))}",
            hint="training needs every feature of the model",
        )
    log_event("data.loaded", rows=len(df), columns=len(df.columns), source=str(data))
    return df


@stage("validate")
def validate_training_data(df: pd.DataFrame, source: str, settings: GuardSettings) -> Any:
    """The validation gate before training: a batch the contract rejects is quarantined whole
    and training stops (policy ``fail``, the default), or training goes on with the passing
    rows (``quarantine_rows``). The result is published as a Prefect artifact either way."""
    return run_gate(
        df,
        source=source,
        settings=settings,
        flow=TRAINING_FLOW,
        policy=settings.training_validation_policy,
        artifact_key=f"validation-{settings.model_name}",
        on_rejected=lambda rejected: _record_rejected_run(rejected, source, settings),
    )


def _record_rejected_run(rejected: Any, source: str, settings: GuardSettings) -> None:
    """A rejected training batch still leaves an MLflow run (status FAILED) with the
    validation result, so the experiment shows why no version was registered. Best effort."""
    import logging

    try:
        import mlflow

        experiment = ensure_experiment(settings)
        with mlflow.start_run(
            experiment_id=experiment, run_name=f"train-{settings.model_name}-rejected"
        ):
            mlflow.set_tags(
                {f"{LINEAGE_PREFIX}outcome": "rejected", f"{LINEAGE_PREFIX}source": source}
            )
            mlflow.log_dict(rejected.result.to_json(), "validation/result.json")
            mlflow.end_run(status="FAILED")
    except Exception as exc:  # noqa: BLE001 - the rejection is the error that matters
        logging.getLogger("mlops_guard.training").warning(
            "rejected batch not recorded in MLflow (%s)", exc
        )


def _lineage(df: pd.DataFrame, source: str, suite: str | None) -> dict[str, str]:
    """The version's lineage: the training data's fingerprint and rows, its source, the suite
    that passed it, the flow run and trace, and the code version (a git commit, when run from
    a checkout)."""
    from mlops_guard.data import fingerprint

    context = current_context()
    lineage = {
        "data_fingerprint": fingerprint(df),
        "rows": str(len(df)),
        "source": source,
        "flow_run_id": str(context.get("flow_run_id") or "none"),
        "trace_id": str(context.get("trace_id")),
    }
    if suite is not None:
        lineage["suite"] = suite
    code = code_version()
    if code:
        lineage["code_version"] = code
    return lineage


def run_training(
    data: str,
    model: str | None = None,
    settings: GuardSettings | None = None,
    trainer: Trainer | str | None = None,
    label: str | None = None,
    task: str | None = None,
    id_column: str | None = None,
    timestamp_column: str | None = None,
    features: list[str] | None = None,
    seed: int = 0,
) -> TrainingResult:
    """Train a model on DATA (CSV or Parquet) and register a new version with lineage tags.

    ``trainer`` is the user's ``fit(train_frame) -> model`` (a callable, or
    ``"package.module:function"``) with ``label`` and ``task``; without one, the demo's churn
    model trains on the synthetic churn data. The data is validated with the configured suite
    (``MLOPS_GUARD_VALIDATION_SUITE``) when one is set, and always for the demo's model (the
    shipped suite describes its data); that suite then validates the version's batches too.
    The first registered version becomes ``champion``, later ones ``challenger``.
    """
    settings = resolve_settings(settings)
    if model:
        from mlops_guard.settings import check_model_name

        settings = settings.model_copy(update={"model_name": check_model_name(model)})
    validate = "validation_suite" in settings.model_fields_set
    if trainer is None:
        from mlops_guard.demo import CHURN_TRAINER, churn_contract

        if label or task:
            raise UsageError(
                "--label and --task describe your own model: pass them with --trainer",
                hint="e.g. mlops-guard train DATA --trainer pkg.mod:fit --label y --task binary",
            )
        churn = churn_contract()
        trainer, label, task = CHURN_TRAINER, churn.label, churn.task
        id_column, timestamp_column = churn.id_column, churn.timestamp_column
        features, validate = churn.feature_names, True
    from mlops_guard.contract._model import TASKS
    from mlops_guard.pipelines._trainer import held_out_metrics, train_with

    if not label or task not in TASKS:
        raise UsageError(
            f"a trainer needs --label and --task (one of {', '.join(TASKS)}); got label "
            f"{label!r}, task {task!r}",
            hint="e.g. mlops-guard train DATA --trainer pkg.mod:fit --label y --task binary",
        )
    with use_settings(settings), bind(flow=TRAINING_FLOW, model=settings.model_name):
        df = load_training_data(str(data), label, features)
        suite, validation = None, None
        if validate:
            from mlops_guard.validation import load_suite

            gated = validate_training_data(df, str(data), settings)
            df = gated.passed
            validation = gated.result.to_json()
            suite = load_suite(settings.validation_suite)
        registration = train_with(
            trainer,
            df,
            label=label,
            task=task,  # type: ignore[arg-type]
            id_column=id_column,
            timestamp_column=timestamp_column,
            features=features,
            settings=settings,
            seed=seed,
            suite=suite,
            validation=validation,
            lineage=_lineage(df, str(data), None if suite is None else suite.name),
        )
    flush_pending()
    metrics = held_out_metrics(registration)
    publish_table(
        f"training-{settings.model_name}",
        [{"metric": k, "value": round(v, 6)} for k, v in metrics.items()],
        description=f"{settings.model_name} v{registration.version} ({registration.alias})",
    )
    return TrainingResult(
        model=registration.model,
        version=registration.version,
        alias=registration.alias,
        run_id=registration.run_id,
        rows=len(df),
        metrics=metrics,
        lineage={"source": str(data), "model_uri": registration.source},
    )
