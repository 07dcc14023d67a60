"""`mlops-guard train --trainer`: the user's own fit, guarded, registered and then scored.

Real Prefect server, real MLflow SQLite store; the trainer lives in a plain module of the
"user's project" (tests/pipelines/_user_trainer.py) and knows nothing of mlops-guard.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlops_guard.cli import main
from mlops_guard.contract import load_contract
from mlops_guard.data import write_table
from mlops_guard.metrics import GuardMetrics
from mlops_guard.registry import get_champion
from mlops_guard.settings import GuardSettings
from tests.pipelines import _user_trainer

pytestmark = pytest.mark.usefixtures("prefect_server")

TRAINER = "tests.pipelines._user_trainer:fit"


def _train(*extra: str, data: Path, workdir: Path) -> list[str]:
    return [
        "train",
        str(data),
        "--model",
        "tumours",
        "--label",
        "diagnosis",
        "--task",
        "binary",
        "--id",
        "sample_id",
        "--workdir",
        str(workdir),
        "--json",
        *extra,
    ]


def test_a_trainer_by_import_path_trains_registers_and_scores(
    settings: GuardSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_table(_user_trainer.make_data(2_000, seed=1), tmp_path / "train.csv")
    assert main(_train("--trainer", TRAINER, data=data, workdir=settings.workdir)) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["version"] == "1"
    assert trained["alias"] == "champion"
    assert trained["metrics"]["test_roc_auc"] > 0.7

    contract = load_contract("tumours", "1", settings)
    assert contract.label == "diagnosis"
    assert contract.classes == ("benign", "malignant")
    assert contract.positive_class == "malignant"  # the last of the two sorted labels
    assert contract.id_column == "sample_id"
    assert contract.feature_names == _user_trainer.FEATURES
    assert get_champion("tumours", settings=settings) == "1"

    batch = _user_trainer.make_data(500, seed=2).drop(columns=["diagnosis"])
    batch_file = write_table(batch, tmp_path / "batch.parquet")
    score = ["score", str(batch_file), "--model", "tumours", "--workdir", str(settings.workdir)]
    assert main([*score, "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["model_version"] == "1"
    # The suite inferred from the held-out rows may quarantine an odd row; none is lost.
    assert scored["rows_scored"] + scored["rows_quarantined"] == 500
    assert scored["rows_scored"] >= 490
    predictions = pd.read_parquet(scored["predictions_path"])
    assert set(predictions["prediction"]) <= {"benign", "malignant"}
    assert predictions["score"].between(0, 1).all()
    assert set(predictions["sample_id"]) <= set(batch["sample_id"])
    assert len(predictions) == scored["rows_scored"]
    positive = predictions["score"] >= 0.5
    assert (predictions.loc[positive, "prediction"] == "malignant").all()


def test_a_trainer_that_takes_the_monitor_reports_its_steps(
    settings: GuardSettings,
    metrics: GuardMetrics,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = write_table(_user_trainer.make_data(800, seed=3), tmp_path / "train.parquet")
    trainer = "tests.pipelines._user_trainer:fit_in_steps"
    assert main(_train("--trainer", trainer, data=data, workdir=settings.workdir)) == 0
    capsys.readouterr()
    labels = {"training_job": "train", "model": "tumours"}
    assert metrics.sample("mlops_guard_checkpoint_save_seconds_count", labels) == 3.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--trainer", "no_such_package.train:fit"), "cannot be imported"),
        (("--trainer", "tests.pipelines._user_trainer:missing"), "has no function 'missing'"),
        (("--trainer", "tests.pipelines._user_trainer:not_a_model"), "not a model"),
        (("--trainer", TRAINER, "--label", "nope"), "lacks the label column 'nope'"),
        (("--trainer", TRAINER, "--task", "regression"), "not numeric"),
    ],
)
def test_bad_trainer_input_exits_2_with_one_line(
    settings: GuardSettings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...],
    message: str,
) -> None:
    data = write_table(_user_trainer.make_data(300, seed=4), tmp_path / "train.parquet")
    assert main([*_train(data=data, workdir=settings.workdir), *extra]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert message in lines[0]
    assert "Traceback" not in err
