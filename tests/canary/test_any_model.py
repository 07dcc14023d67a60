"""The canary of models not written for churn, against a real MLflow SQLite store and the real
registry: a user's script trains and logs plain scikit-learn models with plain MLflow, the
versions are registered with ``MlflowClient`` and get a contract (``save_contract``), and the
aliases move through ``mlops_guard.registry``.

For each task a genuinely worse challenger (trained on shuffled labels) fails its canary and
an equal one (same recipe, same data) is promoted; a challenger that cannot score some rows
fails on its error rate; unlabelled data is judged on outputs, latency and errors only; and
``mlops-guard canary run`` exits 0, 1 or 2 with one-line errors.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
import sklearn
from mlflow.tracking import MlflowClient

from mlops_guard.canary import run_canary
from mlops_guard.cli import main
from mlops_guard.contract import ModelContract, Task, infer_contract, save_contract
from mlops_guard.data import read_table, write_table
from mlops_guard.errors import ContractError, SchemaError
from mlops_guard.registry import get_challenger, get_champion, promote, set_challenger
from mlops_guard.settings import GuardSettings

# --- the user's script: generated data, plain scikit-learn, plain MLflow ------------------

# Explicit requirements: inferring them costs about 10 s per log_model.
REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}", f"mlflow=={mlflow.__version__}"]
FEATURES = ["x1", "x2", "x3", "x4"]
WEIGHTS = np.array([1.5, -1.0, 0.8, 0.3])
MULTICLASS_WEIGHTS = np.array([[1.2, -0.5, 0.0, 0.3], [-0.8, 1.0, 0.5, 0.0], [0.0, 0.0, -1.0, 1.0]])
CLASSES = np.array(["low", "mid", "high"])
CHANNELS = np.array(["web", "store", "phone"])
LABELS = {"binary": "bought", "multiclass": "segment", "regression": "price"}
# The multiclass data has no id column: its canary routes by row order.
IDS = {"binary": "order_id", "multiclass": None, "regression": "house_id"}
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
TRAIN_ROWS = 2000
BATCH_ROWS = 1000


def generate(task: str, seed: int, rows: int, *, new_channel: float = 0.0) -> pd.DataFrame:
    """Rows of one fixed relation between features and label; the seed draws new rows.
    ``new_channel``: the share of rows whose ``channel`` is one no training row had."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES)))
    frame = pd.DataFrame(x, columns=FEATURES)
    channel = CHANNELS[rng.integers(0, len(CHANNELS), rows)].astype(object)
    channel[rng.random(rows) < new_channel] = "partner"
    frame["channel"] = channel
    label = LABELS[task]
    if task == "binary":
        frame[label] = (rng.random(rows) < 1 / (1 + np.exp(-(x @ WEIGHTS)))).astype(int)
    elif task == "multiclass":
        logits = x @ MULTICLASS_WEIGHTS.T + rng.gumbel(size=(rows, len(CLASSES)))
        frame[label] = CLASSES[np.argmax(logits, axis=1)]
    else:
        frame[label] = 3.0 * (x @ WEIGHTS) + 10 + rng.normal(0, 1.0, rows)
    column = IDS[task]
    if column is not None:
        frame.insert(0, column, [f"{task[:3]}-{seed}-{i}" for i in range(rows)])
    return frame


def _estimator(task: str) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    return Ridge() if task == "regression" else LogisticRegression(max_iter=1000)


def _channel_model() -> Any:
    """A pipeline that one-hot encodes ``channel`` and refuses a channel it never saw."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    prep = ColumnTransformer(
        [("channel", OneHotEncoder(handle_unknown="error"), ["channel"])],
        remainder="passthrough",
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=1000))])


@dataclass(frozen=True)
class Logged:
    run_id: str
    model_uri: str
    model_id: str | None


def train_and_log(
    experiment: str, estimator: Any, train: pd.DataFrame, label: str, columns: list[str]
) -> Logged:
    """What the user's script does: fit, then mlflow.sklearn.log_model. Nothing of ours."""
    estimator.fit(train[columns], train[label])
    with mlflow.start_run(experiment_id=experiment) as run:
        info = mlflow.sklearn.log_model(estimator, name="model", pip_requirements=REQUIREMENTS)
    return Logged(run.info.run_id, info.model_uri, info.model_id)


# --- registering the versions with mlops-guard's contract ---------------------------------

MODELS: dict[str, str] = {task: f"canary-{task}" for task in TASKS}
# Versions of each model, in the order they are registered.
CHAMPION, EQUAL, WORSE = "1", "2", "3"
CHANNEL_MODEL = "4"  # canary-binary only: uses `channel`, fails on a channel it never saw
OTHER_TASK = "5"  # canary-binary only: the regressor, registered under the binary model
OTHER_LABEL = "6"  # canary-binary only: the champion's model with a contract for another label


def _register(
    client: MlflowClient,
    store: GuardSettings,
    name: str,
    logged: Logged,
    contract: ModelContract,
) -> str:
    version = str(
        client.create_model_version(
            name, source=logged.model_uri, run_id=logged.run_id, model_id=logged.model_id
        ).version
    )
    save_contract(contract, model=name, version=version, run_id=logged.run_id, settings=store)
    return version


@pytest.fixture(scope="module")
def _store(tmp_path_factory: pytest.TempPathFactory, _migrated_store: Path) -> Path:
    """Every model and version of this module, logged once; tests copy the database."""
    directory = tmp_path_factory.mktemp("canary-any-model")
    shutil.copyfile(_migrated_store, directory / "mlflow.db")
    uri = f"sqlite:///{(directory / 'mlflow.db').as_posix()}"
    store = GuardSettings(workdir=directory, tracking_uri=uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment(
        "user-script", artifact_location=(directory / "artifacts").as_uri()
    )
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    logged: dict[str, Logged] = {}
    for task in TASKS:
        name, label = MODELS[task], LABELS[task]
        train = generate(task, 1, TRAIN_ROWS)
        shuffled = train.assign(
            **{label: np.random.default_rng(2).permutation(train[label].to_numpy())}
        )
        contract = infer_contract(
            label=label, task=task, reference=train, features=FEATURES, id_column=IDS[task]
        )
        client.create_registered_model(name)
        for version, data in ((CHAMPION, train), (EQUAL, train), (WORSE, shuffled)):
            found = train_and_log(experiment, _estimator(task), data, label, FEATURES)
            assert _register(client, store, name, found, contract) == version
            logged[f"{task}/{version}"] = found
    binary = generate("binary", 1, TRAIN_ROWS)
    channel = train_and_log(
        experiment, _channel_model(), binary, LABELS["binary"], [*FEATURES, "channel"]
    )
    with_channel = infer_contract(
        label=LABELS["binary"],
        task="binary",
        reference=binary,
        features=[*FEATURES, "channel"],
        id_column=IDS["binary"],
    )
    assert _register(client, store, MODELS["binary"], channel, with_channel) == CHANNEL_MODEL
    regression = infer_contract(
        label=LABELS["binary"], task="regression", features=FEATURES, id_column=IDS["binary"]
    )
    assert (
        _register(client, store, MODELS["binary"], logged["regression/1"], regression) == OTHER_TASK
    )
    other_label = infer_contract(
        label="returned", task="binary", features=FEATURES, classes=[0, 1], id_column="order_id"
    )
    assert (
        _register(client, store, MODELS["binary"], logged["binary/1"], other_label) == OTHER_LABEL
    )
    return directory / "mlflow.db"


@pytest.fixture
def store(settings: GuardSettings, _store: Path) -> GuardSettings:
    """This test's copy of the module's store (no aliases yet)."""
    shutil.copyfile(_store, settings.workdir / "mlflow.db")
    return settings


def _aliases(settings: GuardSettings, task: str, challenger: str) -> str:
    name = MODELS[task]
    promote(name, CHAMPION, reason="baseline", actor="test", settings=settings)
    set_challenger(name, challenger, reason="candidate", actor="test", settings=settings)
    return name


def _batches(task: str, count: int, seed: int, **kwargs: float) -> list[pd.DataFrame]:
    return [generate(task, seed + i, BATCH_ROWS, **kwargs) for i in range(count)]


# The metrics judged with labels, by task (without labels: the first three of each).
JUDGED = {
    "binary": {"latency_seconds", "error", "score", "correct", "log_loss", "roc_auc"},
    "multiclass": {"latency_seconds", "error", "predicted_class", "correct", "macro_f1"},
    "regression": {"latency_seconds", "error", "prediction", "abs_error", "mae", "rmse"},
}
# The labelled metric that fails a worse challenger, by task (critical: one fails the canary).
DECIDING = {"binary": "correct", "multiclass": "correct", "regression": "abs_error"}


@pytest.mark.parametrize("task", TASKS)
def test_a_worse_challenger_fails_and_is_removed(store: GuardSettings, task: str) -> None:
    name = _aliases(store, task, WORSE)
    report = run_canary(_batches(task, 3, seed=100), model=name, settings=store)

    assert report.decision == "failed"
    assert (report.task, report.labels) == (task, True)
    assert (get_champion(name, store), get_challenger(name, store)) == (CHAMPION, None)
    assert (report.champion_after, report.challenger_after) == (CHAMPION, None)
    last = report.steps[-1].verdict
    assert {m.name for m in last.metrics} == JUDGED[task]
    deciding = last.metric(DECIDING[task])
    assert deciding.outcome == "fail", deciding.reason
    assert deciding.critical
    worse = "higher" if task == "regression" else "lower"
    assert deciding.change == worse
    # The aggregate metrics saw the same: the challenger's AUC, F1 or errors are worse.
    for aggregate in JUDGED[task] & {"roc_auc", "macro_f1", "mae", "rmse"}:
        result = last.metric(aggregate)
        assert result.test == "mover_interval"
        assert result.outcome == "fail", result.reason
    assert report.routed_by == IDS[task]
    if IDS[task] is None:
        assert any("position in the data" in note for note in report.notes)
    else:
        assert report.notes == []


@pytest.mark.slow  # three steps of timed calls with both models, three tasks: ~20 s here
@pytest.mark.parametrize("task", TASKS)
def test_an_equal_challenger_is_promoted(store: GuardSettings, task: str) -> None:
    name = _aliases(store, task, EQUAL)
    # Five batches for three steps: a step that comes out marginal by chance is repeated.
    # Fixed seeds: even for identical models the prediction-distribution test fails one step
    # in twenty (Evidently's p < 0.05), which a repeat with the same batch cannot undo.
    report = run_canary(_batches(task, 5, seed=210), model=name, settings=store)

    assert report.decision == "promoted", [
        (s.step, s.attempt, s.verdict.verdict, s.verdict.reasons) for s in report.steps
    ]
    assert [s.share for s in report.steps if s.verdict.verdict == "pass"] == [0.10, 0.25, 0.50]
    assert (get_champion(name, store), get_challenger(name, store)) == (EQUAL, None)
    assert report.event is not None
    assert (report.event.action, report.event.from_version, report.event.to_version) == (
        "promote",
        CHAMPION,
        EQUAL,
    )
    final = report.steps[-1].verdict
    assert {m.name for m in final.metrics} == JUDGED[task]
    assert all(m.outcome != "fail" for m in final.metrics), final.reasons
    # Each split is written with the contract's prediction columns of the task.
    columns = {
        "binary": {"prediction", "score"},
        "multiclass": {"prediction", "proba_low", "proba_mid", "proba_high"},
        "regression": {"prediction"},
    }[task]
    split = read_table(report.predictions[0])
    assert columns | {"model_version", "batch_id", "scored_at"} <= set(split.columns)


def test_a_challenger_that_cannot_score_some_rows_fails_on_its_error_rate(
    store: GuardSettings,
) -> None:
    name = _aliases(store, "binary", CHANNEL_MODEL)
    # One row in twenty comes from a channel the challenger's encoder never saw.
    data = _batches("binary", 3, seed=300, new_channel=0.05)
    report = run_canary(data, model=name, settings=store)

    assert report.decision == "failed"
    error = report.steps[-1].verdict.metric("error")
    assert error.outcome == "fail", error.reason
    assert error.baseline_center == 0.0
    assert error.canary_center is not None
    assert error.canary_center > 0.02
    assert get_challenger(name, store) is None


def test_a_challenger_that_cannot_score_any_row_fails_with_every_row_an_error(
    store: GuardSettings,
) -> None:
    name = _aliases(store, "binary", CHANNEL_MODEL)
    report = run_canary(
        _batches("binary", 1, seed=350, new_channel=1.0), model=name, settings=store
    )
    assert report.decision == "failed"
    error = report.steps[-1].verdict.metric("error")
    assert (error.outcome, error.baseline_center, error.canary_center) == ("fail", 0.0, 1.0)


def test_without_labels_outputs_latency_and_errors_are_judged(store: GuardSettings) -> None:
    name = _aliases(store, "binary", WORSE)
    unlabelled = [b.drop(columns=LABELS["binary"]) for b in _batches("binary", 3, seed=400)]
    report = run_canary(unlabelled, model=name, settings=store)

    assert report.labels is False
    assert any(note.startswith("labels absent") for note in report.notes)
    assert {m.name for m in report.steps[-1].verdict.metrics} == {
        "latency_seconds",
        "error",
        "score",
    }
    # A model trained on shuffled labels scores everyone near the base rate: its score
    # distribution alone gives it away.
    assert report.decision == "failed"
    assert report.steps[-1].verdict.metric("score").outcome == "fail"
    assert report.to_json()["labels"] is False


@pytest.mark.parametrize(("version", "what"), [(OTHER_TASK, "task"), (OTHER_LABEL, "label")])
def test_a_challenger_with_another_contract_is_refused(
    store: GuardSettings, version: str, what: str
) -> None:
    name = _aliases(store, "binary", version)
    with pytest.raises(ContractError, match=rf"has {what} .* but champion v1 has"):
        run_canary(_batches("binary", 1, seed=500), model=name, settings=store)
    assert (get_champion(name, store), get_challenger(name, store)) == (CHAMPION, version)


def test_data_without_the_challengers_features_or_the_id_is_refused(
    store: GuardSettings,
) -> None:
    name = _aliases(store, "binary", CHANNEL_MODEL)
    batch = generate("binary", 600, BATCH_ROWS)
    with pytest.raises(SchemaError, match="'channel' of challenger v4"):
        run_canary(batch.drop(columns="channel"), model=name, settings=store)
    with pytest.raises(SchemaError, match="'order_id'"):
        run_canary(batch.drop(columns="order_id"), model=name, settings=store)
    assert get_challenger(name, store) == CHANNEL_MODEL


# --- the command line --------------------------------------------------------------------


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("mlops-guard: error: ")
    assert "Traceback" not in err
    return lines[0]


Write = Callable[..., str]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    def put(frame: pd.DataFrame, name: str) -> str:
        return str(write_table(frame, tmp_path / name))

    return put


@pytest.mark.slow  # promotes an equal challenger through three steps: ~6 s here
def test_cli_run_promotes_with_exit_0_and_json(
    store: GuardSettings, write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _aliases(store, "regression", EQUAL)
    files = [write(b, f"batch-{i}.parquet") for i, b in enumerate(_batches("regression", 5, 700))]
    capsys.readouterr()

    assert main(["canary", "run", name, *files, "--json", "--workdir", str(store.workdir)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "promoted"
    assert data["champion"] == {"before": CHAMPION, "after": EQUAL}
    assert data["challenger"] == {"before": EQUAL, "after": None}
    assert (data["task"], data["labels"]) == ("regression", True)
    assert data["routing"] == {"by": "id_column", "column": "house_id"}
    assert [s["share"] for s in data["steps"] if s["verdict"] == "pass"] == [0.1, 0.25, 0.5]
    last = data["steps"][-1]["metrics"]
    assert set(last) == JUDGED["regression"]
    assert set(last["abs_error"]) >= {"outcome", "test", "champion", "challenger", "p_value"}
    assert data["event"] == {"action": "promote", "from_version": CHAMPION, "to_version": EQUAL}
    assert get_champion(name, store) == EQUAL


def test_cli_run_exits_1_when_the_challenger_fails_or_is_inconclusive(
    store: GuardSettings, write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _aliases(store, "multiclass", WORSE)
    few = write(generate("multiclass", 800, 120), "few.csv")
    capsys.readouterr()

    # 120 rows: about 12 reach the challenger at 10%, too few to judge anything.
    assert main(["canary", "run", name, few, "--json"]) == 1
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["verdict"] == "inconclusive"
    assert data["challenger"] == {"before": WORSE, "after": WORSE}
    assert data["routing"] == {"by": "row_order", "column": None}
    assert "canary inconclusive (aliases unchanged)" in _one_error_line(err)
    # The table says the same, with what the judgement could not use.
    assert main(["canary", "run", name, few]) == 1
    table = capsys.readouterr().out
    assert "INCONCLUSIVE" in table
    assert "note: the contract names no id column" in table
    assert "correct" in table

    many = write(generate("multiclass", 801, 3 * BATCH_ROWS), "many.parquet")
    assert main(["canary", "run", name, many, "--json"]) == 1
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["verdict"] == "failed"
    assert data["champion"] == {"before": CHAMPION, "after": CHAMPION}
    assert data["challenger"] == {"before": WORSE, "after": None}
    assert data["steps"][-1]["metrics"]["correct"]["outcome"] == "fail"
    assert f"challenger v{WORSE} removed" in _one_error_line(err)
    assert get_challenger(name, store) is None


def test_cli_run_bad_input_exits_2_with_one_line(
    store: GuardSettings, write: Write, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary, regression = MODELS["binary"], MODELS["regression"]
    _aliases(store, "binary", CHANNEL_MODEL)
    promote(regression, CHAMPION, reason="baseline", actor="test", settings=store)
    batch = generate("binary", 900, BATCH_ROWS)
    paths = {
        "good": write(batch, "good.parquet"),
        "no_feature": write(batch.drop(columns="x2"), "no-feature.csv"),
        "no_id": write(batch.drop(columns="order_id"), "no-id.csv"),
        "no_label": write(batch.drop(columns=LABELS["binary"]), "no-label.csv"),
    }
    capsys.readouterr()
    cases = [
        ([binary, paths["no_feature"]], "'x2'"),
        ([binary, paths["no_id"]], "'order_id'"),
        ([binary, paths["no_label"]], f"no values of the label {LABELS['binary']!r}"),
        ([binary, str(tmp_path / "missing.csv")], "missing.csv"),
        ([regression, paths["good"]], "has no challenger"),
        (["no-such-model", paths["good"]], "no-such-model"),
    ]
    for args, needle in cases:
        assert main(["canary", "run", *args]) == 2, args
        assert needle in _one_error_line(capsys.readouterr().err)
    set_challenger(binary, OTHER_TASK, reason="wrong task", actor="test", settings=store)
    assert main(["canary", "run", binary, paths["good"], "--json"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "has task 'regression' but champion v1 has 'binary'" in line
    # Nothing moved on bad input.
    assert (get_champion(binary, store), get_challenger(binary, store)) == (CHAMPION, OTHER_TASK)
