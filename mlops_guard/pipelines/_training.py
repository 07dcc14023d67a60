"""The training pipeline: load, train, evaluate, log to MLflow, register with lineage, alias.

The flow is a Prefect flow of guarded tasks. Its logic lives here (not in ``flows/``) so that
``mlops-guard demo`` works from an installed package.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import flow

from mlops_guard._stage import flush_pending
from mlops_guard.data import CATEGORICAL_FEATURES, FEATURES, LABEL, NUMERICAL_FEATURES
from mlops_guard.errors import SchemaError
from mlops_guard.integrations.prefect import guard, publish_table
from mlops_guard.pipelines._gate import run_gate
from mlops_guard.pipelines._mlflow import LINEAGE_PREFIX, code_version, ensure_experiment
from mlops_guard.runlog import bind, current_context, log_event
from mlops_guard.settings import GuardSettings, use_settings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "VALIDATION_ARTIFACT",
    "TrainingConfig",
    "TrainingResult",
    "build_model",
    "training_flow",
]

_FLOW_NAME = "mlops-guard-training"
_ACTOR = "training"
VALIDATION_ARTIFACT = "validation/result.json"


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of the demo model: logistic regression trained by SGD in mini-batches.

    Mini-batch training is what real training jobs look like (and what the checkpoint monitor
    watches); the defaults reach the same ROC AUC as a batch solver on the synthetic data.
    """

    test_share: float = 0.2
    epochs: int = 5
    batch_size: int = 512
    alpha: float = 1e-4
    checkpoint_every: int = 50
    decision_threshold: float = 0.5
    seed: int = 0


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


def build_model(config: TrainingConfig) -> Any:
    """The scikit-learn pipeline: impute and scale numbers, one-hot categories (an unseen
    category scores as all-zero rather than failing), logistic regression by SGD."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    pre = ColumnTransformer(
        [
            ("num", numeric, list(NUMERICAL_FEATURES)),
            ("cat", categorical, list(CATEGORICAL_FEATURES)),
        ]
    )
    clf = SGDClassifier(loss="log_loss", alpha=config.alpha, random_state=config.seed)
    return Pipeline([("pre", pre), ("clf", clf)])


def _require_columns(df: pd.DataFrame, source: str) -> None:
    missing = [c for c in (*FEATURES, LABEL) if c not in df.columns]
    if missing:
        raise SchemaError(
            f"training data {source!r} lacks column(s) {', '.join(map(repr, missing))}",
            hint="training needs every feature and the label 'churned'",
        )


@guard("load")
def load_training_data(data: str) -> pd.DataFrame:
    from mlops_guard.data import read_table

    df = read_table(data)
    _require_columns(df, data)
    log_event("data.loaded", rows=len(df), columns=len(df.columns), source=str(data))
    return df


@guard("validate")
def validate_training_data(df: pd.DataFrame, source: str, settings: GuardSettings) -> Any:
    """The validation gate before training: a batch the contract rejects is quarantined whole
    and training stops (policy ``fail``, the default), or training goes on with the passing
    rows (``quarantine_rows``). The result is published as a Prefect artifact either way."""
    return run_gate(
        df,
        source=source,
        settings=settings,
        flow=_FLOW_NAME,
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


@guard("split")
def split(df: pd.DataFrame, config: TrainingConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        df, test_size=config.test_share, random_state=config.seed, stratify=df[LABEL]
    )
    return train, test


def _fit_incrementally(
    model: Any, train: pd.DataFrame, config: TrainingConfig, checkpoint_dir: Path, monitor: Any
) -> dict[str, float]:
    """Fit the preprocessing once, then the classifier by mini-batch SGD with checkpoints,
    under the checkpoint monitor (stalls, slow saves, time spent saving).

    Checkpoints are the classifier's coefficients as ``.npz`` (no pickle), the format a resumed
    job would read back.
    """
    import numpy as np

    pre, clf = model.named_steps["pre"], model.named_steps["clf"]
    x = pre.fit_transform(train[list(FEATURES)])
    y = train[LABEL].to_numpy()
    rng = np.random.default_rng(config.seed)
    classes = np.array([0, 1])
    steps = 0
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    with monitor:
        for _epoch in range(config.epochs):
            order = rng.permutation(len(y))
            for start in range(0, len(order), config.batch_size):
                rows = order[start : start + config.batch_size]
                clf.partial_fit(x[rows], y[rows], classes=classes)
                monitor.step()
                steps += 1
                if steps % config.checkpoint_every == 0:
                    _checkpoint(monitor, clf, checkpoint_dir, steps)
        _checkpoint(monitor, clf, checkpoint_dir, steps)
    return {"steps": float(steps)}


def _checkpoint(monitor: Any, clf: Any, checkpoint_dir: Path, steps: int) -> None:
    path = checkpoint_dir / f"step-{steps:06d}.npz"
    with monitor.checkpoint(steps) as save:
        _save_checkpoint(clf, path)
        save.nbytes = path.stat().st_size


def _save_checkpoint(clf: Any, path: Path) -> None:
    import numpy as np

    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, coef=clf.coef_, intercept=clf.intercept_)
    tmp.replace(path)


@guard("fit")
def fit(
    train: pd.DataFrame, config: TrainingConfig, checkpoint_dir: str, settings: GuardSettings
) -> tuple[Any, Any]:
    from mlops_guard.monitors import CheckpointMonitor

    model = build_model(config)
    monitor = CheckpointMonitor(job="train", model=settings.model_name, guard_settings=settings)
    _fit_incrementally(model, train, config, Path(checkpoint_dir), monitor)
    return model, monitor


def quality(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, ROC AUC and log loss of scores against labels."""
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    return {
        "accuracy": float(accuracy_score(y_true, scores >= threshold)),
        "roc_auc": float(roc_auc_score(y_true, scores)),
        "log_loss": float(log_loss(y_true, scores, labels=[0, 1])),
    }


@guard("evaluate")
def evaluate(model: Any, test: pd.DataFrame, config: TrainingConfig) -> dict[str, float]:
    scores = model.predict_proba(test[list(FEATURES)])[:, 1]
    measured = {
        f"test_{k}": v
        for k, v in quality(test[LABEL].to_numpy(), scores, config.decision_threshold).items()
    }
    measured["test_rows"] = float(len(test))
    fields: dict[str, Any] = dict(measured)
    log_event("model.evaluated", **fields)
    return measured


@dataclass
class _Trained:
    """What the stages before registration produced (one argument for the register task)."""

    model: Any
    monitor: Any
    gated: Any
    data: pd.DataFrame
    train: pd.DataFrame
    measured: dict[str, float]
    config: TrainingConfig
    source: str
    test: pd.DataFrame


@guard("register")
def register(trained: _Trained, settings: GuardSettings) -> TrainingResult:
    import mlflow
    import mlflow.sklearn
    import sklearn
    from mlflow.models import infer_signature

    from mlops_guard.data import fingerprint
    from mlops_guard.monitors import log_monitor_summary

    model_name = settings.model_name
    model, train, df = trained.model, trained.train, trained.data
    client_experiment = ensure_experiment(settings)
    context = current_context()
    lineage = {
        "data_fingerprint": fingerprint(df),
        "rows": str(len(df)),
        "source": trained.source,
        "suite": str(trained.gated.result.suite),
        "flow_run_id": str(context.get("flow_run_id") or "none"),
        "trace_id": str(context.get("trace_id")),
    }
    code = code_version()
    if code:
        lineage["code_version"] = code
    sample = train[list(FEATURES)].head(200)
    signature = infer_signature(sample, model.predict_proba(sample)[:, 1])
    # Explicit requirements: inferring them costs about 10 s per log_model.
    requirements = [
        f"scikit-learn=={sklearn.__version__}",
        f"mlflow=={mlflow.__version__}",
        "pandas<3",
    ]
    with mlflow.start_run(experiment_id=client_experiment, run_name=f"train-{model_name}") as run:
        mlflow.log_params(
            {
                "model": model_name,
                "algorithm": "sgd-logistic-regression",
                **{f"config.{k}": v for k, v in trained.config.__dict__.items()},
                "train_rows": len(train),
            }
        )
        mlflow.log_metrics(trained.measured)
        mlflow.set_tags({f"{LINEAGE_PREFIX}{k}": v for k, v in lineage.items()})
        mlflow.log_dict(trained.gated.result.to_json(), VALIDATION_ARTIFACT)
        log_monitor_summary(trained.monitor)
        _log_reference_profile(model, train, trained.measured, trained.config.decision_threshold)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            pip_requirements=requirements,
            # skops (MLflow's default, no arbitrary unpickling) asks which non-sklearn types
            # to trust: OneHotEncoder keeps its numpy dtype parameter.
            skops_trusted_types=["numpy.dtype"],
        )
        run_id = run.info.run_id
    version = _register_version(model_name, info, run_id, lineage)
    _save_contract(model_name, version, run_id, settings, trained)
    alias = _assign_alias(model_name, version, trained.source, settings)
    with bind(model_version=version):
        fields: dict[str, Any] = {"alias": alias, "run_id": run_id, **trained.measured}
        log_event("model.registered", **fields)
    return TrainingResult(
        model=model_name,
        version=version,
        alias=alias,
        run_id=run_id,
        rows=len(df),
        metrics=trained.measured,
        lineage=lineage,
    )


def _log_reference_profile(
    model: Any, train: pd.DataFrame, measured: dict[str, float], threshold: float
) -> None:
    """The drift reference: a profile of the training data with the model's own scores, so a
    drift check compares live batches (and predictions) with what the serving model saw,
    without re-reading the training data."""
    import mlflow

    from mlops_guard.drift import PROFILE_ARTIFACT_PATH, build_profile

    scored = train.copy()
    scored["score"] = model.predict_proba(train[list(FEATURES)])[:, 1]
    scored["prediction"] = (scored["score"] >= threshold).astype("int64")
    profile = build_profile(scored, metadata={"roc_auc": measured["test_roc_auc"]})
    with tempfile.TemporaryDirectory() as tmp:
        path = profile.save(Path(tmp) / Path(PROFILE_ARTIFACT_PATH).name)
        mlflow.log_artifact(str(path), artifact_path=str(Path(PROFILE_ARTIFACT_PATH).parent))


def _save_contract(
    model_name: str, version: str, run_id: str, settings: GuardSettings, trained: _Trained
) -> None:
    """The version's contract and its reference quality (the test set's metrics with their
    intervals), read back by scoring, quality, drift and the canary. A version without a
    contract cannot be scored, so a failure here removes the version again."""
    import pandas as pd

    from mlops_guard.contract import PREDICTION_COLUMN, SCORE_COLUMN, save_contract
    from mlops_guard.data import churn_contract
    from mlops_guard.errors import GuardError
    from mlops_guard.quality import measure, save_reference_quality
    from mlops_guard.registry._client import RegistryClient

    contract = churn_contract()
    scores = trained.model.predict_proba(trained.test[list(FEATURES)])[:, 1]
    predictions = pd.DataFrame(
        {
            PREDICTION_COLUMN: (scores >= trained.config.decision_threshold).astype("int64"),
            SCORE_COLUMN: scores,
        }
    )
    try:
        save_contract(contract, model=model_name, version=version, run_id=run_id, settings=settings)
        report = measure(contract, trained.test[LABEL].reset_index(drop=True), predictions)
        save_reference_quality(report, model=model_name, version=version, settings=settings)
    except GuardError:
        client = RegistryClient(settings)
        client.call(
            f"delete version {version} of {model_name!r}",
            lambda: client.mlflow.delete_model_version(model_name, version),
        )
        raise


def _register_version(model_name: str, info: Any, run_id: str, lineage: dict[str, str]) -> str:
    """A new version of the registered model, with the lineage tags set as it is created.

    Through the client rather than ``log_model(registered_model_name=...)``, whose progress
    lines go straight to stderr.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    try:
        client.create_registered_model(model_name)
    except MlflowException as exc:
        if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise
    created = client.create_model_version(
        model_name,
        source=info.model_uri,
        run_id=run_id,
        model_id=info.model_id,
        tags={f"{LINEAGE_PREFIX}{k}": v for k, v in lineage.items()},
    )
    return str(created.version)


def _assign_alias(model_name: str, version: str, source: str, settings: GuardSettings) -> str:
    """The first version becomes champion; later ones challenger (a canary decides the rest).

    Through the registry layer, so the move is locked, compare-and-set and in the alias history.
    """
    from mlops_guard.registry import get_champion, promote, set_challenger

    if get_champion(model_name, settings=settings) is None:
        promote(
            model_name,
            version,
            reason="first registered version",
            actor=_ACTOR,
            settings=settings,
        )
        return "champion"
    set_challenger(
        model_name, version, reason=f"trained on {source}", actor=_ACTOR, settings=settings
    )
    return "challenger"


@flow(name=_FLOW_NAME, log_prints=False, validate_parameters=False)
def training_flow(
    data: str,
    model: str | None = None,
    config: TrainingConfig | None = None,
    settings: GuardSettings | None = None,
    trainer: Any = None,
    label: str | None = None,
    task: str | None = None,
    id_column: str | None = None,
    timestamp_column: str | None = None,
) -> TrainingResult:
    """Train a model on DATA (CSV or Parquet) and register a new version with lineage tags.

    Without ``trainer`` it trains the demo's churn model. With ``trainer`` (a callable
    ``fit(train_frame) -> model``, or ``"package.module:function"``), ``label`` and ``task``,
    it trains the user's model on any data (see :mod:`mlops_guard.pipelines._trainer`). The
    first registered version becomes ``champion``, later ones ``challenger``.
    """
    settings = settings or GuardSettings()
    if model:
        settings = settings.model_copy(update={"model_name": model})
    if trainer is not None:
        return _user_training(
            data, trainer, label, task, id_column, timestamp_column, settings, config
        )
    config = config or TrainingConfig()
    with use_settings(settings), bind(model=settings.model_name):
        loaded = load_training_data(str(data))
        gated = validate_training_data(loaded, str(data), settings)
        df = gated.passed
        train, test = split(df, config)
        checkpoint_dir = tempfile.mkdtemp(
            prefix="ckpt-", dir=_ensure(settings.workdir / "checkpoints")
        )
        fitted, monitor = fit(train, config, checkpoint_dir, settings)
        measured = evaluate(fitted, test, config)
        trained = _Trained(fitted, monitor, gated, df, train, measured, config, str(data), test)
        result: TrainingResult = register(trained, settings)
    flush_pending()
    publish_table(
        f"training-{settings.model_name}",
        [{"metric": k, "value": round(v, 6)} for k, v in measured.items()],
        description=f"{settings.model_name} v{result.version} ({result.alias})",
    )
    return result


@guard("load")
def load_user_data(data: str, label: str) -> pd.DataFrame:
    from mlops_guard.data import read_table

    df = read_table(data)
    if label not in df.columns:
        raise SchemaError(
            f"training data {data!r} lacks the label column {label!r}",
            hint="pass --label with a column of DATA",
        )
    log_event("data.loaded", rows=len(df), columns=len(df.columns), source=str(data))
    return df


def _user_training(
    data: str,
    trainer: Any,
    label: str | None,
    task: str | None,
    id_column: str | None,
    timestamp_column: str | None,
    settings: GuardSettings,
    config: TrainingConfig | None,
) -> TrainingResult:
    from mlops_guard.contract._model import TASKS
    from mlops_guard.errors import UsageError
    from mlops_guard.pipelines._trainer import train_with

    if not label or task not in TASKS:
        raise UsageError(
            f"a trainer needs --label and --task (one of {', '.join(TASKS)}); got label "
            f"{label!r}, task {task!r}",
            hint="e.g. mlops-guard train DATA --trainer pkg.mod:fit --label y --task binary",
        )
    with use_settings(settings), bind(model=settings.model_name):
        df = load_user_data(str(data), label)
        # The shipped suite describes the demo's data; a user's data is validated only
        # against a suite they name (MLOPS_GUARD_VALIDATION_SUITE), and registration infers
        # one from the held-out rows for scoring.
        if "validation_suite" in settings.model_fields_set:
            df = validate_training_data(df, str(data), settings).passed
        registration = train_with(
            trainer,
            df,
            label=label,
            task=task,  # type: ignore[arg-type]
            id_column=id_column,
            timestamp_column=timestamp_column,
            settings=settings,
            seed=(config or TrainingConfig()).seed,
        )
    flush_pending()
    quality = (registration.reference_quality or {}).get("metrics", {})
    metrics = {f"test_{k}": float(v["value"]) for k, v in quality.items()}
    return TrainingResult(
        model=registration.model,
        version=registration.version,
        alias=registration.alias,
        run_id=registration.run_id,
        rows=len(df),
        metrics=metrics,
        lineage={"source": str(data), "model_uri": registration.source},
    )


def _ensure(path: Path) -> str:
    path.mkdir(parents=True, exist_ok=True)
    return str(path)
