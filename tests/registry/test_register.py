"""mlops-guard register: models trained by someone else's code, logged with plain MLflow,
registered with their contract, drift reference, validation suite and reference quality.

Every model here comes from a "user script" (tests/registry/_user_models.py) that knows nothing
of mlops-guard: scikit-learn's bundled data sets, the user's own estimator or a hand-written
pyfunc model. The MLflow store is real (SQLite, the ``settings`` fixture).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient

from mlops_guard.cli import main
from mlops_guard.contract import FeatureSpec, ModelContract, load_contract, load_predictor
from mlops_guard.data import fingerprint, read_table
from mlops_guard.drift import PROFILE_ARTIFACT_PATH, load_profile
from mlops_guard.errors import RegistryUnavailable
from mlops_guard.quality import load_reference_quality
from mlops_guard.registry import (
    SUITE_ARTIFACT,
    SUITE_TAG,
    Registration,
    aliases,
    history,
    register_model,
)
from mlops_guard.settings import GuardSettings
from mlops_guard.validation import Suite, validate
from tests.registry import _user_models as user


@dataclass(frozen=True)
class Store:
    """The user's MLflow: the same store as mlops-guard's; user runs keep their artifacts
    in a directory of their own."""

    uri: str
    artifacts: Path
    client: MlflowClient


@pytest.fixture
def store(settings: GuardSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Store:
    import mlflow.tracking._tracking_service.utils as tracking

    uri = settings.mlflow_tracking_uri
    # The user scripts call mlflow.set_tracking_uri, which sets a module global and exports
    # MLFLOW_TRACKING_URI: both are put back after the test.
    monkeypatch.setattr(tracking, "_tracking_uri", tracking._tracking_uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return Store(uri, tmp_path / "user-artifacts", MlflowClient(tracking_uri=uri, registry_uri=uri))


@contextmanager
def _fluent_mlflow_elsewhere() -> Iterator[None]:
    """The process's fluent MLflow (tracking and registry URI) points at another store, as in
    a process that used MLflow for something else before: registration must use the settings'
    store only, through its own client, and leave the process's URIs alone."""
    import mlflow
    import mlflow.tracking._model_registry.utils as registry
    import mlflow.tracking._tracking_service.utils as tracking

    with tempfile.TemporaryDirectory(prefix="elsewhere-") as tmp:
        elsewhere = Path(tmp) / "mlflow.db"
        uri = f"sqlite:///{elsewhere.as_posix()}"
        saved = tracking._tracking_uri, registry._registry_uri
        tracking._tracking_uri, registry._registry_uri = uri, uri
        try:
            yield
            assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (uri, uri)
            assert not elsewhere.exists()
        finally:
            tracking._tracking_uri, registry._registry_uri = saved


def _register(model_uri: str, **options: Any) -> Registration:
    with _fluent_mlflow_elsewhere():
        return register_model(model_uri, **options)


def _cli(argv: list[str]) -> int:
    with _fluent_mlflow_elsewhere():
        return main(argv)


def _csv(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("mlops-guard: error: ")
    assert "Traceback" not in err
    return lines[0]


def _artifact(store: Store, run_id: str, path: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return Path(store.client.download_artifacts(run_id, path, tmp)).read_bytes()


def _check_registered(
    settings: GuardSettings,
    store: Store,
    registration: Registration,
    expected: ModelContract,
    reference: str,
) -> None:
    """What every registration with --reference leaves in the registry, read back from it."""
    name, version = registration.model, registration.version
    assert registration.contract == expected
    assert load_contract(name, version, settings) == expected
    found = store.client.get_model_version(name, version)
    tags = dict(found.tags)
    assert found.run_id == registration.run_id
    assert tags["mlops_guard.source"] == registration.source
    assert tags["mlops_guard.data_fingerprint"] == fingerprint(read_table(reference))
    assert tags["mlops_guard.reference"] == reference
    quality = load_reference_quality(name, version, settings)
    assert quality.to_json() == registration.reference_quality
    assert quality.task == expected.task
    frame = read_table(reference)
    assert quality.rows == len(frame)

    # The drift reference: the features, the label and the model's own predictions.
    with tempfile.TemporaryDirectory() as tmp:
        profile = load_profile(
            store.client.download_artifacts(found.run_id, PROFILE_ARTIFACT_PATH, tmp)
        )
    assert set(profile.columns) == {
        *expected.feature_names,
        expected.label,
        *expected.prediction_columns,
    }
    assert profile.rows == len(frame)

    # The suite passes its own reference, and a batch to score (no label) once the label's
    # expectations are dropped, as the gate does with optional columns.
    assert tags[SUITE_TAG] == SUITE_ARTIFACT
    suite = Suite.from_json_dict(json.loads(_artifact(store, found.run_id, SUITE_ARTIFACT)))
    assert suite.meta["mlops_guard"]["optional_columns"] == [expected.label]
    assert validate(frame, suite).success
    scoring = suite.without_columns([expected.label])
    unlabelled = frame.drop(columns=[expected.label])
    assert validate(unlabelled.assign(note="extra"), scoring).success  # unread columns pass
    assert not validate(unlabelled.drop(columns=expected.feature_names[0]), scoring).success

    predicted = load_predictor(settings, name, version).predict(frame.head(20))
    assert list(predicted.columns) == expected.prediction_columns
    assert len(predicted) == 20
    assert predicted.notna().all().all()


def _numerical(names: list[str]) -> tuple[FeatureSpec, ...]:
    return tuple(FeatureSpec(name=n, kind="numerical") for n in names)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------- four models


def test_binary_pipeline_from_its_run_then_a_registry_copy(
    settings: GuardSettings, store: Store, tmp_path: Path
) -> None:
    logged = user.breast_cancer_logistic(store.uri, store.artifacts)
    reference = _csv(logged.holdout, tmp_path / "holdout.csv")
    features = [c for c in logged.holdout.columns if c not in ("patient_id", "target")]
    expected = ModelContract(
        features=_numerical(features),
        label="target",
        task="binary",
        id_column="patient_id",
        classes=(0, 1),
        positive_class=1,
    )
    first = _register(
        logged.model_uri,
        name="cancer",
        label="target",
        task="binary",
        id_column="patient_id",
        reference=reference,
        settings=settings,
    )
    assert first.alias == "champion"
    assert first.run_id == logged.run_id  # the version's run is the user's training run
    _check_registered(settings, store, first, expected, reference)
    assert set(first.reference_quality or {}) >= {"metrics", "rows", "task"}
    metrics = (first.reference_quality or {})["metrics"]
    assert set(metrics) == {"accuracy", "roc_auc", "log_loss"}
    assert metrics["accuracy"]["value"] > 0.9
    profile_v1 = _digest(_artifact(store, first.run_id, PROFILE_ARTIFACT_PATH))

    # A copy of the registered version: same files, its own run for its own reference.
    second = _register(
        "models:/cancer/1",
        name="cancer",
        label="target",
        task="binary",
        id_column="patient_id",
        reference=reference,
        settings=settings,
    )
    assert (second.version, second.alias) == ("2", "challenger")
    _check_registered(settings, store, second, expected, reference)
    v1, v2 = (store.client.get_model_version("cancer", v) for v in ("1", "2"))
    assert v2.source == v1.source
    assert v2.run_id != v1.run_id
    assert v2.tags["mlops_guard.source_run_id"] == logged.run_id
    assert _digest(_artifact(store, first.run_id, PROFILE_ARTIFACT_PATH)) == profile_v1
    assert aliases("cancer", settings) == {"champion": "1", "challenger": "2"}
    moves = [
        (e.action, e.to_version, e.actor, e.reason) for e in history("cancer", settings=settings)
    ]
    assert moves == [
        ("promote", "1", "cli", f"first registered version, from {logged.model_uri}"),
        ("set_challenger", "2", "cli", "registered from models:/cancer/1"),
    ]


def test_multiclass_forest_from_a_local_directory_is_copied_into_the_store(
    settings: GuardSettings, store: Store, tmp_path: Path
) -> None:
    logged = user.iris_forest_directory(tmp_path / "iris-model")
    reference = str(tmp_path / "iris.parquet")
    logged.holdout.to_parquet(reference)
    registrations = [
        _register(
            logged.model_uri,
            name="iris",
            label="species",
            task="multiclass",
            reference=reference,
            settings=settings,
        )
        for _ in range(2)
    ]
    assert [(r.version, r.alias) for r in registrations] == [("1", "champion"), ("2", "challenger")]

    # Deleted by the user: the versions live in the artifact store, not in their directory.
    shutil.rmtree(logged.model_uri)
    features = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
    expected = ModelContract(
        features=_numerical(features),
        label="species",
        task="multiclass",
        classes=("setosa", "versicolor", "virginica"),
    )
    store_root = (settings.workdir.resolve() / "mlartifacts").as_uri()
    for registration in registrations:
        _check_registered(settings, store, registration, expected, reference)
        found = store.client.get_model_version("iris", registration.version)
        assert found.source.startswith(store_root)
        assert set((registration.reference_quality or {})["metrics"]) == {"accuracy", "macro_f1"}
    assert registrations[0].run_id != registrations[1].run_id
    predicted = load_predictor(settings, "iris", "2").predict(logged.holdout)
    accuracy = (predicted["prediction"] == logged.holdout["species"]).mean()
    assert accuracy > 0.85


def test_regressor_from_its_logged_model_id_then_its_run_with_the_cli(
    settings: GuardSettings, store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logged = user.diabetes_ridge(store.uri, store.artifacts)
    reference = _csv(logged.holdout, tmp_path / "visits.csv")
    assert logged.model_id is not None
    first = _register(
        f"models:/{logged.model_id}",
        name="diabetes",
        label="target",
        task="regression",
        timestamp_column="visited_at",
        reference=reference,
        settings=settings,
        actor="ci",
    )
    expected = ModelContract(
        features=_numerical(["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]),
        label="target",
        task="regression",
        timestamp_column="visited_at",
    )
    assert first.alias == "champion"
    assert first.run_id == logged.run_id
    _check_registered(settings, store, first, expected, reference)

    argv = ["register", logged.model_uri, "--name", "diabetes", "--label", "target"]
    argv += ["--task", "regression", "--timestamp", "visited_at", "--reference", reference]
    assert _cli([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"model", "version", "alias", "contract", "reference_quality"}
    assert (out["model"], out["version"], out["alias"]) == ("diabetes", "2", "challenger")
    assert ModelContract.from_json(out["contract"]) == expected
    assert set(out["reference_quality"]["metrics"]) == {"mae", "rmse"}
    assert out["reference_quality"]["metrics"]["mae"]["value"] < 60  # target spans 25-346
    second = Registration(
        model="diabetes",
        version="2",
        alias="challenger",
        source=logged.model_uri,
        run_id=out["run_id"],
        contract=expected,
        reference_quality=out["reference_quality"],
    )
    _check_registered(settings, store, second, expected, reference)
    # The user's run already kept v1's reference: v2's is in a run of its own.
    assert out["run_id"] != logged.run_id
    assert history("diabetes", settings=settings)[-1].actor.startswith("cli")


def test_custom_pyfunc_without_signature_takes_features_from_the_command(
    settings: GuardSettings, store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logged = user.radius_rule(store.uri, store.artifacts)
    reference = _csv(logged.holdout, tmp_path / "screening.csv")
    argv = ["register", logged.model_uri, "--name", "rule", "--label", "target"]
    argv += ["--task", "binary", "--features", ",".join(user.RULE_FEATURES)]
    argv += ["--reference", reference]
    assert _cli(argv) == 0
    out = capsys.readouterr().out
    assert "registered rule v1 (champion)" in out
    assert "roc_auc" in out
    expected = ModelContract(
        features=_numerical(user.RULE_FEATURES),
        label="target",
        task="binary",
        classes=(0, 1),
        positive_class=1,
    )
    quality = load_reference_quality("rule", "1", settings)
    first = Registration(
        model="rule",
        version="1",
        alias="champion",
        source=logged.model_uri,
        run_id=str(logged.run_id),
        contract=expected,
        reference_quality=quality.to_json(),
    )
    _check_registered(settings, store, first, expected, reference)
    # Its predict returns one probability column per class: the predictor reads them as such.
    assert set(quality.metrics) == {"accuracy", "roc_auc", "log_loss"}
    assert quality.metrics["accuracy"].value > 0.85

    second = _register(
        logged.model_uri,
        name="rule",
        label="target",
        task="binary",
        features=user.RULE_FEATURES,
        reference=reference,
        settings=settings,
    )
    assert (second.version, second.alias) == ("2", "challenger")
    _check_registered(settings, store, second, expected, reference)


def test_without_reference_the_contract_comes_from_the_signature_and_the_model(
    settings: GuardSettings, store: Store
) -> None:
    logged = user.breast_cancer_logistic(store.uri, store.artifacts)
    registration = _register(
        logged.model_uri, name="cancer", label="target", task="binary", settings=settings
    )
    assert registration.contract.classes == (0, 1)  # the estimator's classes_
    assert registration.reference_quality is None
    assert registration.to_json()["reference_quality"] is None
    assert load_contract("cancer", "1", settings) == registration.contract
    assert SUITE_TAG not in store.client.get_model_version("cancer", "1").tags


# ---------------------------------------------------------------------------- bad input


def _no_pyfunc(directory: Path) -> str:
    from mlflow.models import Model

    directory.mkdir()
    model = Model()
    model.add_flavor("onnx", data="model.onnx")
    model.save(str(directory / "MLmodel"))
    return str(directory)


@pytest.fixture
def ridge(store: Store) -> user.Logged:
    return user.diabetes_ridge(store.uri, store.artifacts)


def _runs(store: Store) -> list[Any]:
    return store.client.search_runs(
        [e.experiment_id for e in store.client.search_experiments()], max_results=1000
    )


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("unknown run", "no run '0123456789abcdef'"),
        ("unknown registered model", "no registered model 'nope'"),
        ("unknown version", "has no version '7'"),
        ("unknown logged model", "no logged model 'm-0000'"),
        ("missing directory", "model directory '/no/such/model' does not exist"),
        ("not a model directory", "is not an MLflow model directory"),
        ("no pyfunc flavour", "has no python_function flavour (its flavours: onnx)"),
        ("missing label column", "lacks column(s) 'outcome'"),
        ("feature missing from the reference", "lacks column(s) 'bmi'"),
        ("regression label, task binary", "108 distinct value(s)"),
        ("string label, task regression", "is not numeric"),
        ("classifier, task regression", "is a classifier"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_registers_nothing(
    settings: GuardSettings,
    store: Store,
    ridge: user.Logged,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    needle: str,
) -> None:
    logged, tmp = ridge, tmp_path
    visits = _csv(logged.holdout, tmp / "visits.csv")
    regression = ["--label", "target", "--task", "regression"]
    uri, options = {
        "unknown run": ("runs:/0123456789abcdef/model", regression),
        "unknown registered model": ("models:/nope/1", regression),
        "unknown version": ("models:/x/7", regression),
        "unknown logged model": ("models:/m-0000", regression),
        "missing directory": ("/no/such/model", regression),
        "not a model directory": (str(tmp), regression),
        "no pyfunc flavour": (_no_pyfunc(tmp / "onnx-model"), regression),
        "missing label column": (
            logged.model_uri,
            ["--label", "outcome", "--task", "regression", "--reference", visits],
        ),
        "feature missing from the reference": (
            logged.model_uri,
            [*regression, "--reference", _csv(logged.holdout.drop(columns="bmi"), tmp / "b.csv")],
        ),
        "regression label, task binary": (
            logged.model_uri,
            ["--label", "target", "--task", "binary", "--reference", visits],
        ),
        "string label, task regression": (
            logged.model_uri,
            [*regression, "--reference", _csv(logged.holdout.assign(target="high"), tmp / "s.csv")],
        ),
        "classifier, task regression": (
            user.iris_forest_directory(tmp / "iris").model_uri,
            ["--label", "species", "--task", "regression"],
        ),
    }[case]
    if case == "unknown version":
        _register(logged.model_uri, name="x", label="target", task="regression", settings=settings)
    models = [(m.name, m.latest_versions) for m in store.client.search_registered_models()]
    runs = len(_runs(store))
    assert _cli(["register", uri, "--name", "x", *options]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert needle in _one_error_line(captured.err)
    # Nothing was written: no new model, version or run.
    assert [(m.name, m.latest_versions) for m in store.client.search_registered_models()] == models
    assert len(_runs(store)) == runs


@pytest.mark.slow  # two fresh processes, each importing MLflow and scikit-learn
def test_a_fresh_process_registers_from_a_run_and_reports_bad_input_in_one_line(
    settings: GuardSettings, store: Store, tmp_path: Path
) -> None:
    """The command as a user runs it: a new process, no MLflow URI set in it, MLflow's own
    defaults for progress bars."""
    logged = user.diabetes_ridge(store.uri, store.artifacts)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "MLFLOW_"))}
    env.update(
        {"MLOPS_GUARD_WORKDIR": str(settings.workdir), "MLOPS_GUARD_TRACKING_URI": store.uri}
    )
    found = shutil.which("mlops-guard") or str(Path(sys.executable).with_name("mlops-guard"))
    command = [found] if Path(found).exists() else [sys.executable, "-m", "mlops_guard.cli"]
    argv = [*command, "register", logged.model_uri, "--name", "diabetes", "--label", "target"]
    argv += ["--task", "regression", "--timestamp", "visited_at"]

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, *extra], env=env, capture_output=True, text=True, timeout=300, check=False
        )

    missing = _csv(logged.holdout.drop(columns="s5"), tmp_path / "no-s5.csv")
    refused = run("--reference", missing)
    assert refused.returncode == 2, refused.stderr
    assert refused.stdout == ""
    assert "lacks column(s) 's5'" in _one_error_line(refused.stderr)
    assert store.client.search_registered_models() == []

    done = run("--reference", _csv(logged.holdout, tmp_path / "visits.csv"), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["version"], out["alias"]) == ("1", "champion")
    assert load_contract("diabetes", "1", settings).timestamp_column == "visited_at"


# ------------------------------------------------------------------------ late failures


def test_a_failing_late_step_leaves_no_version_behind(
    settings: GuardSettings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlops_guard.contract._store as contract_store
    import mlops_guard.registry._aliases as alias_moves

    logged = user.diabetes_ridge(store.uri, store.artifacts)
    reference = _csv(logged.holdout, tmp_path / "visits.csv")
    options: dict[str, Any] = {
        "label": "target",
        "task": "regression",
        "reference": reference,
        "settings": settings,
    }

    # A first registration whose contract cannot be stored: no model, and the user's run is
    # left as it was (the reference logged to it is removed again).
    def unreachable(*_: Any, **__: Any) -> None:
        raise RegistryUnavailable("MLflow failed to tag the version after 3 tries")

    with monkeypatch.context() as patch:
        patch.setattr(contract_store, "save_contract", unreachable)
        with pytest.raises(RegistryUnavailable, match="after 3 tries"):
            _register(logged.model_uri, name="diabetes", **options)
    assert store.client.search_registered_models() == []
    assert [a.path for a in store.client.list_artifacts(str(logged.run_id))] == []

    first = _register(logged.model_uri, name="diabetes", **options)
    assert first.alias == "champion"
    profile_v1 = _digest(_artifact(store, first.run_id, PROFILE_ARTIFACT_PATH))
    runs = {r.info.run_id for r in _runs(store)}

    # A second one whose alias cannot move: version 2 is deleted, and so is the run made
    # for its reference; version 1 and its reference are untouched.
    with monkeypatch.context() as patch:
        patch.setattr(alias_moves, "set_challenger", unreachable)
        with pytest.raises(RegistryUnavailable, match="after 3 tries"):
            _register(logged.model_uri, name="diabetes", **options)
    assert [str(v.version) for v in store.client.search_model_versions("name = 'diabetes'")] == [
        "1"
    ]
    assert aliases("diabetes", settings) == {"champion": "1"}
    assert {r.info.run_id for r in _runs(store)} == runs
    assert _digest(_artifact(store, first.run_id, PROFILE_ARTIFACT_PATH)) == profile_v1

    again = _register(logged.model_uri, name="diabetes", **options)
    assert again.alias == "challenger"
    assert aliases("diabetes", settings) == {"champion": "1", "challenger": again.version}
