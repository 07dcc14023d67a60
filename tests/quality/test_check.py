"""check_quality() and ``mlops-guard quality`` against a real MLflow SQLite store: a model
logged with plain MLflow, its contract and reference quality stored with the version, judged
on fresh data (not degraded) and on data whose labels were corrupted (degraded)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
import sklearn
from mlflow.tracking import MlflowClient

from mlops_guard.cli import main
from mlops_guard.contract import infer_contract, load_predictor, save_contract
from mlops_guard.data import write_table
from mlops_guard.errors import ContractError, ModelNotFound, SchemaError, VersionNotFound
from mlops_guard.metrics import GuardMetrics
from mlops_guard.quality import (
    REFERENCE_QUALITY_TAG,
    check_quality,
    load_reference_quality,
    measure,
    save_reference_quality,
)
from mlops_guard.registry import promote
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings

# Explicit requirements: inferring them costs about 10 s per log_model.
REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}", f"mlflow=={mlflow.__version__}"]
FEATURES = ["x1", "x2", "x3", "x4"]
WEIGHTS = np.array([1.5, -1.0, 0.8, 0.0])
MULTICLASS_WEIGHTS = np.array([[1.2, -0.5, 0.0, 0.3], [-0.8, 1.0, 0.5, 0.0], [0.0, 0.0, -1.0, 1.0]])
CLASSES = np.array(["low", "mid", "high"])
ROWS = 2000


def generate(task: str, seed: int, rows: int = ROWS) -> pd.DataFrame:
    """Rows of one fixed relation between features and label; the seed only draws new rows."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES)))
    frame = pd.DataFrame(x, columns=FEATURES)
    if task == "binary":
        frame["y"] = (rng.random(rows) < 1 / (1 + np.exp(-(x @ WEIGHTS)))).astype(int)
    elif task == "multiclass":
        logits = x @ MULTICLASS_WEIGHTS.T + rng.gumbel(size=(rows, len(CLASSES)))
        frame["y"] = CLASSES[np.argmax(logits, axis=1)]
    else:
        frame["y"] = 3.0 * (x @ WEIGHTS) + 10 + rng.normal(0, 1.0, rows)
    return frame


def corrupt(task: str, frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The same rows with labels the model cannot know: a third flipped or shuffled, or noise."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    hit = rng.random(len(out)) < 0.35
    if task == "binary":
        out.loc[hit, "y"] = 1 - out.loc[hit, "y"]
    elif task == "multiclass":
        out.loc[hit, "y"] = rng.permutation(out.loc[hit, "y"].to_numpy())
    else:
        out["y"] = out["y"] + rng.normal(0, 4.0, len(out))
    return out


@dataclass(frozen=True)
class Registered:
    model: str
    version: str
    task: str


def register(settings: GuardSettings, task: str, *, with_quality: bool = True) -> Registered:
    """What a user does with plain MLflow, then the contract, reference quality and alias."""
    from sklearn.linear_model import LogisticRegression, Ridge

    uri = settings.mlflow_tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    train, holdout = generate(task, 1), generate(task, 2)
    estimator = Ridge() if task == "regression" else LogisticRegression(max_iter=1000)
    estimator.fit(train[FEATURES], train["y"])
    experiment = mlflow.create_experiment(
        f"quality-{task}", artifact_location=(settings.workdir / "artifacts").as_uri()
    )
    with mlflow.start_run(experiment_id=experiment) as run:
        info = mlflow.sklearn.log_model(estimator, name="model", pip_requirements=REQUIREMENTS)
    name = f"quality-{task}"
    client = MlflowClient(uri)
    client.create_registered_model(name)
    version = str(
        client.create_model_version(
            name, source=info.model_uri, run_id=run.info.run_id, model_id=info.model_id
        ).version
    )
    contract = infer_contract(label="y", task=task, reference=holdout)  # type: ignore[arg-type]
    save_contract(contract, model=name, version=version, run_id=run.info.run_id, settings=settings)
    if with_quality:
        predictor = load_predictor(settings, name, version, contract)
        report = measure(contract, holdout["y"], predictor.predict(holdout))
        save_reference_quality(report, model=name, version=version, settings=settings)
    promote(name, version, reason="test", actor="test", settings=settings)
    return Registered(name, version, task)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_fresh_data_is_not_degraded_and_corrupted_labels_are(
    settings: GuardSettings, metrics: GuardMetrics, task: str
) -> None:
    found = register(settings, task)
    fresh = generate(task, 3)
    same = check_quality(found.model, fresh, settings=settings, metrics=metrics)
    assert same.version == found.version  # the champion, by default
    assert same.rows == ROWS
    assert same.degraded is False
    assert not any(m["degraded"] for m in same.to_json()["metrics"].values())

    worse = check_quality(found.model, corrupt(task, fresh, 4), settings=settings, metrics=metrics)
    assert worse.degraded is True
    expected = {
        "binary": {"accuracy", "roc_auc", "log_loss"},
        "multiclass": {"accuracy", "macro_f1"},
        "regression": {"mae", "rmse"},
    }[task]
    assert set(worse.comparison.metrics) == expected
    assert set(worse.comparison.degraded_metrics) == expected

    # The gauge holds the last batch's quality of every metric.
    for name, metric in worse.current.metrics.items():
        value = metrics.sample(
            "mlops_guard_model_quality",
            {"model": found.model, "model_version": found.version, "metric": name},
        )
        assert value == pytest.approx(metric.value)
        degraded = metrics.sample(
            "mlops_guard_model_quality_degraded",
            {"model": found.model, "model_version": found.version, "metric": name},
        )
        assert degraded == 1.0
    events = [e for e in read_runlog(settings.runlog_path) if e["event"] == "quality.checked"]
    assert [(e["degraded"], e["level"]) for e in events] == [(False, "INFO"), (True, "WARNING")]
    assert events[-1]["model_version"] == found.version
    assert set(events[-1]["degraded_metrics"]) == expected


def test_unlabelled_and_unscorable_rows_are_left_out_and_counted(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    found = register(settings, "binary")
    frame = generate("binary", 5).astype({"y": "float64", "x1": "object"})
    frame.loc[:9, "y"] = np.nan
    frame.loc[10:12, "x1"] = "not a number"
    check = check_quality(found.model, frame, settings=settings, metrics=metrics)
    assert check.rows_unlabelled == 10
    assert check.rows_failed == 3
    assert check.rows == ROWS - 13
    assert check.degraded is False


def test_reference_quality_round_trips_through_the_tag(settings: GuardSettings) -> None:
    found = register(settings, "regression")
    stored = MlflowClient(settings.mlflow_tracking_uri).get_model_version(
        found.model, found.version
    )
    text = stored.tags[REFERENCE_QUALITY_TAG]
    assert len(text) < 5_000
    report = load_reference_quality(found.model, found.version, settings)
    assert report.task == "regression"
    assert set(report.metrics) == {"mae", "rmse"}


def test_bad_inputs_raise_errors_that_name_them(settings: GuardSettings) -> None:
    found = register(settings, "binary")
    fresh = generate("binary", 6)
    with pytest.raises(SchemaError, match="'y'"):
        check_quality(found.model, fresh.drop(columns="y"), settings=settings)
    with pytest.raises(ContractError, match=r"value\(s\) \[2\] outside the model's classes"):
        check_quality(found.model, fresh.assign(y=2), settings=settings)
    with pytest.raises(ModelNotFound):
        check_quality("no-such-model", fresh, settings=settings)
    with pytest.raises(VersionNotFound):
        check_quality(found.model, fresh, version="9", settings=settings)


def test_a_version_without_reference_quality_says_how_to_add_it(settings: GuardSettings) -> None:
    found = register(settings, "binary", with_quality=False)
    with pytest.raises(ContractError, match=r"has no reference quality.*--reference DATA"):
        check_quality(found.model, generate("binary", 7), settings=settings)


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("mlops-guard: error: ")
    return lines[0]


def test_cli_exit_codes_and_json(
    settings: GuardSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = register(settings, "binary")
    fresh = generate("binary", 8)
    paths = {
        "fresh": tmp_path / "fresh.csv",
        "corrupted": tmp_path / "corrupted.parquet",
        "unlabelled": tmp_path / "unlabelled.csv",
        "outside": tmp_path / "outside.csv",
    }
    write_table(fresh, paths["fresh"])
    write_table(corrupt("binary", fresh, 9), paths["corrupted"])
    write_table(fresh.drop(columns="y"), paths["unlabelled"])
    write_table(fresh.assign(y=np.where(fresh["y"] == 1, "yes", "no")), paths["outside"])
    capsys.readouterr()

    assert main(["quality", found.model, str(paths["fresh"]), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {
        "model",
        "version",
        "task",
        "rows",
        "rows_unlabelled",
        "rows_failed",
        "degraded",
        "metrics",
    }
    assert (data["model"], data["version"], data["task"], data["rows"]) == (
        found.model,
        found.version,
        "binary",
        ROWS,
    )
    assert data["degraded"] is False
    assert set(data["metrics"]["accuracy"]) == {
        "reference",
        "current",
        "lower",
        "upper",
        "change",
        "degraded",
        "better",
    }

    # Degraded: exit 0 unless asked to fail, then 1; the table names the degraded metrics.
    assert main(["quality", found.model, str(paths["corrupted"])]) == 0
    table = capsys.readouterr().out
    assert "DEGRADED" in table
    assert "roc_auc" in table
    args = ["quality", found.model, str(paths["corrupted"]), "--fail-on-degradation"]
    assert main(args) == 1
    assert main([*args[:-1], "--version", found.version, "--fail-on-degradation"]) == 1
    fresh_args = ["quality", found.model, str(paths["fresh"]), "--fail-on-degradation"]
    assert main(fresh_args) == 0
    capsys.readouterr()

    for bad, needle in [
        (["quality", found.model, str(paths["unlabelled"])], "'y'"),
        (["quality", found.model, str(paths["outside"])], "outside the model's classes"),
        (["quality", "no-such-model", str(paths["fresh"])], "no-such-model"),
        (["quality", found.model, str(paths["fresh"]), "--version", "9"], "'9'"),
        (["quality", found.model, str(tmp_path / "missing.csv")], "missing.csv"),
    ]:
        assert main(bad) == 2, bad
        assert needle in _one_error_line(capsys.readouterr().err)


def test_cli_regression_label_that_is_not_numeric_exits_2(
    settings: GuardSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = register(settings, "regression")
    path = tmp_path / "text-label.csv"
    write_table(generate("regression", 10).assign(y="high"), path)
    capsys.readouterr()
    assert main(["quality", found.model, str(path)]) == 2
    assert "is not numeric" in _one_error_line(capsys.readouterr().err)
