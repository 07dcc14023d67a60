"""Reading data files: every bad file gets a typed error with a one-line message naming it."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from mlops_guard.data import fingerprint, iter_batches, read_table, write_table
from mlops_guard.demo import make_dataset
from mlops_guard.errors import DataNotFound, EmptyData, SchemaError, UnreadableData


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    df = make_dataset(rows=300, seed=3)
    path = write_table(df, tmp_path / f"d{suffix}")
    back = read_table(path)
    assert list(back.columns) == list(df.columns)
    assert len(back) == 300
    pd.testing.assert_series_equal(back["monthly_charges"], df["monthly_charges"])
    assert not list(tmp_path.glob(".*tmp*")), "the atomic write left its temp file"


def _bad_files(tmp: Path) -> dict[str, tuple[Path, type[Exception]]]:
    good = tmp / "good.csv"
    good.write_text("a,b\n" + "".join(f"{i},x{i}\n" for i in range(50_000)))
    raw = gzip.compress(good.read_bytes())
    cases = {
        "missing": (tmp / "nope.csv", DataNotFound),
        "directory": (tmp, DataNotFound),
        "empty": (tmp / "empty.csv", EmptyData),
        "header only": (tmp / "header.csv", EmptyData),
        "duplicate columns": (tmp / "dup.csv", SchemaError),
        "undecodable bytes": (tmp / "latin1.csv", UnreadableData),
        "truncated gzip": (tmp / "cut.csv.gz", UnreadableData),
        "not parquet": (tmp / "fake.parquet", UnreadableData),
        "unknown extension": (tmp / "data.xlsx", UnreadableData),
        "ragged rows": (tmp / "ragged.csv", UnreadableData),
    }
    (tmp / "empty.csv").write_bytes(b"")
    (tmp / "header.csv").write_text("a,b\n")
    (tmp / "dup.csv").write_text("a,a\n1,2\n")
    (tmp / "latin1.csv").write_bytes("a,b\n1,caf\xe9\n".encode("latin-1"))
    (tmp / "cut.csv.gz").write_bytes(raw[: len(raw) // 2])
    (tmp / "fake.parquet").write_text("not parquet at all")
    (tmp / "data.xlsx").write_text("x")
    (tmp / "ragged.csv").write_text("a,b\n1,2\n3,4,5\n")
    return cases


def test_bad_files_get_typed_one_line_errors(tmp_path: Path) -> None:
    for name, (path, expected) in _bad_files(tmp_path).items():
        with pytest.raises(expected) as caught:
            read_table(path)
        message = str(caught.value)
        assert "\n" not in message, name
        assert str(path.name) in message or str(path) in message, (name, message)


def test_iter_batches_streams_with_bounded_batches(tmp_path: Path) -> None:
    df = make_dataset(rows=2_500, seed=1)
    for suffix in (".csv", ".parquet"):
        path = write_table(df, tmp_path / f"d{suffix}")
        batches = list(iter_batches(path, batch_rows=1_000, columns=["age", "region"]))
        assert sum(b.num_rows for b in batches) == 2_500
        assert all(b.schema.names == ["age", "region"] for b in batches)
        if suffix == ".parquet":
            assert max(b.num_rows for b in batches) <= 1_000


def test_fingerprint_tracks_content() -> None:
    df = make_dataset(rows=1_000, seed=5)
    assert fingerprint(df) == fingerprint(df.copy())
    changed = df.copy()
    changed.loc[10, "age"] += 1
    assert fingerprint(changed) != fingerprint(df)
    assert fingerprint(df[df.columns[::-1]]) != fingerprint(df)
