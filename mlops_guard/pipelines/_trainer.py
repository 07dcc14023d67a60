"""Training with the user's own code: the guarded flow around a ``fit(train_frame) -> model``.

The user's trainer only fits. Around it the flow loads and splits the data, validates it when a
suite is configured, runs the fit under the checkpoint monitor when the trainer takes a
``monitor`` argument, logs the model to MLflow with an explicit signature and pip requirements,
and registers it through :func:`mlops_guard.registry.register_model` with the held-out split as
reference: contract, drift profile, inferred validation suite, reference quality, lineage and
aliases, exactly as for a model registered by hand.

A trainer returns either a scikit-learn-compatible estimator (scikit-learn, XGBoost's and
LightGBM's scikit-learn API; logged with the sklearn flavour) or the URI of an MLflow model it
logged itself (a string, or the ``ModelInfo`` that ``log_model`` returns).
"""

from __future__ import annotations

import importlib
import inspect
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard._stage import stage
from mlops_guard.errors import GuardError, UsageError
from mlops_guard.runlog import log_event

if TYPE_CHECKING:
    import pandas as pd

    from mlops_guard.contract import ModelContract, Task
    from mlops_guard.registry import Registration
    from mlops_guard.settings import GuardSettings
    from mlops_guard.validation import Suite

__all__ = ["VALIDATION_ARTIFACT", "Trainer", "load_trainer", "held_out_metrics", "train_with"]

Trainer = Callable[..., Any]
#: The run artifact with the validation result of the training data.
VALIDATION_ARTIFACT = "validation/result.json"
#: Share of the rows held out as the reference (quality, drift profile, suite).
TEST_SHARE = 0.2
# Packages whose estimators speak scikit-learn's API and must be pinned with the model.
_ESTIMATOR_PACKAGES = ("sklearn", "xgboost", "lightgbm", "catboost")


def load_trainer(spec: str) -> Trainer:
    """``package.module:function`` -> the function; :class:`UsageError` naming what failed."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UsageError(
            f"trainer {spec!r} is not of the form package.module:function",
            hint="pass e.g. --trainer my_project.train:fit",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(
            f"trainer module {module_name!r} cannot be imported ({exc})",
            hint="install the package, or run from the directory that holds it",
        ) from exc
    trainer = getattr(module, attribute, None)
    if not callable(trainer):
        raise UsageError(
            f"{module_name!r} has no function {attribute!r}",
            hint="name a function that takes the training frame and returns a model",
        )
    fn: Trainer = trainer
    return fn


@stage("split")
def split_frame(
    df: pd.DataFrame, label: str, task: Task, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    from mlops_guard.errors import DataError

    if len(df) < 10:
        raise DataError(
            f"{len(df)} rows are too few to train and hold out a reference",
            hint="pass at least a few hundred labelled rows",
        )
    stratify = df[label] if task != "regression" else None
    try:
        train, test = train_test_split(
            df, test_size=TEST_SHARE, random_state=seed, stratify=stratify
        )
    except ValueError:  # a class too rare to stratify: an unstratified split still works
        train, test = train_test_split(df, test_size=TEST_SHARE, random_state=seed)
    return train, test


@stage("fit")
def fit_with(trainer: Trainer, train: pd.DataFrame, settings: GuardSettings) -> tuple[Any, Any]:
    """The user's fit, and the checkpoint monitor it reported to (None when it takes none).

    A trainer that takes ``monitor`` runs under the checkpoint monitor (stalls, slow saves,
    time spent saving); one that takes ``checkpoint_dir`` gets a fresh directory under the
    working directory for its checkpoints.
    """
    try:
        parameters = inspect.signature(trainer).parameters
    except (TypeError, ValueError):
        parameters = {}  # type: ignore[assignment]
    kwargs: dict[str, Any] = {}
    if "checkpoint_dir" in parameters:
        directory = settings.workdir / "checkpoints"
        directory.mkdir(parents=True, exist_ok=True)
        kwargs["checkpoint_dir"] = tempfile.mkdtemp(prefix="ckpt-", dir=directory)
    if "monitor" not in parameters:
        return trainer(train, **kwargs), None
    from mlops_guard.monitors import CheckpointMonitor

    monitor = CheckpointMonitor(job="train", model=settings.model_name, guard_settings=settings)
    with monitor:
        return trainer(train, monitor=monitor, **kwargs), monitor


def _requirements(model: Any) -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    packages = {"mlflow", "scikit-learn", "pandas"}
    root = type(model).__module__.split(".")[0]
    if root in _ESTIMATOR_PACKAGES and root != "sklearn":
        packages.add(root)
    pins = []
    for name in sorted(packages):
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pins.append(name)
    return pins


def _trusted_types(model: Any) -> list[str]:
    """The types of the user's own estimator, which skops (MLflow's default format, no
    arbitrary unpickling at load) asks to be named before it saves them."""
    try:
        import skops.io as sio

        return list(sio.get_untrusted_types(data=sio.dumps(model)))
    except Exception:  # noqa: BLE001 - without skops MLflow picks another format itself
        return []


@stage("log_model")
def log_model(
    fitted: Any,
    train: pd.DataFrame,
    features: list[str],
    settings: GuardSettings,
    *,
    params: dict[str, Any] | None = None,
    validation: dict[str, Any] | None = None,
    monitor: Any = None,
) -> str:
    """The model URI: the trainer's own logged model, or the estimator logged here.

    The run also gets the training parameters, the validation result of the training data and
    the checkpoint monitor's summary, so the experiment shows how the version came about.
    """
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from mlops_guard.monitors import log_monitor_summary
    from mlops_guard.pipelines._mlflow import ensure_experiment

    uri = getattr(fitted, "model_uri", fitted)
    if isinstance(uri, str):
        return uri
    if not hasattr(fitted, "predict"):
        raise UsageError(
            f"the trainer returned a {type(fitted).__name__}, not a model",
            hint="return a fitted estimator with predict(), or the URI of a model you logged",
        )
    experiment = ensure_experiment(settings)
    sample = train[features].head(200)
    signature = infer_signature(sample, fitted.predict(sample))
    with mlflow.start_run(experiment_id=experiment, run_name=f"train-{settings.model_name}"):
        mlflow.log_params(
            {"model": settings.model_name, "train_rows": len(train), **(params or {})}
        )
        if validation is not None:
            mlflow.log_dict(validation, VALIDATION_ARTIFACT)
        if monitor is not None:
            log_monitor_summary(monitor)
        info = mlflow.sklearn.log_model(
            fitted,
            name="model",
            signature=signature,
            # Explicit requirements: inferring them costs about 10 s a model.
            pip_requirements=_requirements(fitted),
            skops_trusted_types=_trusted_types(fitted),
        )
    return str(info.model_uri)


@stage("register")
def register_trained(
    uri: str,
    test: pd.DataFrame,
    *,
    contract: ModelContract,
    suite: Suite | None,
    lineage: dict[str, str],
    settings: GuardSettings,
) -> Registration:
    from mlops_guard.data import write_table
    from mlops_guard.registry import register_model

    directory = settings.workdir / "references"
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        reference = write_table(test, Path(tmp) / "reference.parquet")
        registration: Registration = register_model(
            uri,
            name=settings.model_name,
            label=contract.label,
            task=contract.task,
            id_column=contract.id_column,
            timestamp_column=contract.timestamp_column,
            features=contract.feature_names,
            reference=reference,
            suite=suite,
            lineage=lineage,
            settings=settings,
            actor="training",
        )
    _log_test_metrics(registration, settings)
    return registration


def _log_test_metrics(registration: Registration, settings: GuardSettings) -> None:
    """The reference quality as ``test_<metric>`` run metrics, for the experiment's charts and
    comparisons; the version's tag stays the record. Best effort: the version is registered."""
    import logging
    import time

    from mlflow.entities import Metric

    from mlops_guard.registry._client import RegistryClient

    quality = registration.reference_quality or {}
    now = int(time.time() * 1000)
    metrics = [
        Metric(f"test_{name}", float(value["value"]), now, 0)
        for name, value in quality.get("metrics", {}).items()
        if value.get("value") is not None
    ]
    if "rows" in quality:
        metrics.append(Metric("test_rows", float(quality["rows"]), now, 0))
    client = RegistryClient(settings)
    try:
        client.call(
            f"log the test metrics of run {registration.run_id}",
            lambda: client.mlflow.log_batch(registration.run_id, metrics=metrics),
        )
    except GuardError as exc:
        logging.getLogger("mlops_guard.training").warning("%s", exc.message)


def held_out_metrics(registration: Registration) -> dict[str, float]:
    """``{"test_<metric>": value, "test_rows": n}`` of the version's reference quality."""
    quality = registration.reference_quality or {}
    metrics = {
        f"test_{name}": float(value["value"])
        for name, value in quality.get("metrics", {}).items()
        if value.get("value") is not None
    }
    if "rows" in quality:
        metrics["test_rows"] = float(quality["rows"])
    return metrics


def train_with(
    trainer: Trainer | str,
    df: pd.DataFrame,
    *,
    label: str,
    task: Task,
    id_column: str | None,
    timestamp_column: str | None,
    settings: GuardSettings,
    features: list[str] | None = None,
    seed: int = 0,
    suite: Suite | None = None,
    validation: dict[str, Any] | None = None,
    lineage: dict[str, str] | None = None,
) -> Registration:
    """Fit ``trainer`` on a split of ``df`` and register the model (inside the training flow,
    after loading and validation).

    ``suite`` is the suite ``df`` was validated with: it becomes the version's suite for
    scoring (else one is inferred from the held-out rows). ``validation`` (the result's JSON)
    and ``lineage`` (version tags) describe the training data.
    """
    from mlops_guard.contract import infer_contract

    fn = load_trainer(trainer) if isinstance(trainer, str) else trainer
    # Checked before the fit: a label that does not fit the task, or a feature the data lacks,
    # must not cost a training run.
    contract = infer_contract(
        label=label,
        task=task,
        reference=df,
        features=features,
        id_column=id_column,
        timestamp_column=timestamp_column,
        source="the training data",
    )
    train, test = split_frame(df, label, task, seed)
    fitted, monitor = fit_with(fn, train, settings)
    name = getattr(fn, "__module__", "") + ":" + getattr(fn, "__qualname__", str(fn))
    uri = log_model(
        fitted,
        train,
        contract.feature_names,
        settings,
        params={"trainer": name, "task": task, "label": label},
        validation=validation,
        monitor=monitor,
    )
    registration: Registration = register_trained(
        uri, test, contract=contract, suite=suite, lineage=lineage or {}, settings=settings
    )
    fields: dict[str, Any] = {
        "model_version": registration.version,
        "alias": registration.alias,
        "run_id": registration.run_id,
        "trainer": name,
        **held_out_metrics(registration),
    }
    log_event("model.registered", **fields)
    return registration
