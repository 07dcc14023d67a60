"""``mlops-guard validate`` and ``mlops-guard expectations init``, in-process and as a process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_guard.data import write_table
from mlops_guard.demo import Corruption, SyntheticSpec, make_dataset
from mlops_guard.validation import load_suite


def test_validate_clean_batch_exit_0(tmp_path: Path, workdir: Path, run_cli: Any) -> None:
    path = write_table(make_dataset(rows=1_000, seed=40), tmp_path / "ok.parquet")
    run = run_cli("validate", str(path), "--suite", "churn", "--json")
    assert run.code == 0
    assert run.err == ""
    doc = json.loads(run.out)
    assert doc == {
        **doc,
        "success": True,
        "suite": "churn",
        "rows": 1000,
        "failed": [],
        "quarantined": None,
    }
    assert not (workdir / "quarantine").exists()
    text = run_cli("validate", str(path), "--suite", "churn")
    assert text.code == 0
    assert "passed on 1000 rows" in text.out


def test_optional_column_lets_a_scoring_batch_lack_the_label(
    tmp_path: Path, workdir: Path, run_cli: Any
) -> None:
    batch = make_dataset(rows=800, seed=42).drop(columns=["churned"])
    path = write_table(batch, tmp_path / "scoring.parquet")
    strict = run_cli("validate", str(path), "--suite", "churn", "--json")
    assert strict.code == 1  # the training suite expects the label
    assert any(f["detail"] and "churned" in f["detail"] for f in json.loads(strict.out)["failed"])
    run = run_cli(
        "validate", str(path), "--suite", "churn", "--optional-column", "churned", "--json"
    )
    assert run.code == 0
    assert json.loads(run.out)["success"] is True


def test_validate_failed_batch_exit_1_quarantined_in_workdir(
    tmp_path: Path, workdir: Path, run_cli: Any
) -> None:
    spec = SyntheticSpec(
        rows=2_000,
        seed=41,
        corruption=Corruption(unseen_category_rate=0.01, unseen_category_columns=("region",)),
    )
    path = write_table(make_dataset(spec), tmp_path / "bad.csv")
    run = run_cli("validate", str(path), "--suite", "churn", "--json")
    assert run.code == 1
    doc = json.loads(run.out)  # exactly one JSON document on stdout
    [failed] = doc["failed"]
    assert failed["expectation"] == "expect_column_values_to_be_in_set"
    assert failed["column"] == "region"
    assert failed["unexpected_count"] > 0
    assert failed["unexpected_examples"][0] == "unseen-region"
    assert Path(doc["quarantined"]).parent == workdir / "quarantine"
    text = run_cli("validate", str(path), "--suite", "churn")
    assert text.code == 1
    assert "FAILED" in text.out
    assert "region" in text.out


def test_expectations_init_then_validate(tmp_path: Path, workdir: Path, run_cli: Any) -> None:
    reference = write_table(make_dataset(rows=5_000, seed=42), tmp_path / "ref.csv")
    out = tmp_path / "suites"
    run = run_cli(
        "expectations", "init", str(reference), "--name", "mine", "--out", str(out), "--json"
    )
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["path"] == str(out / "mine.json")
    assert doc["rows"] == 5_000
    suite = load_suite(out / "mine.json")
    assert len(suite.expectations) == doc["expectations"] > 30
    again = run_cli("expectations", "init", str(reference), "--name", "mine", "--out", str(out))
    assert again.code == 2
    assert "--force" in again.err
    forced = run_cli(
        "expectations", "init", str(reference), "--name", "mine", "--out", str(out), "--force"
    )
    assert forced.code == 0
    assert "mine" in forced.out
    fresh = write_table(make_dataset(rows=1_000, seed=43), tmp_path / "fresh.csv")
    assert run_cli("validate", str(fresh), "--suite", str(out / "mine.json")).code == 0


def test_init_default_out_is_the_expectations_dir(
    tmp_path: Path, workdir: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_GUARD_VALIDATION_EXPECTATIONS_DIR", str(tmp_path / "exp"))
    reference = write_table(make_dataset(rows=500, seed=44), tmp_path / "ref.parquet")
    assert run_cli("expectations", "init", str(reference), "--name", "byname").code == 0
    batch = write_table(make_dataset(rows=300, seed=45), tmp_path / "b.parquet")
    assert run_cli("validate", str(batch), "--suite", "byname").code == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["validate"],
        ["validate", "x.csv"],
        ["expectations", "init", "x.csv"],
        ["expectations"],
    ],
)
def test_usage_errors_are_one_line_exit_2(argv: list[str], run_cli: Any) -> None:
    run = run_cli(*argv)
    assert run.code == 2
    assert len(run.err.splitlines()) == 1
    assert "Traceback" not in run.err


def test_init_with_bad_name_is_exit_2(tmp_path: Path, workdir: Path, run_cli: Any) -> None:
    reference = write_table(make_dataset(rows=50, seed=46), tmp_path / "ref.csv")
    run = run_cli("expectations", "init", str(reference), "--name", "a/b", "--out", str(tmp_path))
    assert run.code == 2
    assert "a/b" in run.err


def test_failed_validation_as_a_process(tmp_path: Path, workdir: Path) -> None:
    df = make_dataset(rows=500, seed=47)
    df.loc[df.index[3], "age"] = None
    path = write_table(df, tmp_path / "bad.parquet")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_guard.cli",
            "validate",
            str(path),
            "--suite",
            "churn",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["failed"][0]["unexpected_rows"] == [3]
    kept = pd.read_parquet(Path(doc["quarantined"]) / "data.parquet")
    assert len(kept) == 500


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from mlops_guard.validation import _cli; import mlops_guard.validation; "
        "heavy = [m for m in ('pandas', 'great_expectations', 'numpy', 'pyarrow') "
        "if m in sys.modules]; print(heavy)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]"


def _with_nested(path: Path, kind: str, rows: int = 400) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(make_dataset(rows=rows, seed=44), preserve_index=False)
    arrays = {
        "list": pa.array([[i, i * 2] for i in range(rows)], pa.list_(pa.int64())),
        "struct": pa.array([{"a": i, "b": [float(i)]} for i in range(rows)]),
        "map": pa.array([[("k", i)] for i in range(rows)], pa.map_(pa.string(), pa.int64())),
    }
    if kind == "struct in a suite column":
        index = table.column_names.index("region")
        table = table.set_column(index, "region", arrays["struct"])
    else:
        table = table.append_column(f"extra_{kind}", arrays[kind])
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("kind", ["list", "struct", "map", "struct in a suite column"])
def test_nested_parquet_columns_fail_and_are_quarantined(
    tmp_path: Path, workdir: Path, run_cli: Any, kind: str
) -> None:
    path = _with_nested(tmp_path / "nested.parquet", kind)
    run = run_cli("validate", str(path), "--suite", "churn", "--json")
    assert run.code == 1, run.err
    doc = json.loads(run.out)
    assert doc["success"] is False
    entry = Path(doc["quarantined"])
    assert entry.parent == workdir / "quarantine"
    assert len(pd.read_parquet(entry / "data.parquet")) == 400
    assert json.loads((entry / "manifest.json").read_text())["rows"] == 400
    failed = {(f["expectation"], f["column"]) for f in doc["failed"]}
    if kind == "struct in a suite column":
        assert ("expect_column_values_to_be_in_type_list", "region") in failed
    else:
        assert ("expect_table_columns_to_match_set", None) in failed
    text = run_cli("validate", str(path), "--suite", "churn")
    assert text.code == 1
    assert "FAILED on 400 rows" in text.out
