"""Bad input to the commands that train, score, judge and move models: exit 2 (or the named
code), one stderr line naming the problem, no traceback, and with --json the error document on
stdout. Data commands account for every row they were given.

One registered model (``m``, two versions of a scikit-learn churn model with a contract, a
reference and a suite) serves every case; it is built once for the module against a real
MLflow store.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest

from mlops_guard.cli import main
from mlops_guard.data import write_table
from mlops_guard.demo import FEATURES, ID_COLUMN, LABEL, TIMESTAMP_COLUMN, make_dataset, train_churn
from mlops_guard.registry import register_model
from mlops_guard.settings import GuardSettings

TRAINER = "tests.pipelines._user_trainer:fit"


@dataclass(frozen=True)
class World:
    files: Path
    model_dir: Path


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path, prefect_server: str
) -> Iterator[World]:
    root = tmp_path_factory.mktemp("bad-input")
    workdir = root / "guard"
    workdir.mkdir()
    shutil.copyfile(mlflow_template, workdir / "mlflow.db")
    files = root / "files"
    files.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_GUARD_WORKDIR", str(workdir))
        for name in ("MLOPS_GUARD_TRACKING_URI", "MLFLOW_TRACKING_URI", "PREFECT_API_URL"):
            patch.delenv(name, raising=False)
        data = make_dataset(rows=2_400, seed=3)
        model = train_churn(data.iloc[:2_000])
        model_dir = root / "model"
        sample = data[list(FEATURES)].head(50)
        mlflow.sklearn.save_model(
            model,
            model_dir,
            signature=mlflow.models.infer_signature(sample, model.predict(sample)),
            pip_requirements=["scikit-learn"],
            skops_trusted_types=["numpy.dtype"],
        )
        reference = write_table(data.iloc[2_000:], files / "reference.parquet")
        settings = GuardSettings(workdir=workdir)
        for _ in range(2):  # champion, then challenger
            register_model(
                str(model_dir),
                name="m",
                label=LABEL,
                task="binary",
                id_column=ID_COLUMN,
                timestamp_column=TIMESTAMP_COLUMN,
                reference=reference,
                settings=settings,
            )
        labelled = make_dataset(rows=300, seed=4)
        write_table(labelled, files / "labelled.csv")
        write_table(labelled.drop(columns=[LABEL]), files / "batch.csv")
        write_table(labelled.drop(columns=[ID_COLUMN]), files / "noid.csv")
        write_table(labelled.head(1), files / "onerow.csv")
        texts = labelled.assign(**{LABEL: np.where(labelled[LABEL] == 1, "yes", "no")})
        write_table(texts, files / "textlabel.csv")
        write_table(labelled.assign(**{LABEL: labelled.index % 3}), files / "threeclass.csv")
        (files / "empty.csv").write_bytes(b"")
        (files / "header.csv").write_text(",".join(labelled.columns) + "\n")
        (files / "noise.parquet").write_bytes(bytes(range(256)) * 8)
        (files / "data.txt").write_text("a,b\n1,2\n")
        (files / "folder.csv").mkdir()
        (files / "afile").write_text("not a directory\n")
        yield World(files=files, model_dir=model_dir)


# (argv with {f} for the files and {model} for the model directory, exit code, text the one
# stderr line must contain)
CASES: dict[str, tuple[list[str], int, str]] = {
    # ---------------------------------------------------------------- train
    "train: no such file": (["train", "{f}/missing.csv", "--json"], 2, "missing.csv"),
    "train: a directory": (["train", "{f}/folder.csv", "--json"], 2, "folder.csv"),
    "train: empty file": (["train", "{f}/empty.csv", "--json"], 2, "empty.csv"),
    "train: header only": (["train", "{f}/header.csv"], 2, "header.csv"),
    "train: unknown extension": (["train", "{f}/data.txt", "--json"], 2, "data.txt"),
    "train: noise as parquet": (["train", "{f}/noise.parquet", "--json"], 2, "noise.parquet"),
    "train: no label": (["train", "{f}/batch.csv", "--json"], 2, "churned"),
    "train: one row": (["train", "{f}/onerow.csv", "--json"], 2, "1 distinct value"),
    "train: model name with a slash": (
        ["train", "{f}/labelled.csv", "--model", "team/churn", "--json"],
        2,
        "'team/churn'",
    ),
    "train: model name with a colon": (
        ["train", "{f}/labelled.csv", "--model", "a:b"],
        2,
        "'a:b'",
    ),
    "train: model name '..'": (["train", "{f}/labelled.csv", "--model", ".."], 2, "'..'"),
    "train: --label without --trainer": (
        ["train", "{f}/labelled.csv", "--label", LABEL, "--json"],
        2,
        "--trainer",
    ),
    "train: trainer not module:function": (
        [
            "train",
            "{f}/labelled.csv",
            "--trainer",
            "justaname",
            "--label",
            LABEL,
            "--task",
            "binary",
        ],
        2,
        "justaname",
    ),
    "train: trainer module missing": (
        [
            "train",
            "{f}/labelled.csv",
            "--trainer",
            "no_such_pkg.mod:fit",
            "--label",
            LABEL,
            "--task",
            "binary",
            "--json",
        ],
        2,
        "no_such_pkg.mod",
    ),
    "train: trainer function missing": (
        [
            "train",
            "{f}/labelled.csv",
            "--trainer",
            "json:no_such_fn",
            "--label",
            LABEL,
            "--task",
            "binary",
        ],
        2,
        "no_such_fn",
    ),
    "train: trainer without --label": (
        ["train", "{f}/labelled.csv", "--trainer", TRAINER, "--task", "binary"],
        2,
        "--label",
    ),
    "train: unknown task": (
        ["train", "{f}/labelled.csv", "--trainer", TRAINER, "--label", LABEL, "--task", "ranking"],
        2,
        "ranking",
    ),
    "train: trainer label absent": (
        [
            "train",
            "{f}/labelled.csv",
            "--trainer",
            TRAINER,
            "--label",
            "nope",
            "--task",
            "binary",
            "--json",
        ],
        2,
        "'nope'",
    ),
    "train: regression on text labels": (
        [
            "train",
            "{f}/textlabel.csv",
            "--trainer",
            TRAINER,
            "--label",
            LABEL,
            "--task",
            "regression",
        ],
        2,
        "numeric",
    ),
    "train: binary on three classes": (
        [
            "train",
            "{f}/threeclass.csv",
            "--trainer",
            TRAINER,
            "--label",
            LABEL,
            "--task",
            "binary",
            "--json",
        ],
        2,
        LABEL,
    ),
    "train: id column absent": (
        [
            "train",
            "{f}/labelled.csv",
            "--trainer",
            TRAINER,
            "--label",
            LABEL,
            "--task",
            "binary",
            "--id",
            "nope",
        ],
        2,
        "'nope'",
    ),
    "train: workdir is a file": (
        ["train", "{f}/labelled.csv", "--workdir", "{f}/afile", "--json"],
        2,
        "afile",
    ),
    # ---------------------------------------------------------------- score
    "score: no such file": (["score", "{f}/missing.csv", "--model", "m", "--json"], 2, "missing"),
    "score: a directory": (["score", "{f}/folder.csv", "--model", "m"], 2, "folder.csv"),
    "score: empty file": (["score", "{f}/empty.csv", "--model", "m", "--json"], 2, "empty.csv"),
    "score: header only": (["score", "{f}/header.csv", "--model", "m"], 2, "header.csv"),
    "score: unknown extension": (["score", "{f}/data.txt", "--model", "m"], 2, "data.txt"),
    "score: noise as parquet": (
        ["score", "{f}/noise.parquet", "--model", "m", "--json"],
        2,
        "noise.parquet",
    ),
    "score: no such model": (
        ["score", "{f}/batch.csv", "--model", "nope", "--json"],
        2,
        "'nope'",
    ),
    "score: model name with a slash": (
        ["score", "{f}/batch.csv", "--model", "a/b"],
        2,
        "'a/b'",
    ),
    "score: the contract's id column absent": (
        ["score", "{f}/noid.csv", "--model", "m", "--json"],
        2,
        ID_COLUMN,
    ),
    "score: workdir is a file": (
        ["score", "{f}/batch.csv", "--model", "m", "--workdir", "{f}/afile"],
        2,
        "afile",
    ),
    "score: no DATA": (["score"], 2, "DATA"),
    # -------------------------------------------------------------- quality
    "quality: unlabelled data": (["quality", "m", "{f}/batch.csv", "--json"], 2, LABEL),
    "quality: no such file": (["quality", "m", "{f}/missing.csv"], 2, "missing.csv"),
    "quality: empty file": (["quality", "m", "{f}/empty.csv", "--json"], 2, "empty.csv"),
    "quality: no such model": (["quality", "nope", "{f}/labelled.csv", "--json"], 2, "'nope'"),
    "quality: no such version": (
        ["quality", "m", "{f}/labelled.csv", "--version", "99", "--json"],
        2,
        "99",
    ),
    "quality: version not a number": (
        ["quality", "m", "{f}/labelled.csv", "--version", "latest"],
        2,
        "latest",
    ),
    "quality: labels outside the classes": (
        ["quality", "m", "{f}/textlabel.csv", "--json"],
        2,
        LABEL,
    ),
    "quality: three classes for a binary model": (
        ["quality", "m", "{f}/threeclass.csv"],
        2,
        LABEL,
    ),
    # ----------------------------------------------------------- canary run
    "canary run: unlabelled data": (["canary", "run", "m", "{f}/batch.csv", "--json"], 2, LABEL),
    "canary run: no such file": (["canary", "run", "m", "{f}/missing.csv"], 2, "missing.csv"),
    "canary run: noise as parquet": (
        ["canary", "run", "m", "{f}/noise.parquet", "--json"],
        2,
        "noise.parquet",
    ),
    "canary run: no such model": (
        ["canary", "run", "nope", "{f}/labelled.csv", "--json"],
        2,
        "'nope'",
    ),
    "canary run: the contract's id column absent": (
        ["canary", "run", "m", "{f}/noid.csv"],
        2,
        ID_COLUMN,
    ),
    # ------------------------------------------------------------- register
    "register: no such directory": (
        ["register", "{f}/no-model", "--name", "x", "--label", LABEL, "--task", "binary", "--json"],
        2,
        "no-model",
    ),
    "register: a run that does not exist": (
        [
            "register",
            "runs:/0123456789abcdef/model",
            "--name",
            "x",
            "--label",
            LABEL,
            "--task",
            "binary",
        ],
        2,
        "0123456789abcdef",
    ),
    "register: a registered model that does not exist": (
        [
            "register",
            "models:/nope/1",
            "--name",
            "x",
            "--label",
            LABEL,
            "--task",
            "binary",
            "--json",
        ],
        2,
        "'nope'",
    ),
    "register: a directory that is not a model": (
        ["register", "{f}", "--name", "x", "--label", LABEL, "--task", "binary"],
        2,
        "MLmodel",
    ),
    "register: empty name": (
        ["register", "{model}", "--name", " ", "--label", LABEL, "--task", "binary", "--json"],
        2,
        "name",
    ),
    "register: name with a slash": (
        ["register", "{model}", "--name", "a/b", "--label", LABEL, "--task", "binary"],
        2,
        "'a/b'",
    ),
    "register: classifier as regression": (
        ["register", "{model}", "--name", "x", "--label", LABEL, "--task", "regression", "--json"],
        2,
        "regression",
    ),
    "register: reference missing": (
        [
            "register",
            "{model}",
            "--name",
            "x",
            "--label",
            LABEL,
            "--task",
            "binary",
            "--reference",
            "{f}/missing.csv",
        ],
        2,
        "missing.csv",
    ),
    "register: reference without the label": (
        [
            "register",
            "{model}",
            "--name",
            "x",
            "--label",
            LABEL,
            "--task",
            "binary",
            "--reference",
            "{f}/batch.csv",
            "--json",
        ],
        2,
        LABEL,
    ),
    "register: reference without the id": (
        [
            "register",
            "{model}",
            "--name",
            "x",
            "--label",
            LABEL,
            "--task",
            "binary",
            "--id",
            ID_COLUMN,
            "--reference",
            "{f}/noid.csv",
        ],
        2,
        ID_COLUMN,
    ),
    "register: text labels for a binary model": (
        [
            "register",
            "{model}",
            "--name",
            "x",
            "--label",
            LABEL,
            "--task",
            "binary",
            "--reference",
            "{f}/textlabel.csv",
            "--json",
        ],
        2,
        LABEL,
    ),
    "register: unknown task": (
        ["register", "{model}", "--name", "x", "--label", LABEL, "--task", "ranking"],
        2,
        "ranking",
    ),
    # ------------------------------------------------- promote, rollback, history
    "promote: no such model": (["promote", "nope", "1"], 2, "'nope'"),
    "promote: no such version": (["promote", "m", "99"], 2, "99"),
    "promote: version not a number": (["promote", "m", "latest"], 2, "latest"),
    "rollback: no such model": (["rollback", "nope", "--json"], 2, "'nope'"),
    "rollback: to no such version": (["rollback", "m", "--to", "99", "--json"], 2, "99"),
    "rollback: nothing to undo": (["rollback", "m", "--json"], 2, "'m'"),
    "registry history: no such model": (["registry", "history", "nope", "--json"], 2, "'nope'"),
    # ------------------------------------------------------------- the parser
    "an unknown option": (["--frobnicate"], 2, "--frobnicate"),
    "an unknown command": (["frobnicate"], 2, "frobnicate"),
    "an unknown option of a command": (["score", "{f}/batch.csv", "--frob"], 2, "--frob"),
}


def _argv(template: list[str], world: World) -> list[str]:
    return [
        part.replace("{f}", str(world.files)).replace("{model}", str(world.model_dir))
        for part in template
    ]


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_with_one_line(
    case: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    template, code, named = CASES[case]
    argv = _argv(template, world)
    assert main(argv) == code
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("mlops-guard: error: ")
    assert "Traceback" not in captured.err
    assert named in lines[0]
    if "--json" in argv:
        error = json.loads(captured.out)["error"]
        assert error["kind"]
        assert named in f"{error['message']}; {error['hint']}"
    else:
        assert captured.out == ""


def test_score_accounts_for_every_row_of_a_batch_it_partly_rejects(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = pd.read_csv(world.files / "batch.csv")
    batch.loc[:9, "age"] = None  # the suite requires ages
    batch.loc[10:14, "region"] = "atlantis"  # and known regions
    path = write_table(batch, world.files / "partly-bad.parquet")
    assert main(["score", str(path), "--model", "m", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rows_in"] == len(batch)
    assert result["rows_quarantined"] == 15
    assert result["rows_scored"] + result["rows_quarantined"] == result["rows_in"]
    scored = pd.read_parquet(result["predictions_path"])
    kept = pd.read_parquet(Path(result["quarantine_path"]) / "data.parquet")
    assert sorted([*scored[ID_COLUMN], *kept[ID_COLUMN]]) == sorted(batch[ID_COLUMN])
