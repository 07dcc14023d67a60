"""The bad-input corpus: every case is a validation failure with quarantine, or exit 2 with one
line on stderr; never a traceback, never a lost batch.

Each case builds its file in a temporary directory and runs ``mlops-guard validate`` in-process;
a few run as a real subprocess too.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_guard.data import read_table, write_table
from mlops_guard.demo import make_dataset

Builder = Callable[[Path], tuple[Path, list[str]]]


def _good(rows: int = 400) -> pd.DataFrame:
    return make_dataset(rows=rows, seed=31)


def _csv(path: Path, df: pd.DataFrame) -> Path:
    df.to_csv(path, index=False)
    return path


def empty_file(d: Path) -> tuple[Path, list[str]]:
    path = d / "empty.csv"
    path.write_bytes(b"")
    return path, []


def header_only(d: Path) -> tuple[Path, list[str]]:
    path = d / "header.csv"
    path.write_text(",".join(_good().columns) + "\n")
    return path, []


def missing_column(d: Path) -> tuple[Path, list[str]]:
    return _csv(d / "missing.csv", _good().drop(columns=["tenure_months"])), [
        "expect_table_columns_to_match_set",
        "expect_column_values_to_not_be_null(tenure_months)",
    ]


def extra_column(d: Path) -> tuple[Path, list[str]]:
    df = _good()
    df["surprise"] = 1
    return _csv(d / "extra.csv", df), ["expect_table_columns_to_match_set"]


def wrong_dtype(d: Path) -> tuple[Path, list[str]]:
    df = _good().astype({"logins_30d": object})
    df.loc[df.index[3], "logins_30d"] = "many"
    return _csv(d / "dtype.csv", df), ["expect_column_values_to_be_in_type_list(logins_30d)"]


def all_null_column(d: Path) -> tuple[Path, list[str]]:
    df = _good()
    df["monthly_charges"] = np.nan
    return _csv(d / "allnull.csv", df), ["expect_column_values_to_not_be_null(monthly_charges)"]


def infinities(d: Path) -> tuple[Path, list[str]]:
    df = _good()
    df.loc[df.index[[2, 8]], "data_usage_gb"] = [np.inf, -np.inf]
    return _csv(d / "inf.csv", df), ["expect_column_values_to_be_between(data_usage_gb)"]


def nan_in_not_null(d: Path) -> tuple[Path, list[str]]:
    df = _good()
    df.loc[df.index[11], "age"] = np.nan
    return write_table(df, d / "nan.parquet"), ["expect_column_values_to_not_be_null(age)"]


def unseen_category(d: Path) -> tuple[Path, list[str]]:
    df = _good()
    df.loc[df.index[0], "contract"] = "ten-year"
    return _csv(d / "unseen.csv", df), ["expect_column_values_to_be_in_set(contract)"]


def out_of_range(d: Path) -> tuple[Path, list[str]]:
    df = _good()
    df.loc[df.index[5], "age"] = -4
    return write_table(df, d / "range.csv.gz"), ["expect_column_values_to_be_between(age)"]


def duplicate_columns(d: Path) -> tuple[Path, list[str]]:
    path = d / "dup.csv"
    path.write_text("customer_id,age,age\nC1,30,31\n")
    return path, []


def undecodable_bytes(d: Path) -> tuple[Path, list[str]]:
    path = d / "latin1.csv"
    path.write_bytes(b"customer_id,region\nC1,r\xe9gion\xff\xfe\n")
    return path, []


def undecodable_header(d: Path) -> tuple[Path, list[str]]:
    path = d / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00\x01garbage\n")
    return path, []


def truncated_gzip(d: Path) -> tuple[Path, list[str]]:
    whole = gzip.compress(_good(3000).to_csv(index=False).encode())
    path = d / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    return path, []


def parquet_other_schema(d: Path) -> tuple[Path, list[str]]:
    df = pd.DataFrame({"order_id": [1, 2, 3], "amount": [9.5, 3.0, 1.25]})
    return write_table(df, d / "orders.parquet"), ["expect_table_columns_to_match_set"]


def parquet_garbage(d: Path) -> tuple[Path, list[str]]:
    path = d / "fake.parquet"
    path.write_bytes(b"PAR1 this is not parquet at all")
    return path, []


def directory(d: Path) -> tuple[Path, list[str]]:
    path = d / "adir.csv"
    path.mkdir()
    return path, []


def not_existing(d: Path) -> tuple[Path, list[str]]:
    return d / "nowhere.csv", []


def unknown_extension(d: Path) -> tuple[Path, list[str]]:
    path = d / "data.xlsx"
    path.write_bytes(b"PK\x03\x04")
    return path, []


def duplicated_ids(d: Path) -> tuple[Path, list[str]]:
    df = _good()
    df.loc[df.index[1], "customer_id"] = df["customer_id"].iloc[0]
    return _csv(d / "dupids.csv", df), ["expect_column_values_to_be_unique(customer_id)"]


CASES: dict[str, tuple[Builder, int]] = {
    "empty file": (empty_file, 2),
    "header only": (header_only, 2),
    "missing column": (missing_column, 1),
    "extra column": (extra_column, 1),
    "wrong dtype": (wrong_dtype, 1),
    "all-null column": (all_null_column, 1),
    "infinities": (infinities, 1),
    "NaN where not-null": (nan_in_not_null, 1),
    "unseen category": (unseen_category, 1),
    "out of range (csv.gz)": (out_of_range, 1),
    "duplicate column names": (duplicate_columns, 2),
    "undecodable bytes in a row": (undecodable_bytes, 2),
    "undecodable header": (undecodable_header, 2),
    "truncated gzip": (truncated_gzip, 2),
    "parquet with another schema": (parquet_other_schema, 1),
    "parquet that is not parquet": (parquet_garbage, 2),
    "directory instead of a file": (directory, 2),
    "path that does not exist": (not_existing, 2),
    "unknown extension": (unknown_extension, 2),
    "duplicated ids": (duplicated_ids, 1),
}


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def test_the_corpus_covers_the_issue_list() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case: str, tmp_path: Path, workdir: Path, run_cli: Callable[..., Any]) -> None:
    build, expected_code = CASES[case]
    data_dir = tmp_path / "in"
    data_dir.mkdir()
    path, expected_failures = build(data_dir)
    before = _digest(path)
    qdir = tmp_path / "q"
    run = run_cli(
        "validate", str(path), "--suite", "churn", "--quarantine-dir", str(qdir), "--json"
    )
    assert run.code == expected_code, run.err
    assert "Traceback" not in run.err
    assert _digest(path) == before  # the input is never touched
    if expected_code == 2:
        # With --json, the error as a document on stdout too, the same as the stderr line.
        error = json.loads(run.out)["error"]
        assert error["kind"]
        assert path.name in error["message"]
        lines = run.err.splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("mlops-guard: error: ")
        assert path.name in lines[0]
        assert not qdir.exists()
        return
    doc = json.loads(run.out)
    assert doc["success"] is False
    labels = [
        f"{f['expectation']}({f['column']})" if f["column"] else f["expectation"]
        for f in doc["failed"]
    ]
    assert set(expected_failures) <= set(labels), labels
    entry = Path(doc["quarantined"])
    assert entry.parent == qdir
    manifest = json.loads((entry / "manifest.json").read_text())
    source = read_table(path)
    assert manifest["rows"] == doc["rows"] == len(source)
    assert manifest["source"] == str(path)
    kept = pd.read_parquet(entry / manifest["data"])
    assert list(kept.columns) == list(source.columns)
    assert len(kept) == len(source)


def test_unknown_suite_name_is_exit_2(tmp_path: Path, workdir: Path, run_cli: Any) -> None:
    path = write_table(_good(), tmp_path / "ok.csv")
    run = run_cli("validate", str(path), "--suite", "no_such_suite")
    assert run.code == 2
    assert len(run.err.splitlines()) == 1
    assert "no_such_suite" in run.err
    assert "Traceback" not in run.err


def test_suite_file_that_is_not_json_is_exit_2(tmp_path: Path, workdir: Path, run_cli: Any) -> None:
    path = write_table(_good(), tmp_path / "ok.csv")
    suite = tmp_path / "broken.json"
    suite.write_text("{")
    run = run_cli("validate", str(path), "--suite", str(suite))
    assert run.code == 2
    assert "broken.json" in run.err
    assert len(run.err.splitlines()) == 1


def test_quarantine_dir_that_is_a_file_is_exit_2_and_the_batch_stays(
    tmp_path: Path, workdir: Path, run_cli: Any
) -> None:
    path, _ = unseen_category(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    before = _digest(path)
    run = run_cli("validate", str(path), "--suite", "churn", "--quarantine-dir", str(blocker))
    assert run.code == 2
    assert "blocker" in run.err
    assert len(run.err.splitlines()) == 1
    assert _digest(path) == before


MLOPS_GUARD = shutil.which("mlops-guard") or str(Path(sys.executable).parent / "mlops-guard")


@pytest.mark.parametrize(
    "case", ["path that does not exist", "truncated gzip", "duplicate column names"]
)
def test_bad_input_in_a_real_process(case: str, tmp_path: Path, workdir: Path) -> None:
    build, expected_code = CASES[case]
    path, _ = build(tmp_path)
    proc = subprocess.run(
        [MLOPS_GUARD, "validate", str(path), "--suite", "churn"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == expected_code == 2
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
