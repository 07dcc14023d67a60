"""The pipeline commands: demo, train, score, data make; bad input exits 2 with one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlops_guard.cli import main
from mlops_guard.data import write_table
from mlops_guard.demo import LABEL, make_dataset


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("mlops-guard: error: ")
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.usefixtures("prefect_server")
def test_demo_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workdir = tmp_path / "demo"
    assert main(["demo", "--workdir", str(workdir), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    statuses = {s["name"]: s["status"] for s in summary["stages"]}
    detail = {s["name"]: s["detail"] for s in summary["stages"]}
    # The checks caught what the story plants, and nothing else.
    caught = {name for name, status in statuses.items() if status == "problem-found"}
    assert caught == {
        "score corrupted batch",
        "drift check: drifted batch",
        "canary: v2 against champion v1",
    }
    assert set(statuses.values()) == {"ok", "problem-found"}
    assert detail["score corrupted batch"]["rows_quarantined"] > 0
    assert Path(detail["score corrupted batch"]["quarantine"]).is_dir()
    assert detail["drift check: clean batch"]["dataset_drift"] is False
    assert detail["drift check: drifted batch"]["dataset_drift"] is True
    assert Path(detail["drift check: drifted batch"]["html"]).is_file()
    assert detail["canary: v2 against champion v1"]["decision"] == "failed"

    # v2 lost its canary, v3 was promoted by hand, the alert rolled it back to v1.
    assert summary["champion_version"] == "1"
    assert summary["challenger_version"] is None
    assert [(v["version"], v["aliases"]) for v in summary["versions"]] == [
        ("1", ["champion"]),
        ("2", []),
        ("3", []),
    ]
    champion_moves = [
        (e["from_version"], e["to_version"], e["actor"])
        for e in summary["alias_history"]
        if e["alias"] == "champion"
    ]
    assert champion_moves == [
        (None, "1", "training"),
        ("1", "3", "demo-operator"),
        ("3", "1", "alertmanager"),
    ]
    alert_fingerprint = detail["alert fires: receiver rolls the champion back"]["alert_fingerprint"]
    assert alert_fingerprint
    assert summary["alias_history"][-1]["alert_fingerprint"] == alert_fingerprint

    assert Path(summary["artifacts"]["run_log"]).is_file()
    # One textfile per flow: the drift check's run did not erase the inference's series.
    metrics_files = {p.name for p in Path(summary["artifacts"]["metrics_dir"]).glob("*.prom")}
    assert {"mlops_guard-mlops-guard-inference.prom", "mlops_guard-drift_check.prom"} <= (
        metrics_files
    )
    scored = sorted(Path(summary["artifacts"]["predictions_dir"]).rglob("*.parquet"))
    drifted = pd.read_parquet(next(p for p in scored if "drifted" in p.name))
    clean = pd.read_parquet(next(p for p in scored if "clean-1" in p.name))
    # The drifted batch moved the model's output, which the drift check saw as prediction drift
    # (reported apart: a model output is not a column of the data set).
    assert abs(drifted["score"].mean() - clean["score"].mean()) > 0.1
    assert detail["drift check: drifted batch"]["prediction_drift"] is True
    assert "score" in detail["drift check: drifted batch"]["drifted_outputs"]
    assert "score" not in detail["drift check: drifted batch"]["drifted"]


def test_demo_refuses_a_used_workdir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "something").write_text("x")
    assert main(["demo", "--workdir", str(tmp_path)]) == 2
    assert "is not empty" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("command", ["train", "score"])
def test_bad_data_paths_exit_2(
    command: str, tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header_only = tmp_path / "header.csv"
    header_only.write_text("age,region\n")
    odd = tmp_path / "data.xlsx"
    odd.write_text("x")
    for path, expected in [
        (tmp_path / "missing.csv", "does not exist"),
        (tmp_path, "is a directory"),
        (odd, "extension"),
    ]:
        assert main([command, str(path)]) == 2
        assert expected in _one_error_line(capsys.readouterr().err)
    if command == "train":
        # Header but no rows: read by the flow, still exit 2 and one line.
        assert main([command, str(header_only)]) == 2
        assert "no rows" in _one_error_line(capsys.readouterr().err)


@pytest.mark.usefixtures("prefect_server")
def test_train_then_score_json(
    tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = write_table(make_dataset(rows=3_000, seed=1), tmp_path / "train.csv.gz")
    batch = write_table(make_dataset(rows=500, seed=2).drop(columns=[LABEL]), tmp_path / "b.csv")
    assert main(["train", str(train), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert (trained["version"], trained["alias"]) == ("1", "champion")
    assert main(["train", str(batch)]) == 2  # a scoring batch has no label
    assert "churned" in _one_error_line(capsys.readouterr().err)
    assert main(["score", str(batch), "--batch-id", "b1", "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["model_version"] == "1"
    assert scored["rows_scored"] == 500
    assert pd.read_parquet(scored["predictions_path"])["batch_id"].eq("b1").all()


def test_data_make(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "batch.parquet"
    args = ["data", "make", str(out), "--rows", "400", "--seed", "3", "--drift", "age=1.0"]
    assert main([*args, "--corrupt", "nulls:0.25:region", "--no-label"]) == 0
    df = pd.read_parquet(out)
    assert len(df) == 400
    assert LABEL not in df.columns
    assert 0.15 < df["region"].isna().mean() < 0.35
    capsys.readouterr()
    for bad, expected in [
        (["--drift", "nope=1"], "unknown column"),
        (["--drift", "age"], "COLUMN=SHIFT"),
        (["--corrupt", "nulls:2:age"], "must be in [0, 1]"),
        (["--corrupt", "melt:0.1:age"], "KIND"),
        (["--rows", "-5"], "must be at least 1"),
    ]:
        assert main(["data", "make", str(tmp_path / "x.csv"), *bad]) == 2
        assert expected in _one_error_line(capsys.readouterr().err)


def test_installed_command_never_prints_a_traceback(tmp_path: Path) -> None:
    exe = shutil.which("mlops-guard") or str(Path(sys.executable).parent / "mlops-guard")
    for args in (
        ["train", str(tmp_path / "nope.parquet")],
        ["score"],
        ["no-such-command"],
        ["data", "make", str(tmp_path / "x.csv"), "--rows", "many"],
    ):
        done = subprocess.run(
            [exe, *args], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 2, (args, done.stderr)
        _one_error_line(done.stderr)
        assert done.stdout == ""
