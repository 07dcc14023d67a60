"""Register a model trained anywhere: an MLflow model URI in, a registered version with its
contract, drift reference, validation suite and reference quality out.

:func:`register_model` does what the shipped training flow does after it has logged a model,
for a model logged by someone else's code (``mlops-guard register``):

1. checks, before anything is written: the URI resolves to a model with a pyfunc flavour; the
   contract can be inferred (features from the signature, ``features`` or the reference; labels
   that fit the task; every feature, the id and timestamp present in the reference); the model
   scores the reference;
2. from the reference (labelled data the model was not trained on): the drift reference
   profile of the reference with the model's predictions, a validation suite inferred from it,
   and the reference quality (:func:`mlops_guard.quality.measure`);
3. writes: the profile and suite as artifacts of the version's run, a new version (lineage
   tags, the suite's artifact path and the reference quality as version tags), its contract,
   then the alias (first version champion, later ones challenger, through
   :mod:`mlops_guard.registry._aliases`).

The version's run is the run the model was logged in. A model without one (a local directory,
a logged model outside any run), or whose run already keeps another version's reference (the
same run registered twice, a ``models:/`` copy), gets a run of its own in the mlops-guard
experiment, tagged with the source run: a version's drift reference is never replaced by
another's.

The writes touch two stores (the run's artifacts and the registry), so they follow the shape of
:mod:`mlops_guard.registry._aliases`: when a later write fails, the earlier ones are undone (the
version deleted, the artifacts and the run created for it removed), and if the undo fails too
the error says what is left and how to remove it.

>>> from mlops_guard.registry import register_model  # doctest: +SKIP
>>> register_model("runs:/4f2a.../model", name="cancer", label="target", task="binary",
...                reference="holdout.csv").alias  # doctest: +SKIP
'champion'
"""

from __future__ import annotations

import functools
import json
import logging
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from mlops_guard.errors import (
    ContractError,
    DataNotFound,
    GuardError,
    RegistryError,
    RegistryUnavailable,
    SchemaError,
    UsageError,
)
from mlops_guard.registry._client import RegistryClient

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities.model_registry import ModelVersion

    from mlops_guard.contract._model import FeatureKind, ModelContract, Task
    from mlops_guard.contract._predictor import Predictor
    from mlops_guard.quality._metrics import QualityReport
    from mlops_guard.settings import GuardSettings
    from mlops_guard.validation._suite import Suite

__all__ = [
    "SUITE_ARTIFACT",
    "SUITE_TAG",
    "Registration",
    "register_model",
]

#: Run artifact of the validation suite inferred from the reference (GX 1.x JSON).
SUITE_ARTIFACT = "validation/suite.json"
#: Version tag naming :data:`SUITE_ARTIFACT` in the version's run.
SUITE_TAG = "mlops_guard.suite_artifact"
# Where a local model directory is logged in the run created for it.
_MODEL_ARTIFACT = "model"
# A suite's name becomes a file name (validation/_suite.py accepts these characters).
_SUITE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_REASON_CHARS = 200
_log = logging.getLogger("mlops_guard.registry")

# MLflow signature types that drift treats as numbers; string and boolean are categories;
# anything else (datetime, binary, arrays, objects) takes its kind from the reference.
_NUMERIC_TYPES = frozenset({"integer", "long", "float", "double"})
_CATEGORICAL_TYPES = frozenset({"string", "boolean"})


@dataclass(frozen=True)
class Registration:
    """A registered version: where it came from, its alias, contract and reference quality."""

    model: str
    version: str
    alias: str
    source: str
    run_id: str
    contract: ModelContract
    reference_quality: dict[str, Any] | None = None
    reference: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "alias": self.alias,
            "source": self.source,
            "run_id": self.run_id,
            "contract": self.contract.to_json(),
            "reference_quality": self.reference_quality,
            "reference": self.reference,
        }


@dataclass
class _Source:
    """A resolved model URI: what a new version points at and where its files are read from."""

    uri: str
    source: str | None  # the version's source; None for a local directory not yet logged
    run_id: str | None  # the run the model was logged in, when known
    model_id: str | None = None  # MLflow 3 logged-model id
    local: Path | None = None  # a local model directory (copied into the artifact store)


@dataclass
class _Reference:
    """What the reference data gave, computed before any write."""

    path: str
    rows: int
    unscored: int
    fingerprint: str
    profile: Any
    suite: Suite
    report: QualityReport

    @property
    def quality(self) -> dict[str, Any]:
        return self.report.to_json()


@dataclass
class _Undo:
    """The writes done so far, undone newest first when a later one fails."""

    steps: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def add(self, what: str, fn: Callable[[], None]) -> None:
        self.steps.append((what, fn))

    def run(self) -> list[str]:
        """Undo every step; returns what could not be undone (with the reason)."""
        left: list[str] = []
        for what, fn in reversed(self.steps):
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - keep undoing the other steps
                left.append(f"{what} ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})")
        self.steps.clear()
        return left


def _settings(settings: GuardSettings | None) -> GuardSettings:
    from mlops_guard.settings import resolve_settings

    return resolve_settings(settings)


def _refused(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return " ".join(str(message).split())[:_REASON_CHARS]


# --------------------------------------------------------------------- resolving the URI


def _resolve(uri: str, client: RegistryClient) -> _Source:
    if uri.startswith("runs:/"):
        return _from_run(uri, client)
    if uri.startswith("models:/"):
        return _from_registry(uri, client)
    if "://" in uri and not uri.startswith("file:"):
        # Another artifact store (s3://, gs://, mlflow-artifacts://): the version points there.
        return _Source(uri, uri, None)
    return _from_directory(uri)


def _from_directory(uri: str) -> _Source:
    path = Path(unquote(urlsplit(uri).path)) if uri.startswith("file:") else Path(uri)
    if not path.exists():
        raise DataNotFound(
            f"model directory {uri!r} does not exist",
            hint="pass a directory written by mlflow.<flavour>.save_model, or a runs:/ or "
            "models:/ URI",
        )
    if not (path / "MLmodel").is_file():
        raise UsageError(
            f"{uri!r} is not an MLflow model directory (no MLmodel file in it)",
            hint="pass the directory mlflow.<flavour>.save_model wrote, or a runs:/ or "
            "models:/ URI",
        )
    return _Source(uri, None, None, local=path.resolve())


def _from_run(uri: str, client: RegistryClient) -> _Source:
    """``runs:/<run>/<path>``: the run's artifacts when the model is there (MLflow 2 layout),
    else the logged model of that name in the run (MLflow 3), as ``mlflow.register_model``."""
    from mlflow.exceptions import MlflowException

    run_id, _, path = uri[len("runs:/") :].partition("/")
    path = path.strip("/")
    if not run_id or not path:
        raise UsageError(
            f"model URI {uri!r} names no run or no path",
            hint="pass runs:/<run id>/<artifact path>, e.g. runs:/4f2a.../model",
        )
    try:
        run = client.call(f"read run {run_id}", lambda: client.mlflow.get_run(run_id))
        # The run's own artifact store: MlflowClient.list_artifacts would also list a logged
        # model of that name, whose files live elsewhere.
        repository = _repository(client, run.info.artifact_uri)
        listed = client.call(
            f"list the artifacts of run {run_id}", lambda: repository.list_artifacts(path)
        )
    except MlflowException as exc:
        raise UsageError(
            f"model URI {uri!r}: no run {run_id!r} in {client.uri} ({_refused(exc)})",
            hint="check the run id (MLflow UI or mlflow.search_runs) and the tracking URI",
        ) from exc
    if any(Path(item.path).name == "MLmodel" for item in listed):
        return _Source(uri, f"{run.info.artifact_uri.rstrip('/')}/{path}", run_id)
    try:
        logged = client.call(
            f"find the models logged in run {run_id}",
            lambda: client.mlflow.search_logged_models(
                experiment_ids=[run.info.experiment_id],
                filter_string=f"source_run_id = '{run_id}' AND name = '{path}'",
            ),
        )
    except MlflowException as exc:
        raise UsageError(
            f"model URI {uri!r}: the models of run {run_id} cannot be listed ({_refused(exc)})",
            hint="pass the logged model's own URI, models:/m-...",
        ) from exc
    if not logged:
        raise UsageError(
            f"run {run_id} has no model at {path!r} (model URI {uri!r})",
            hint="pass the name given to log_model (name='model' gives runs:/<run>/model)",
        )
    newest = max(logged, key=lambda m: m.creation_timestamp or 0)
    return _Source(uri, f"models:/{newest.model_id}", run_id, model_id=newest.model_id)


def _from_registry(uri: str, client: RegistryClient) -> _Source:
    """``models:/<name>/<version>``, ``models:/<name>@<alias>`` (a copy of that version's
    source) or ``models:/m-...`` (an MLflow 3 logged model)."""
    from mlflow.exceptions import MlflowException

    rest = uri[len("models:/") :].strip("/")
    if _is_logged_model(rest):
        logged = _logged_model(client, rest)
        return _Source(uri, f"models:/{rest}", logged.source_run_id or None, model_id=rest)
    found: ModelVersion
    if "@" in rest and "/" not in rest.split("@", 1)[1]:
        name, alias = rest.split("@", 1)
        client.registered_model(name)
        try:
            found = client.call(
                f"read alias {alias!r} of {name!r}",
                lambda: client.mlflow.get_model_version_by_alias(name, alias),
            )
        except MlflowException as exc:
            raise UsageError(
                f"model {name!r} has no alias {alias!r} (model URI {uri!r})",
                hint="pass models:/<name>/<version> or an alias the model has",
            ) from exc
    else:
        name, _, version = rest.rpartition("/")
        if not name or not version.isdigit():
            raise UsageError(
                f"model URI {uri!r} names no version",
                hint="pass models:/<name>/<version>, models:/<name>@<alias> or models:/m-<id>",
            )
        found = client.model_version(name, version)
    return _Source(
        uri,
        str(found.source),
        found.run_id or None,
        model_id=getattr(found, "model_id", None) or None,
    )


def _is_logged_model(rest: str) -> bool:
    """``m-<id>`` after ``models:/``: an MLflow 3 logged model, not a registered name."""
    return rest.startswith("m-") and "/" not in rest and "@" not in rest


def _logged_model(client: RegistryClient, model_id: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.call(
            f"read logged model {model_id}", lambda: client.mlflow.get_logged_model(model_id)
        )
    except MlflowException as exc:
        raise UsageError(
            f"no logged model {model_id!r} in {client.uri} ({_refused(exc)})",
            hint="check the model id printed by log_model (ModelInfo.model_id)",
        ) from exc


def _location(source: str, client: RegistryClient, depth: int = 0) -> str:
    """The storage URI of a version's source (file:, s3:, mlflow-artifacts: ...).

    MLflow resolves ``models:/`` URIs with the process's global tracking URI whatever client
    or URI it is given (artifact downloads, the SQL registry's create_model_version), so they
    are resolved here, with this client."""
    if depth > 3:  # a version copied from a version copied from ...: stop somewhere
        return source
    if source.startswith("runs:/"):
        return _location(str(_from_run(source, client).source), client, depth + 1)
    if not source.startswith("models:/"):
        return source
    rest = source[len("models:/") :].strip("/")
    if _is_logged_model(rest):
        return str(_logged_model(client, rest).artifact_location)
    return _location(str(_from_registry(source, client).source), client, depth + 1)


def _download(source: _Source, client: RegistryClient, into: str) -> Path:
    """The model's directory on this machine (the MLmodel file and what it needs)."""
    if source.local is not None:
        return source.local
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    assert source.source is not None
    location = source.source
    try:
        local = client.call(
            f"download the model at {location}",
            lambda: mlflow.artifacts.download_artifacts(
                artifact_uri=location,
                dst_path=into,
                tracking_uri=client.uri,
                registry_uri=client.uri,
            ),
        )
    except MlflowException as exc:
        raise UsageError(
            f"the model at {source.uri!r} cannot be downloaded ({_refused(exc)})",
            hint="check the URI and that its artifacts exist",
        ) from exc
    root = Path(local)
    # A location downloads into <into>/<its last component>, or straight into <into>.
    for candidate in (root, *sorted(p.parent for p in root.glob("*/MLmodel"))):
        if (candidate / "MLmodel").is_file():
            return candidate
    raise UsageError(
        f"{source.uri!r} holds no MLflow model (no MLmodel file at {location})",
        hint="pass the URI log_model returned, or runs:/<run>/<name given to log_model>",
    )


# ------------------------------------------------------------------- reading the model


def _mlmodel(directory: Path, uri: str) -> Any:
    from mlflow.models import Model

    model = Model.load(str(directory))
    if "python_function" not in model.flavors:
        flavours = ", ".join(sorted(model.flavors)) or "none"
        raise UsageError(
            f"model {uri!r} has no python_function flavour (its flavours: {flavours})",
            hint="log it with an MLflow flavour that supports pyfunc, or wrap it in an "
            "mlflow.pyfunc.PythonModel",
        )
    return model


def _signature_features(model: Any) -> list[tuple[str, FeatureKind | None]] | None:
    """Names and kinds of the signature's named input columns; None without them."""
    signature = model.signature
    if signature is None or signature.inputs is None:
        return None
    inputs = signature.inputs
    if inputs.is_tensor_spec() or not inputs.has_input_names():
        return None
    found: list[tuple[str, FeatureKind | None]] = []
    for spec in inputs.inputs:
        kind_name = getattr(getattr(spec, "type", None), "name", None)
        kind: FeatureKind | None = None
        if kind_name in _NUMERIC_TYPES:
            kind = "numerical"
        elif kind_name in _CATEGORICAL_TYPES:
            kind = "categorical"
        found.append((str(spec.name), kind))
    return found


def _load(directory: Path) -> tuple[Any, Any, Any, tuple[Any, ...] | None]:
    """(raw model, predict_proba or None, predict, classes) the way ``load_predictor`` loads a
    registered version: the sklearn flavour when there is one (it has ``predict_proba``;
    pyfunc's predict of a classifier gives labels), pyfunc otherwise."""
    import mlflow.pyfunc
    from mlflow.models import Model

    if "sklearn" in Model.load(str(directory)).flavors:
        import mlflow.sklearn

        estimator = mlflow.sklearn.load_model(str(directory))
        classes = getattr(estimator, "classes_", None)
        return (
            estimator,
            getattr(estimator, "predict_proba", None),
            estimator.predict,
            None if classes is None else tuple(classes),
        )
    loaded = mlflow.pyfunc.load_model(str(directory))
    return loaded, None, loaded.predict, None


def _features_agree(
    features: list[str] | None,
    signature: list[tuple[str, FeatureKind | None]] | None,
    roles: set[str],
) -> None:
    if not features or not signature:
        return
    wanted = {name for name, _ in signature if name not in roles}
    if set(features) != wanted:
        extra = sorted(set(features) - wanted)
        lacking = sorted(wanted - set(features))
        raise ContractError(
            "--features differ from the inputs of the model's signature"
            + (f" (not inputs: {', '.join(extra)})" if extra else "")
            + (f" (inputs not listed: {', '.join(lacking)})" if lacking else ""),
            hint="leave --features out: the signature names the features",
        )


# ------------------------------------------------------------------ the reference data


def _suite_name(model: str) -> str:
    name = _SUITE_NAME_CHARS.sub("-", model).strip("-.") or "model"
    return name[:128] if name[0].isalnum() else f"m{name}"[:128]


def _score_reference(predictor: Predictor, frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """The reference rows the model scored, with its prediction columns."""
    clash = [c for c in predictor.contract.prediction_columns if c in frame.columns]
    if clash:
        raise SchemaError(
            f"{source!r} already has column(s) {', '.join(map(repr, clash))}, which the "
            "model's predictions are written to",
            hint="drop or rename them in the reference",
        )
    predictions, reasons = predictor.score(frame)
    if not len(predictions):
        first = next(iter(reasons.values()), "no rows")
        raise ContractError(
            f"the model scored none of the {len(frame)} rows of {source!r} (first failure: "
            f"{first})",
            hint="pass reference data with the columns and types the model was trained on",
        )
    scored = frame.loc[predictions.index].copy()
    for column in predictions.columns:
        scored[column] = predictions[column]
    return scored


def _profile_metadata(
    uri: str, reference: str, quality: dict[str, Any], rows: int
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"model_uri": uri, "reference": reference, "reference_rows": rows}
    roc_auc = quality.get("metrics", {}).get("roc_auc")
    if roc_auc is not None:
        # The keys the concept-drift check reads from a profile (drift/_check.py): the AUC, and
        # the rows it was measured on for its standard error.
        metadata["roc_auc"] = roc_auc["value"]
        metadata["test_rows"] = rows
    return metadata


def _suite(frame: pd.DataFrame, contract: ModelContract, model: str, uri: str) -> Suite:
    """The suite of the contract's columns, inferred from the reference.

    The column set must be present but is not exact: a batch may carry columns the model never
    reads (MLflow's schema enforcement ignores them too), so only the features, id, timestamp
    and label are held to the reference. The label is listed as optional: a batch to score
    lacks it, and a reader drops its expectations then (``Suite.without_columns``).
    """
    from mlops_guard.validation._infer import infer_suite
    from mlops_guard.validation._suite import ExpectationSpec, Suite

    columns = [*contract.feature_names, *contract.passthrough_columns, contract.label]
    inferred = infer_suite(frame[[c for c in frame.columns if c in columns]], _suite_name(model))
    expectations = [
        ExpectationSpec(
            spec.type,
            {**spec.kwargs, "exact_match": False},
            {"mlops_guard": {"inferred": "the model contract's columns; others allowed"}},
            spec.extra,
        )
        if spec.type == "expect_table_columns_to_match_set"
        else spec
        for spec in inferred.expectations
    ]
    meta: dict[str, Any] = dict(inferred.meta)
    own: dict[str, Any] = dict(meta.get("mlops_guard", {}))
    own.update({"model": model, "model_uri": uri, "optional_columns": [contract.label]})
    meta["mlops_guard"] = own
    return Suite(name=inferred.name, expectations=tuple(expectations), meta=meta)


def _reference(
    frame: pd.DataFrame, path: str, predictor: Predictor, uri: str, model: str
) -> _Reference:
    from mlops_guard.data import fingerprint
    from mlops_guard.drift import build_profile
    from mlops_guard.quality import measure

    contract = predictor.contract
    scored = _score_reference(predictor, frame, path)
    report = measure(contract, scored[contract.label], scored[contract.prediction_columns])
    quality: dict[str, Any] = report.to_json()
    # Features, label and predictions: ids and timestamps have no distribution to compare,
    # and the reference's other columns never reach the model.
    profiled = scored[[*contract.feature_names, contract.label, *contract.prediction_columns]]
    profile = build_profile(profiled, metadata=_profile_metadata(uri, path, quality, len(scored)))
    suite = _suite(frame, contract, model, uri)
    return _Reference(
        path=path,
        rows=len(scored),
        unscored=len(frame) - len(scored),
        fingerprint=fingerprint(frame),
        profile=profile,
        suite=suite,
        report=report,
    )


# ------------------------------------------------------------------------------ writes


def _experiment_id(client: RegistryClient, settings: GuardSettings) -> str:
    """The mlops-guard experiment (artifacts under the workdir, as ``ensure_experiment``),
    through the client: the fluent API would point the whole process at this store."""
    from mlflow.exceptions import MlflowException

    name = settings.experiment_name
    found = client.call(
        f"read experiment {name!r}", lambda: client.mlflow.get_experiment_by_name(name)
    )
    if found is not None:
        return str(found.experiment_id)
    artifacts = (settings.workdir.resolve() / "mlartifacts").as_uri()
    try:
        return str(
            client.call(
                f"create experiment {name!r}",
                lambda: client.mlflow.create_experiment(name, artifact_location=artifacts),
            )
        )
    except MlflowException as exc:  # created by another process in between
        again = client.mlflow.get_experiment_by_name(name)
        if again is None:
            raise RegistryError(f"MLflow refused to create experiment {name!r}: {exc}") from exc
        return str(again.experiment_id)


def _holds_reference(client: RegistryClient, run_id: str) -> bool:
    """True when the run already keeps a reference (of another version): it is not replaced."""
    from mlops_guard.drift import PROFILE_ARTIFACT_PATH

    run = client.call(f"read run {run_id}", lambda: client.mlflow.get_run(run_id))
    repository = _repository(client, run.info.artifact_uri)
    for artifact in (PROFILE_ARTIFACT_PATH, SUITE_ARTIFACT):
        parent = str(Path(artifact).parent)
        listed = client.call(
            f"list the artifacts of run {run_id}",
            functools.partial(repository.list_artifacts, parent),
        )
        if any(item.path == artifact for item in listed):
            return True
    return False


def _new_run(
    client: RegistryClient, settings: GuardSettings, name: str, undo: _Undo, tags: dict[str, str]
) -> str:
    experiment = _experiment_id(client, settings)
    run = client.call(
        "create the registration run",
        lambda: client.mlflow.create_run(experiment, run_name=f"register-{name}", tags=tags),
    )
    run_id = str(run.info.run_id)
    undo.add(f"run {run_id}", lambda: _delete_run(client, run_id))
    return run_id


def _delete_run(client: RegistryClient, run_id: str) -> None:
    _delete_artifacts(client, run_id, "")
    client.mlflow.delete_run(run_id)


def _repository(client: RegistryClient, artifact_uri: str) -> Any:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    return get_artifact_repository(artifact_uri, tracking_uri=client.uri, registry_uri=client.uri)


def _delete_artifacts(client: RegistryClient, run_id: str, path: str) -> None:
    """Delete ``path`` from the run's artifacts (all of them for ""), and its directory when
    nothing else is left in it: the run looks as it did before the registration."""
    root = client.mlflow.get_run(run_id).info.artifact_uri
    repository = _repository(client, root)
    repository.delete_artifacts(path or None)
    parent = str(Path(path).parent) if path else "."
    if parent != "." and not repository.list_artifacts(parent):
        repository.delete_artifacts(parent)


def _log_reference(client: RegistryClient, run_id: str, reference: _Reference, undo: _Undo) -> None:
    from mlops_guard.drift import PROFILE_ARTIFACT_PATH

    with tempfile.TemporaryDirectory(prefix="mlops-guard-register-") as tmp:
        profile = reference.profile.save(Path(tmp) / Path(PROFILE_ARTIFACT_PATH).name)
        suite = Path(tmp) / Path(SUITE_ARTIFACT).name
        suite.write_text(json.dumps(reference.suite.to_json_dict(), indent=2), encoding="utf-8")
        for local, artifact in ((profile, PROFILE_ARTIFACT_PATH), (suite, SUITE_ARTIFACT)):
            parent = str(Path(artifact).parent)
            undo.add(
                f"artifact {artifact} of run {run_id}",
                functools.partial(_delete_artifacts, client, run_id, artifact),
            )
            client.call(
                f"log {artifact} to run {run_id}",
                functools.partial(
                    client.mlflow.log_artifact, run_id, str(local), artifact_path=parent
                ),
            )


def _ensure_registered_model(client: RegistryClient, name: str, undo: _Undo) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.call(
            f"create registered model {name!r}",
            lambda: client.mlflow.create_registered_model(name),
        )
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_ALREADY_EXISTS":
            return
        raise RegistryError(
            f"MLflow refused to create registered model {name!r}: {_refused(exc)}",
            hint="pick another --name",
        ) from exc
    undo.add(f"registered model {name!r}", lambda: _delete_model_if_empty(client, name))


def _delete_model_if_empty(client: RegistryClient, name: str) -> None:
    # Another registration may have added a version meanwhile: only an empty model goes.
    if not client.mlflow.search_model_versions(f"name = '{name}'", max_results=1):
        client.mlflow.delete_registered_model(name)


def _create_version(
    client: RegistryClient,
    name: str,
    source: _Source,
    run_id: str,
    tags: dict[str, str],
    undo: _Undo,
) -> str:
    from mlflow.exceptions import MlflowException

    assert source.source is not None
    try:
        created = client.call(
            f"create a version of {name!r}",
            lambda: client.mlflow.create_model_version(
                name, source=str(source.source), run_id=run_id, tags=tags, model_id=source.model_id
            ),
        )
    except MlflowException as exc:
        raise RegistryError(
            f"MLflow refused to create a version of {name!r} from {source.uri!r}: {_refused(exc)}"
        ) from exc
    version = str(created.version)
    undo.add(
        f"version {version} of {name!r}",
        lambda: client.mlflow.delete_model_version(name, version),
    )
    return version


def _assign_alias(name: str, version: str, origin: str, actor: str, settings: GuardSettings) -> str:
    """The first version becomes champion, later ones challenger (a canary decides the rest).
    ``origin`` says where the version came from, in the alias history."""
    from mlops_guard.registry._aliases import (
        CHALLENGER,
        CHAMPION,
        get_champion,
        promote,
        set_challenger,
    )

    if get_champion(name, settings=settings) is None:
        promote(
            name,
            version,
            reason=f"first registered version, {origin}",
            actor=actor,
            settings=settings,
        )
        return CHAMPION
    set_challenger(name, version, reason=f"registered {origin}", actor=actor, settings=settings)
    return CHALLENGER


def _tags(source: _Source, run_id: str, actor: str, reference: _Reference | None) -> dict[str, str]:
    from mlops_guard.pipelines._mlflow import LINEAGE_PREFIX

    tags = {f"{LINEAGE_PREFIX}source": source.uri, f"{LINEAGE_PREFIX}actor": actor}
    if source.run_id and source.run_id != run_id:
        tags[f"{LINEAGE_PREFIX}source_run_id"] = source.run_id
    if reference is not None:
        tags.update(
            {
                f"{LINEAGE_PREFIX}reference": reference.path,
                f"{LINEAGE_PREFIX}data_fingerprint": reference.fingerprint,
                f"{LINEAGE_PREFIX}rows": str(reference.rows),
                SUITE_TAG: SUITE_ARTIFACT,
            }
        )
    return tags


# --------------------------------------------------------------------------------- API


def register_model(
    model_uri: str,
    *,
    name: str,
    label: str,
    task: Task,
    id_column: str | None = None,
    timestamp_column: str | None = None,
    features: list[str] | None = None,
    positive_class: Any | None = None,
    reference: str | Path | None = None,
    suite: str | Path | Suite | None = None,
    lineage: Mapping[str, str] | None = None,
    settings: GuardSettings | None = None,
    actor: str = "cli",
) -> Registration:
    """Register the MLflow model at ``model_uri`` as a new version of ``name``.

    ``model_uri`` is any URI of an MLflow model with a pyfunc flavour: ``runs:/<run>/<path>``,
    ``models:/<name>/<version>`` or ``models:/<name>@<alias>`` (the new version points at the
    same files), ``models:/m-...`` (an MLflow 3 logged model), or a local model directory
    (logged first into a run of the mlops-guard experiment, so it lives in the artifact store).

    The contract's features come from the model's signature, else ``features``, else the
    reference's columns minus label, id and timestamp. With ``reference`` (labelled data the
    model was not trained on, CSV or Parquet) the version also gets its drift reference
    profile, an inferred validation suite (:data:`SUITE_ARTIFACT`, named by :data:`SUITE_TAG`)
    and its reference quality (version tag ``mlops_guard.quality.REFERENCE_QUALITY_TAG``). The
    first version of ``name`` becomes champion, later ones challenger.

    ``suite`` (a suite file, with ``reference``) is stored as the version's suite instead of
    the inferred one: the suite the training data was validated with holds the batches to the
    same contract. ``lineage`` adds version tags (prefixed ``mlops_guard.``); they win over the
    reference's (a training flow's ``data_fingerprint`` is the training data's).

    Raises, before anything is written: :class:`DataNotFound` / :class:`UsageError` (a URI
    that resolves to no model, no pyfunc flavour), :class:`ContractError` (labels that do not
    fit the task, a model that scores none of the reference), :class:`SchemaError` (a feature,
    the label or the id missing from the reference), :class:`ModelNotFound` /
    :class:`VersionNotFound` (a ``models:/`` URI); and :class:`RegistryError` /
    :class:`RegistryUnavailable` when a write fails, after undoing the earlier writes.
    """
    from mlops_guard.contract._model import TASKS, infer_contract
    from mlops_guard.contract._predictor import Predictor
    from mlops_guard.contract._store import save_contract
    from mlops_guard.data import read_table
    from mlops_guard.quality import save_reference_quality

    settings = _settings(settings)
    if not name or not name.strip():
        raise UsageError("the model name is empty", hint="pass --name NAME")
    if task not in TASKS:
        raise ContractError(
            f"task {task!r} is not one of {', '.join(TASKS)}",
            hint="pass --task binary, multiclass or regression",
        )
    uri = str(model_uri)
    client = RegistryClient(settings)
    source = _resolve(uri, client)
    if source.source is not None:
        # The version points at the files themselves: MLflow's SQL registry resolves a
        # models:/ source through the process's global tracking URI, not this client's.
        source.source = _location(source.source, client)
    roles = {c for c in (label, id_column, timestamp_column) if c}
    with tempfile.TemporaryDirectory(prefix="mlops-guard-model-") as tmp:
        directory = _download(source, client, tmp)
        signature = _signature_features(_mlmodel(directory, uri))
        _features_agree(features, signature, roles)
        where = str(reference) if reference is not None else "the reference data"
        frame = None if reference is None else read_table(reference).reset_index(drop=True)
        contract_from = functools.partial(
            infer_contract,
            label=label,
            task=task,
            reference=frame,
            features=features,
            signature_features=signature,
            id_column=id_column,
            timestamp_column=timestamp_column,
            positive_class=positive_class,
            source=where,
        )
        if frame is not None:
            # The data is checked before the model is loaded: a wrong label or a missing
            # column is reported without waiting for (or warnings from) the model's load.
            contract_from()
        raw, proba, predict, model_classes = _load(directory)
        if task == "regression" and model_classes is not None:
            raise ContractError(
                f"model {uri!r} is a classifier (classes {list(model_classes)[:5]}), but the "
                "task is regression",
                hint="pass --task binary or --task multiclass",
            )
        # The model's own classes, when it knows them: a reference may lack a rare class, and
        # the probability columns follow the model's classes.
        contract = contract_from(classes=None if task == "regression" else _listed(model_classes))
        found: _Reference | None = None
        if frame is not None:
            contract.check_labels(frame[label], source=where)
            predictor = Predictor(name, "new", contract, raw, proba, predict, model_classes)
            found = _reference(frame, where, predictor, uri, name)
            if suite is not None:
                from mlops_guard.validation import load_suite

                found.suite = load_suite(suite)
        undo = _Undo()
        try:
            version, run_id = _write(
                client, settings, source, name, found, actor, undo, dict(lineage or {})
            )
            save_contract(contract, model=name, version=version, run_id=run_id, settings=settings)
            if found is not None:
                save_reference_quality(found.report, model=name, version=version, settings=settings)
            # A training flow names its data; a model registered by hand, its URI.
            trained_on = (lineage or {}).get("source")
            origin = f"trained on {trained_on}" if trained_on else f"from {uri}"
            alias = _assign_alias(name, version, origin, actor, settings)
        except BaseException as exc:
            _undo_or_explain(undo, name, exc)
            raise
    return Registration(
        model=name,
        version=version,
        alias=alias,
        source=uri,
        run_id=run_id,
        contract=contract,
        reference_quality=None if found is None else found.quality,
        reference=None
        if found is None
        else {
            "path": found.path,
            "rows": found.rows,
            "unscored_rows": found.unscored,
            "fingerprint": found.fingerprint,
        },
    )


def _listed(classes: tuple[Any, ...] | None) -> list[Any] | None:
    return None if classes is None else list(classes)


def _write(
    client: RegistryClient,
    settings: GuardSettings,
    source: _Source,
    name: str,
    reference: _Reference | None,
    actor: str,
    undo: _Undo,
    lineage: dict[str, str],
) -> tuple[str, str]:
    """The run's artifacts, then the registered model and the version, each with its undo
    step; returns (version, the version's run)."""
    from mlops_guard.pipelines._mlflow import LINEAGE_PREFIX

    run_tags = {f"{LINEAGE_PREFIX}source": source.uri, f"{LINEAGE_PREFIX}actor": actor}
    if source.local is None and source.run_id and not _holds_reference(client, source.run_id):
        run_id = source.run_id
        if reference is not None:
            _log_reference(client, run_id, reference, undo)
    else:
        # No run (a local directory, a model outside any run), or a run that keeps another
        # version's reference: this version's goes in a run of its own, so that neither
        # replaces the other.
        if source.run_id:
            run_tags[f"{LINEAGE_PREFIX}source_run_id"] = source.run_id
        run_id = _new_run(client, settings, name, undo, run_tags)
        if source.local is not None:
            local = source.local
            client.call(
                f"log the model directory {local} to run {run_id}",
                lambda: client.mlflow.log_artifacts(run_id, str(local), _MODEL_ARTIFACT),
            )
            run = client.call(f"read run {run_id}", lambda: client.mlflow.get_run(run_id))
            source.source = f"{run.info.artifact_uri.rstrip('/')}/{_MODEL_ARTIFACT}"
            source.run_id = run_id
        if reference is not None:
            _log_reference(client, run_id, reference, undo)
        client.call(f"finish run {run_id}", lambda: client.mlflow.set_terminated(run_id))
    _ensure_registered_model(client, name, undo)
    tags = _tags(source, run_id, actor, reference)
    tags.update({f"{LINEAGE_PREFIX}{k}": v for k, v in lineage.items()})
    return _create_version(client, name, source, run_id, tags, undo), run_id


def _undo_or_explain(undo: _Undo, name: str, exc: BaseException) -> None:
    """Undo the writes of a failed registration; if some cannot be undone, say what is left."""
    if not undo.steps:
        return
    left = undo.run()
    if left:
        detail = exc.message if isinstance(exc, GuardError) else f"{type(exc).__name__}: {exc}"
        raise RegistryUnavailable(
            f"registering {name!r} failed ({' '.join(str(detail).split())[:_REASON_CHARS]}) and "
            f"these writes could not be undone: {'; '.join(left)}",
            hint="delete them in the MLflow UI before registering again",
        ) from exc
    _log.info("registration of %r failed; its writes were undone", name)
